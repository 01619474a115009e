//! Operator actions from the pages without JavaScript: a form posted to
//! `/actions/{name}` (propose, vote, withdraw, domains) with the operator token as a field is
//! turned into the JSON request of the operator endpoint (`/v1/operator/{name}`)
//! and sent through that endpoint's own router, so the action, its checks and its
//! messages are exactly the API's; the answer is shown as a page. (With JavaScript
//! the pages post JSON to `/v1/operator/...` directly.)

use super::layout::{Header, page};
use super::{Dash, PageError, PageResult};
use crate::api;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Form, Path, State};
use axum::http::{Request, StatusCode, header};
use axum::response::Html;
use maud::html;
use serde_json::{Map, Value};
use tower::ServiceExt;

/// The actions a page offers, and where to go back to.
const ACTIONS: &[&str] = &["propose", "vote", "withdraw", "domains"];

/// Fields a form may repeat (checkboxes), sent as JSON arrays.
const LIST_FIELDS: &[&str] = &["member_nodes", "shared_clauses"];

/// The JSON body of the operator request from a form's fields: empty fields are left
/// out, `target` (`contract:clause`) becomes `contract_id` and `clause`,
/// `voting_period_secs` is a number, `diff` (the rules patch) is JSON, and the
/// [`LIST_FIELDS`] are arrays.
pub(crate) fn request_body(fields: &[(String, String)]) -> Result<Value, ApiError> {
    let mut body = Map::new();
    for k in LIST_FIELDS {
        if fields.iter().any(|(f, _)| f == k) {
            body.insert((*k).to_owned(), Value::Array(Vec::new()));
        }
    }
    for (k, v) in fields {
        if v.is_empty() || k == "token" {
            continue;
        }
        match k.as_str() {
            k if LIST_FIELDS.contains(&k) => {
                if let Some(Value::Array(a)) = body.get_mut(k) {
                    a.push(Value::String(v.clone()));
                }
            }
            "target" => {
                let (contract, clause) = v.split_once(':').ok_or_else(|| {
                    ApiError::bad_request(
                        "bad_form",
                        format!("target {v:?} is not contract:clause"),
                    )
                })?;
                body.insert("contract_id".into(), Value::String(contract.into()));
                body.insert("clause".into(), Value::String(clause.into()));
            }
            // The rules patch goes to the endpoint as JSON, which checks it and
            // answers in its own words; only text that is no JSON stops here.
            "diff" => {
                let patch: Value = serde_json::from_str(v).map_err(|e| {
                    ApiError::bad_request("bad_form", format!("the rules patch is not JSON: {e}"))
                })?;
                body.insert(k.clone(), patch);
            }
            "voting_period_secs" => {
                let n: u64 = v.parse().map_err(|_| {
                    ApiError::bad_request(
                        "bad_form",
                        format!("the voting period {v:?} is not a whole number of seconds"),
                    )
                })?;
                body.insert(k.clone(), Value::from(n));
            }
            _ => {
                body.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    Ok(Value::Object(body))
}

pub(super) async fn act(
    State(d): State<Dash>,
    Path(name): Path<String>,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    if !ACTIONS.contains(&name.as_str()) {
        return Err(PageError::from(ApiError::not_found(format!(
            "no action {name:?}: the dashboard's forms propose, vote, withdraw and define domains"
        ))));
    }
    let Form(fields) = form.map_err(|r| {
        // An over-limit body is 413 like everywhere else; the rest is a bad form.
        let e = if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(r.status(), "body_too_large", r.body_text())
        } else {
            ApiError::bad_request("bad_form", r.body_text())
        };
        PageError::from(e)
    })?;
    let body = request_body(&fields)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let token = field("token").unwrap_or("");
    let req = Request::builder()
        .method("POST")
        .uri(format!("/v1/operator/{name}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .map_err(ApiError::internal)?;
    let resp = crate::operator::routes(d.shared.clone())
        .oneshot(req)
        .await
        .map_err(ApiError::internal)?;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), crate::MAX_BODY_BYTES)
        .await
        .map_err(ApiError::internal)?;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let head = api::status_view(&d.shared).await;
    let back = match (
        answer["proposal_id"].as_str().or(field("proposal_id")),
        answer["domain_id"].as_str(),
    ) {
        (Some(p), _) => format!("/proposals/{p}"),
        (None, Some(d)) => format!("/domains/{d}"),
        (None, None) if name == "domains" => "/domains".to_owned(),
        (None, None) => "/proposals".to_owned(),
    };
    let ok = status.is_success();
    let body = html! {
        @if ok {
            p.alert.ok-alert role="status" {
                "Done: log entry #" (answer["index"]) " (" (answer["kind"].as_str().unwrap_or("")) ")."
            }
        } @else {
            p.error-message role="alert" {
                "Refused (" (status.as_u16()) " " (answer["error"]["code"].as_str().unwrap_or("")) "): "
                (answer["error"]["message"].as_str().unwrap_or("the node gave no message"))
            }
        }
        p { a href=(back) { "Back" } }
    };
    let h = Header {
        mesh_name: head["mesh_name"].as_str().unwrap_or("mesh"),
        node_id: head["node_id"].as_str().unwrap_or(""),
        node_type: head["node_type"].as_str().unwrap_or(""),
    };
    let title = if ok { "Action done" } else { "Action refused" };
    let current = if name == "domains" {
        "/domains"
    } else {
        "/proposals"
    };
    let html = page(&h, title, current, body).into_string();
    if ok {
        Ok(Html(html))
    } else {
        Err(PageError::Rendered(
            StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_REQUEST),
            html,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_form_becomes_the_operator_request() {
        let b = request_body(&fields(&[
            ("target", "codex:11.1"),
            ("proposed_text", "t"),
            ("domain_id", ""),
            ("voting_period_secs", "60"),
            ("token", "secret"),
        ]))
        .unwrap();
        assert_eq!(
            b,
            serde_json::json!({"contract_id": "codex", "clause": "11.1", "proposed_text": "t", "voting_period_secs": 60})
        );
        let b = request_body(&fields(&[
            ("name", "ops"),
            ("member_nodes", "a"),
            ("member_nodes", "b"),
            ("shared_clauses", ""),
        ]))
        .unwrap();
        assert_eq!(
            b,
            serde_json::json!({"name": "ops", "member_nodes": ["a", "b"], "shared_clauses": []})
        );
        let b = request_body(&fields(&[(
            "diff",
            r#"[{"op": "replace", "path": "/rules/x", "value": 2}]"#,
        )]))
        .unwrap();
        assert_eq!(
            b,
            serde_json::json!({"diff": [{"op": "replace", "path": "/rules/x", "value": 2}]})
        );
        let e = request_body(&fields(&[("diff", "[{op: replace}]")])).unwrap_err();
        assert!(
            e.message.contains("the rules patch is not JSON"),
            "{}",
            e.message
        );
        let e = request_body(&fields(&[("voting_period_secs", "soon")])).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("soon"), "{}", e.message);
        assert!(request_body(&fields(&[("target", "codex")])).is_err());
    }
}
