//! Request extractors that answer bad input with the API's JSON error body instead of
//! axum's plain-text rejections: strict JSON bodies (RFC 7493 I-JSON: no duplicate
//! keys, no unsafe integers), query strings, path parameters, and the operator's
//! bearer token (compared in constant time).

use crate::error::ApiError;
use crate::shared::Shared;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use govmesh_core::Digest;
use serde::de::DeserializeOwned;

/// A JSON body of type `T`: 415 without a JSON content type, 413 over the body limit,
/// 400 when it is not (strict) JSON, 422 when it is JSON of the wrong shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_json_content_type(ctype) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("expected Content-Type: application/json, got {ctype:?}"),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        crate::bodies::json(&bytes).map(ApiJson)
    }
}

/// A raw body of at most [`crate::MAX_BODY_BYTES`]: 413 (JSON, `Connection: close`)
/// over the limit, 400 when it cannot be read; axum's own rejection is plain text.
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(body_rejection)
    }
}

fn is_json_content_type(ctype: &str) -> bool {
    let essence = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body exceeds {} bytes", crate::MAX_BODY_BYTES),
        )
    } else {
        ApiError::bad_request("bad_body", r.body_text()).closing()
    }
}

/// A query string of type `T`; 400 naming the bad parameter otherwise.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request("bad_query", e.body_text()))
    }
}

/// Path parameters of type `T`; 400 otherwise.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(p) => Ok(ApiPath(p.0)),
            Err(e) if e.status().is_client_error() => {
                Err(ApiError::bad_request("bad_path", e.body_text()))
            }
            Err(e) => Err(ApiError::internal(e.body_text())),
        }
    }
}

/// Proof that the request carries the operator's bearer token.
pub struct Operator;

impl<S: Send + Sync> FromRequestParts<S> for Operator
where
    Shared: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let app = Shared::from_ref(state);
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("operator endpoints need `Authorization: Bearer <token>`")
                .closing()
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header is not `Bearer <token>`").closing()
            })?
            .trim();
        if token_matches(app.token_digest(), token) {
            Ok(Operator)
        } else {
            Err(ApiError::unauthorized("the operator token is wrong").closing())
        }
    }
}

/// Compares the SHA-256 of the presented token with the stored one, XOR-folding every
/// byte so the time does not depend on where they differ (nor on the token's length).
pub fn token_matches(expected: &Digest, presented: &str) -> bool {
    let got = Digest::sha256(presented.as_bytes());
    let diff = expected
        .0
        .iter()
        .zip(got.0.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for (c, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/vnd.dsse.envelope.v1+json", true),
            ("text/plain", false),
            ("", false),
            ("application/jsonx", false),
        ] {
            assert_eq!(is_json_content_type(c), ok, "{c}");
        }
    }

    #[test]
    fn token_comparison() {
        let d = Digest::sha256(b"secret-token-123");
        assert!(token_matches(&d, "secret-token-123"));
        assert!(!token_matches(&d, "secret-token-124"));
        assert!(!token_matches(&d, ""));
    }
}
