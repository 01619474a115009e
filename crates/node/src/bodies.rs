//! The request bodies of every POST endpoint, decoded exactly as its handler decodes
//! them (the handlers call these functions), and [`decode`], which runs the decoding
//! of any one endpoint on given bytes: what the `http_bodies` fuzz target
//! (fuzz/fuzz_targets/http_bodies.rs) feeds every parser a client or peer reaches.
//! Authentication (peer headers, the operator token) and the state machine come
//! before and after; neither is here.

use crate::error::ApiError;
use crate::wire;
use axum::http::StatusCode;
use govmesh_core::canonical::parse_strict;
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::DomainSpec;
use govmesh_core::state::State;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A strict JSON body (RFC 7493 I-JSON: no duplicate keys, no unsafe integers) of
/// type `T`: 400 `malformed_json` when it is not, 422 `invalid_body` when it is JSON of
/// the wrong shape. The client API's bodies ([`crate::extract::ApiJson`]).
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value =
        parse_strict(bytes).map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::unprocessable("invalid_body", e.to_string()))
}

/// A Raft request body between hubs (`/v1/council/{append,vote,snapshot}`): 422
/// `invalid_body` unless it is the JSON of `T`.
pub fn raft<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::unprocessable("invalid_body", format!("not a Raft request: {e}")))
}

/// `POST /v1/council/forward`: at most [`crate::council::FORWARD_MAX_ENTRIES`]
/// envelopes (413 `too_many_entries` beyond).
pub fn forward_limit(envelopes: &[Envelope]) -> Result<(), ApiError> {
    if envelopes.len() > crate::council::FORWARD_MAX_ENTRIES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_entries",
            format!(
                "{} entries forwarded at once; at most {} are taken",
                envelopes.len(),
                crate::council::FORWARD_MAX_ENTRIES
            ),
        ));
    }
    Ok(())
}

/// `POST /v1/operator/domains`: the domain, with a fresh id when the body names none.
pub fn domain_spec(mut req: Map<String, Value>) -> Result<DomainSpec, ApiError> {
    if !req.contains_key("domain_id") {
        req.insert(
            "domain_id".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
    }
    serde_json::from_value(Value::Object(req))
        .map_err(|e| ApiError::unprocessable("invalid_body", e.to_string()))
}

/// `POST /v1/operator/propose`: the request's changes (seed-form or RFC 6902 ops) in
/// the seed's diff form.
pub fn diff(values: Vec<Value>) -> Result<Vec<govmesh_core::model::DiffOp>, ApiError> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| wire::diff_op(i, v))
        .collect()
}

/// A text body (`/v1/witness/add-checkpoint`, `/v1/replication/announce`): 400 `code`
/// unless it is UTF-8.
pub fn text<'a>(bytes: &'a [u8], code: &str, what: &str) -> Result<&'a str, ApiError> {
    std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request(code, format!("{what} is not UTF-8 text")))
}

/// `POST /actions/{name}`: the dashboard's form, as the JSON request of the operator
/// endpoint it is sent to.
pub fn action_form(bytes: &[u8]) -> Result<Value, ApiError> {
    use futures_util::FutureExt as _;
    let req = axum::http::Request::builder()
        .method("POST")
        .header(
            axum::http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(axum::body::Body::from(bytes.to_vec()))
        .map_err(ApiError::internal)?;
    type FormFields = axum::extract::Form<Vec<(String, String)>>;
    let form = <FormFields as axum::extract::FromRequest<()>>::from_request(req, &())
        .now_or_never()
        .ok_or_else(|| ApiError::internal("a form over a full body was not read at once"))?;
    let axum::extract::Form(fields) =
        form.map_err(|r| ApiError::bad_request("bad_form", r.body_text()))?;
    crate::dashboard::request_body(&fields)
}

/// Every POST endpoint whose body [`decode`] reads.
pub const POST_ENDPOINTS: &[&str] = &[
    "/v1/entries",
    "/v1/operator/propose",
    "/v1/operator/vote",
    "/v1/operator/withdraw",
    "/v1/operator/delegate",
    "/v1/operator/undelegate",
    "/v1/operator/cancel",
    "/v1/operator/restore",
    "/v1/operator/nodes",
    "/v1/operator/domains",
    "/v1/operator/contracts",
    "/v1/council/append",
    "/v1/council/vote",
    "/v1/council/snapshot",
    "/v1/council/forward",
    "/v1/replication/announce",
    "/v1/witness/add-checkpoint",
    "/actions/{name}",
];

/// Decodes `body` as the handler of POST `endpoint` does, up to what it needs the
/// log for: the announced seal is verified against `state` (as the announce handler
/// does with its ledger's), the add-checkpoint request parsed and its checkpoint note
/// read. An operator body's domain definition and a proposal's changes are converted
/// as their handlers convert them. The error is the handler's answer.
pub fn decode(endpoint: &str, body: &[u8], state: &State) -> Result<(), ApiError> {
    use govmesh_core::checkpoint::SignedNote;
    match endpoint {
        "/v1/entries" => json::<Envelope>(body).map(drop),
        "/v1/operator/propose" => json::<wire::ProposeRequest>(body)
            .and_then(|req| diff(req.diff))
            .map(drop),
        "/v1/operator/vote" => json::<wire::VoteRequest>(body).map(drop),
        "/v1/operator/withdraw" => json::<wire::WithdrawRequest>(body).map(drop),
        "/v1/operator/delegate" => json::<wire::DelegateRequest>(body).map(drop),
        "/v1/operator/undelegate" => json::<wire::UndelegateRequest>(body).map(drop),
        "/v1/operator/cancel" => json::<wire::CancelRequest>(body).map(drop),
        "/v1/operator/restore" => json::<wire::RestoreRequest>(body).map(drop),
        "/v1/operator/nodes" => json::<wire::RegisterNodeRequest>(body).map(drop),
        "/v1/operator/domains" => json::<Map<String, Value>>(body)
            .and_then(domain_spec)
            .map(drop),
        "/v1/operator/contracts" => json::<wire::CreateContractRequest>(body)
            .and_then(|req| crate::operator::create_contract_op(state, req))
            .map(drop),
        "/v1/council/append" | "/v1/council/vote" | "/v1/council/snapshot" => {
            crate::council::decode_raft_request(endpoint, body)
        }
        "/v1/council/forward" => raft::<Vec<Envelope>>(body).and_then(|e| forward_limit(&e)),
        "/v1/replication/announce" => {
            let t = text(body, "bad_seal", "the announced seal")?;
            match crate::replicate::verify_head(t, state) {
                Err(crate::replicate::HeadError::False(why)) => Err(ApiError::unprocessable(
                    "bad_seal",
                    format!("the announced seal: {why}"),
                )),
                _ => Ok(()),
            }
        }
        "/v1/witness/add-checkpoint" => {
            let t = text(body, "malformed_request", "the body")?;
            let req = crate::witness::parse_add_checkpoint(t)
                .map_err(|e| ApiError::bad_request("malformed_request", e))?;
            let note = SignedNote::parse(&req.note_text)
                .map_err(|e| ApiError::bad_request("malformed_request", e.to_string()))?;
            note.checkpoint()
                .map(drop)
                .map_err(|e| ApiError::bad_request("malformed_request", e.to_string()))
        }
        "/actions/{name}" => action_form(body).map(drop),
        other => Err(ApiError::not_found(format!("no POST endpoint {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every POST route the node serves has its body decoding in [`decode`], and the
    /// list names no other.
    #[test]
    fn every_post_route_is_decoded() {
        let posts: Vec<&str> = crate::serve::ROUTES
            .iter()
            .filter(|(m, _)| *m == "POST")
            .map(|(_, p)| *p)
            .collect();
        let mut want = posts.clone();
        want.sort_unstable();
        let mut have = POST_ENDPOINTS.to_vec();
        have.sort_unstable();
        assert_eq!(have, want);
    }

    /// Junk is a 4xx naming the problem on every endpoint, never a panic or a 5xx.
    #[test]
    fn junk_is_a_client_error_everywhere() {
        let state = State::new();
        for junk in [
            &b""[..],
            b"\xff\xfe",
            b"{\"a\":1,\"a\":2}",
            b"[[[[[[[[[[",
            b"9007199254740993",
            b"old 1\nnot base64\n\n",
            b"a=%ZZ&b",
        ] {
            for e in POST_ENDPOINTS {
                if let Err(err) = decode(e, junk, &state) {
                    assert!(err.status.is_client_error(), "{e} {junk:?}: {err}");
                    assert!(!err.message.is_empty(), "{e} {junk:?}");
                }
            }
        }
        // The schema-violating vote of issue 16 (`reason: null`) is refused.
        let e = decode(
            "/v1/operator/vote",
            br#"{"proposal_id":"p","choice":"approve","reason":null}"#,
            &state,
        )
        .unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_str()), (422, "invalid_body"));
    }
}
