//! The router without a socket (tower `oneshot`): every route is served and described
//! in the OpenAPI document, and the document describes no route that is not served.

use super::util::Mesh;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use govmesh_node::{AppState, ROUTES, router};
use serde_json::Value;
use std::collections::BTreeSet;
use tower::ServiceExt;

async fn call(app: &AppState, method: &str, path: &str, body: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let resp = router(app.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    // An event stream does not end; its answer is the status.
    if resp
        .headers()
        .get("content-type")
        .is_some_and(|t| t == "text/event-stream")
    {
        return (status, Value::Null);
    }
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

fn openapi() -> Value {
    let text = govmesh_node::OPENAPI_JSON;
    let v: Value = serde_json::from_str(text).expect("openapi.json parses");
    assert_eq!(v["openapi"], "3.1.0");
    v
}

#[test]
fn openapi_describes_exactly_the_routes() {
    let doc = openapi();
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            described.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(described, served);

    // ROUTES is the router's list: every route a room's `route_table!` serves is in it.
    let src = [
        include_str!("../src/api.rs"),
        include_str!("../src/operator.rs"),
        include_str!("../src/attest.rs"),
        include_str!("../src/trust.rs"),
        include_str!("../src/gossip.rs"),
        include_str!("../src/seal.rs"),
        include_str!("../src/witness.rs"),
        include_str!("../src/council/mod.rs"),
        include_str!("../src/replicate.rs"),
        include_str!("../src/metrics.rs"),
        include_str!("../src/dashboard/mod.rs"),
    ]
    .concat();
    // `GET "/path" =>` or `POST "/path" =>`, one route per line.
    let in_source: BTreeSet<String> = src
        .lines()
        .map(str::trim_start)
        .filter_map(|l| {
            l.strip_prefix("GET \"")
                .or_else(|| l.strip_prefix("POST \""))
        })
        .filter(|rest| rest.contains("\" =>"))
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    let listed: BTreeSet<String> = ROUTES.iter().map(|(_, p)| p.to_string()).collect();
    assert_eq!(in_source, listed);

    // Every $ref resolves.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = format!("/{}", piece.split('"').next().unwrap());
        assert!(doc.pointer(&pointer).is_some(), "dangling $ref {pointer}");
    }
}

#[tokio::test]
async fn every_listed_route_is_served() {
    let m = Mesh::found();
    let app = AppState::open(m.dir.path(), None).unwrap();
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{id}", "codex")
            .replace("{n}", "1")
            .replace("{name}", "x");
        let body = (*method == "POST").then_some("{}");
        let (status, v) = call(&app, method, &concrete, body).await;
        assert_ne!(v["error"]["code"], "no_route", "{method} {path}");
        assert_ne!(v["error"]["code"], "method_not_allowed", "{method} {path}");
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {path}: {v}"
        );
    }
    let (status, v) = call(&app, "GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, openapi());
    let (status, v) = call(&app, "GET", "/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "no_route");
}
