//! Peer authentication for node-to-node requests that change anything (Raft RPCs,
//! forwarded entries, seal announces). The sender authenticates, with its node key,
//! the string
//!
//! ```text
//! govmesh-peer/v1\n{METHOD}\n{path}\n{date}\n{hex sha256(body)}\n
//! ```
//!
//! and sends `Govmesh-Node: <node_id>`, `Govmesh-Date: <unix ms>` and one of:
//! - `Govmesh-Mac: <base64 HMAC-SHA256>` under the key the two nodes share
//!   ([`KeyPair::shared_mac_key`]: X25519 between their registered keys), when the
//!   sender knows the receiver's key ([`sign_request_to`]). This is what hubs use
//!   between themselves: one HMAC per request instead of an Ed25519 signature and its
//!   verification, which on a busy council cost more than the Raft work they guard.
//!   Only the two nodes can compute the key, so only the sender can have made the MAC
//!   the receiver checks.
//! - `Govmesh-Signature: <base64 Ed25519 signature>` ([`sign_request`]), which any
//!   node can check without a shared key.
//!
//! The receiver ([`verify`]) checks
//! that the node is registered and active in its own registry with that key (the
//! ledger's [`RegistryView`](govmesh_store::RegistryView), so that a check never
//! waits for the ledger to finish applying a batch), that its
//! role is one the endpoint allows, that the date is within [`MAX_SKEW_MS`] of its own
//! clock, and the signature. `path` is the request target as sent (path plus
//! `?query` if there is one).

use crate::error::ApiError;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::Digest;
use govmesh_core::keys::{KeyError, KeyPair, PublicKey};
use govmesh_core::model::{NodeStatus, NodeType};
use govmesh_store::Registry;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// Header naming the sending node.
pub const NODE_HEADER: &str = "govmesh-node";
/// Header with the signing time (unix milliseconds).
pub const DATE_HEADER: &str = "govmesh-date";
/// Header with the base64 Ed25519 signature.
pub const SIGNATURE_HEADER: &str = "govmesh-signature";
/// Header with the base64 HMAC-SHA256 under the sender's and receiver's shared key.
pub const MAC_HEADER: &str = "govmesh-mac";
/// Header with the hex SHA-256 of the body, the digest the MAC or signature covers:
/// with it, a receiver checks the MAC or signature before reading the body, and the
/// body against this digest after ([`read_body`]).
pub const DIGEST_HEADER: &str = "govmesh-content-sha256";
/// How far the signing time may be from the receiver's clock (60 s).
pub const MAX_SKEW_MS: i64 = 60_000;

const CONTEXT: &str = "govmesh-peer/v1";

/// The exact bytes that are signed.
pub fn signing_string(method: &str, path: &str, date_ms: i64, body: &[u8]) -> String {
    signing_string_of_digest(method, path, date_ms, &Digest::sha256(body).to_hex())
}

/// [`signing_string`] with the body's hex SHA-256 given.
fn signing_string_of_digest(method: &str, path: &str, date_ms: i64, digest_hex: &str) -> String {
    format!(
        "{CONTEXT}\n{}\n{path}\n{date_ms}\n{digest_hex}\n",
        method.to_ascii_uppercase()
    )
}

/// The three headers for a request signed now by `key` acting as `node_id`.
pub fn sign_request(
    key: &KeyPair,
    node_id: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    sign_request_at(key, node_id, method, path, body, now_ms())
}

/// As [`sign_request`] with an explicit signing time (tests, replays).
pub fn sign_request_at(
    key: &KeyPair,
    node_id: &str,
    method: &str,
    path: &str,
    body: &[u8],
    date_ms: i64,
) -> Vec<(&'static str, String)> {
    let sig = key.sign(signing_string(method, path, date_ms, body).as_bytes());
    vec![
        (NODE_HEADER, node_id.to_owned()),
        (DATE_HEADER, date_ms.to_string()),
        (SIGNATURE_HEADER, STANDARD.encode(sig)),
        (DIGEST_HEADER, Digest::sha256(body).to_hex()),
    ]
}

/// The headers for a request signed now by `key` acting as `node_id` to the node whose
/// registered key is `receiver`: a MAC under the key the two share, or a signature
/// when the receiver's key is not known (or is of small order).
pub fn sign_request_to(
    key: &KeyPair,
    node_id: &str,
    receiver: Option<&PublicKey>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    sign_request_to_at(key, node_id, receiver, method, path, body, now_ms())
}

/// As [`sign_request_to`] with an explicit signing time (tests).
pub fn sign_request_to_at(
    key: &KeyPair,
    node_id: &str,
    receiver: Option<&PublicKey>,
    method: &str,
    path: &str,
    body: &[u8],
    date_ms: i64,
) -> Vec<(&'static str, String)> {
    let Some(shared) = receiver.and_then(|r| mac_key(key, r).ok()) else {
        return sign_request_at(key, node_id, method, path, body, date_ms);
    };
    let tag = mac(
        &shared,
        signing_string(method, path, date_ms, body).as_bytes(),
    )
    .finalize()
    .into_bytes();
    vec![
        (NODE_HEADER, node_id.to_owned()),
        (DATE_HEADER, date_ms.to_string()),
        (MAC_HEADER, STANDARD.encode(tag)),
        (DIGEST_HEADER, Digest::sha256(body).to_hex()),
    ]
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8; 32], msg: &[u8]) -> HmacSha256 {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m
}

/// [`KeyPair::shared_mac_key`], computed once per pair of keys (an X25519 agreement
/// costs about as much as a signature check; a hub talks to the same few peers).
fn mac_key(own: &KeyPair, peer: &PublicKey) -> Result<[u8; 32], KeyError> {
    type Cache = Mutex<HashMap<([u8; 32], [u8; 32]), [u8; 32]>>;
    static CACHE: LazyLock<Cache> = LazyLock::new(Cache::default);
    let id = (*own.public().as_bytes(), *peer.as_bytes());
    if let Some(k) = CACHE.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        return Ok(*k);
    }
    let k = own.shared_mac_key(peer)?;
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, k);
    Ok(k)
}

/// Checks a peer-authenticated request against this node's registry; returns the
/// sender's node id. `own` is this node's key, for requests authenticated by a MAC.
/// 401 when the headers are missing or malformed, the date is stale or the signature
/// or MAC does not verify; 403 when the node is unknown, not active, or its role is
/// not in `allowed_roles`.
pub fn verify(
    registry: &Registry,
    own: &KeyPair,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
    allowed_roles: &[NodeType],
) -> Result<String, ApiError> {
    verify_at(
        registry,
        own,
        headers,
        method,
        path,
        body,
        allowed_roles,
        now_ms(),
    )
}

/// As [`verify`] with an explicit "now" (unix milliseconds).
#[allow(clippy::too_many_arguments)]
pub fn verify_at(
    registry: &Registry,
    own: &KeyPair,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
    allowed_roles: &[NodeType],
    now_ms: i64,
) -> Result<String, ApiError> {
    check_headers_at(registry, headers, allowed_roles, now_ms)?.verify_body(own, method, path, body)
}

/// What a peer request's headers claim, checked as far as they can be without the
/// body: the headers are present and well formed, the date is fresh, and the node is
/// registered, active and of an allowed role. Only [`PeerClaim::verify_body`] proves
/// that the node sent the request; until then the claim costs this node no more than
/// the headers (a body is read only after this check, crate::peer_auth::read_body).
#[derive(Debug)]
pub struct PeerClaim {
    node_id: String,
    date_ms: i64,
    proof_header: &'static str,
    proof: Vec<u8>,
    public_key: PublicKey,
    /// The body digest the sender declared ([`DIGEST_HEADER`]), if it did.
    declared_digest: Option<String>,
}

impl PeerClaim {
    /// The node the headers name.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Checks the MAC or signature over the request and its body; returns the sender.
    pub fn verify_body(
        self,
        own: &KeyPair,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<String, ApiError> {
        let digest = Digest::sha256(body).to_hex();
        self.verify_digest(own, method, path, &digest)
    }

    /// Checks the MAC or signature over the request and the body digest it declared
    /// ([`DIGEST_HEADER`]), before the body is read; returns the sender, and the
    /// digest the body must have. `None` when the headers declare no digest.
    pub fn verify_declared(
        &self,
        own: &KeyPair,
        method: &str,
        path: &str,
    ) -> Option<Result<(String, String), ApiError>> {
        let digest = self.declared_digest.clone()?;
        let claim = PeerClaim {
            node_id: self.node_id.clone(),
            date_ms: self.date_ms,
            proof_header: self.proof_header,
            proof: self.proof.clone(),
            public_key: self.public_key,
            declared_digest: None,
        };
        Some(
            claim
                .verify_digest(own, method, path, &digest)
                .map(|from| (from, digest)),
        )
    }

    fn verify_digest(
        self,
        own: &KeyPair,
        method: &str,
        path: &str,
        digest_hex: &str,
    ) -> Result<String, ApiError> {
        let PeerClaim {
            node_id,
            date_ms,
            proof_header,
            proof,
            public_key,
            ..
        } = self;
        let msg = signing_string_of_digest(method, path, date_ms, digest_hex);
        if proof_header == MAC_HEADER {
            let shared = mac_key(own, &public_key).map_err(|e| {
                unauthorized(format!(
                    "no MAC key can be agreed with node {node_id:?}: {e}"
                ))
            })?;
            mac(&shared, msg.as_bytes())
                .verify_slice(&proof)
                .map_err(|_| {
                    unauthorized(format!(
                        "the {MAC_HEADER} does not verify with the key node {node_id:?} shares \
                         with this node (over {} {path} and this body)",
                        method.to_ascii_uppercase()
                    ))
                })?;
            return Ok(node_id);
        }
        public_key.verify(msg.as_bytes(), &proof).map_err(|_| {
            unauthorized(format!(
                "the {SIGNATURE_HEADER} does not verify with the registered key of node {node_id:?} \
                 (over {} {path} and this body)",
                method.to_ascii_uppercase()
            ))
        })?;
        Ok(node_id)
    }
}

/// The header half of [`verify`]: 401 when the headers are missing or malformed or
/// the date is stale, 403 when the node is unknown, not active or of another role.
pub fn check_headers(
    registry: &Registry,
    headers: &HeaderMap,
    allowed_roles: &[NodeType],
) -> Result<PeerClaim, ApiError> {
    check_headers_at(registry, headers, allowed_roles, now_ms())
}

/// As [`check_headers`] with an explicit "now" (unix milliseconds).
pub fn check_headers_at(
    registry: &Registry,
    headers: &HeaderMap,
    allowed_roles: &[NodeType],
    now_ms: i64,
) -> Result<PeerClaim, ApiError> {
    let node_id = header(headers, NODE_HEADER)?;
    let date_text = header(headers, DATE_HEADER)?;
    // A MAC when there is one, else a signature.
    let (proof_header, proof_text) = match headers.get(MAC_HEADER) {
        Some(v) => (
            MAC_HEADER,
            v.to_str()
                .map_err(|_| unauthorized(format!("the {MAC_HEADER} header is not ASCII text")))?,
        ),
        None => (
            SIGNATURE_HEADER,
            header(headers, SIGNATURE_HEADER).map_err(|e| {
                if headers.contains_key(SIGNATURE_HEADER) {
                    e
                } else {
                    unauthorized(format!(
                        "peer requests need the {SIGNATURE_HEADER} or the {MAC_HEADER} header"
                    ))
                }
            })?,
        ),
    };
    let date_ms: i64 = date_text.parse().map_err(|_| {
        unauthorized(format!(
            "{DATE_HEADER} is not unix milliseconds: {date_text:?}"
        ))
    })?;
    let skew = date_ms.saturating_sub(now_ms).saturating_abs();
    if skew > MAX_SKEW_MS {
        return Err(unauthorized(format!(
            "{DATE_HEADER} is {skew} ms away from this node's clock (at most {MAX_SKEW_MS} ms allowed)"
        )));
    }
    let proof = STANDARD
        .decode(proof_text)
        .map_err(|e| unauthorized(format!("{proof_header} is not base64: {e}")))?;

    let node = registry.node(node_id).ok_or_else(|| {
        forbidden(format!(
            "node {node_id:?} is not registered in this node's log"
        ))
    })?;
    if node.status != NodeStatus::Active {
        return Err(forbidden(format!(
            "node {node_id:?} is not active (status {:?})",
            node.status
        )));
    }
    if !allowed_roles.contains(&node.node_type) {
        let allowed: Vec<&str> = allowed_roles.iter().map(|r| r.as_str()).collect();
        return Err(forbidden(format!(
            "node {node_id:?} is a {} and this endpoint accepts only {}",
            node.node_type.as_str(),
            allowed.join(", ")
        )));
    }
    let declared_digest = match headers.get(DIGEST_HEADER) {
        None => None,
        Some(v) => {
            let d = v
                .to_str()
                .ok()
                .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| {
                    unauthorized(format!(
                        "{DIGEST_HEADER} is not the 64 hex digits of a SHA-256"
                    ))
                })?;
            Some(d.to_ascii_lowercase())
        }
    };
    Ok(PeerClaim {
        node_id: node_id.to_owned(),
        date_ms,
        proof_header,
        proof,
        public_key: node.public_key,
        declared_digest,
    })
}

/// How many bodies one claimed peer may have in flight on this node at once: a Raft
/// peer sends an append, a vote, a snapshot and a forwarded batch at most.
pub const BODIES_PER_PEER: usize = 4;

/// The in-flight body permits of each (receiving node, claimed peer): a body is read
/// only with a permit, so the memory that one peer's requests can hold on a node is
/// bounded by [`BODIES_PER_PEER`] times the endpoint's limit, whatever the number of
/// connections.
fn body_permits(own: &KeyPair, peer: &str) -> std::sync::Arc<tokio::sync::Semaphore> {
    type Permits = Mutex<HashMap<([u8; 32], String), std::sync::Arc<tokio::sync::Semaphore>>>;
    static PERMITS: LazyLock<Permits> = LazyLock::new(Permits::default);
    PERMITS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry((*own.public().as_bytes(), peer.to_owned()))
        .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(BODIES_PER_PEER)))
        .clone()
}

/// Reads a peer request's body only after its headers pass [`check_headers`] and,
/// when they declare the body's digest ([`DIGEST_HEADER`], which this crate's
/// senders always do), after the MAC or signature over that digest verifies: an
/// unauthenticated request is answered from its headers (with `Connection: close`,
/// its body unread), a `Content-Length` over `limit` is refused before reading, and
/// at most [`BODIES_PER_PEER`] bodies per peer are read at once. Then the body must
/// match the declared digest (or, without one, the MAC or signature is checked over
/// the bytes read). Returns the sender and the body.
#[allow(clippy::too_many_arguments)]
pub async fn read_body(
    registry: &Registry,
    own: &KeyPair,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: axum::body::Body,
    limit: usize,
    allowed_roles: &[NodeType],
) -> Result<(String, axum::body::Bytes), ApiError> {
    let claim = check_headers(registry, headers, allowed_roles).map_err(ApiError::closing)?;
    // With a declared digest the sender is proven before anything is read.
    let proven = match claim.verify_declared(own, method, path) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return Err(e.closing()),
        None => None,
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let permits = body_permits(own, claim.node_id());
    let _permit = permits
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the peer body permits were closed"))?;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let text = e.to_string();
        if text.contains("length limit exceeded") {
            too_large(limit)
        } else {
            ApiError::bad_request(
                "bad_body",
                format!("the request body could not be read: {text}"),
            )
            .closing()
        }
    })?;
    let from = match proven {
        Some((from, digest)) => {
            if Digest::sha256(&bytes).to_hex() != digest {
                return Err(unauthorized(format!(
                    "the body does not have the SHA-256 its {DIGEST_HEADER} header declares"
                )));
            }
            from
        }
        None => claim.verify_body(own, method, path, &bytes)?,
    };
    Ok((from, bytes))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("this peer endpoint reads at most {limit} bytes of body"),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    let v = headers
        .get(name)
        .ok_or_else(|| unauthorized(format!("peer requests need the {name} header")))?;
    v.to_str()
        .map_err(|_| unauthorized(format!("the {name} header is not ASCII text")))
}

fn unauthorized(message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "peer_unauthorized", message)
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "peer_forbidden", message)
}

fn now_ms() -> i64 {
    crate::order::now().millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use govmesh_core::codex::codex_genesis;
    use govmesh_core::entry::{NodeSpec, Operation, sign_entry};
    use govmesh_core::stamp::Timestamp;
    use govmesh_core::state::State;

    const PATH: &str = "/v1/council/append";
    const T: i64 = 1_800_000_000_000;

    fn spec(key: &KeyPair, node_type: NodeType) -> NodeSpec {
        NodeSpec::new(key, node_type)
    }

    /// A State whose genesis registers one hub and one witness.
    fn setup() -> (State, KeyPair, KeyPair) {
        let hub = KeyPair::from_seed([1; 32]);
        let witness = KeyPair::from_seed([2; 32]);
        let g = codex_genesis(
            "m",
            vec![
                spec(&hub, NodeType::GovernanceHub),
                spec(&witness, NodeType::ComplianceWitness),
            ],
        );
        let mut st = State::new();
        st.apply(
            &sign_entry(&hub, Operation::Genesis(g)),
            Timestamp::from_millis(T),
        )
        .unwrap();
        (st, hub, witness)
    }

    /// The node checking the requests.
    fn receiver() -> KeyPair {
        KeyPair::from_seed([5; 32])
    }

    fn headers(list: Vec<(&'static str, String)>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            h.insert(k, HeaderValue::from_str(&v).unwrap());
        }
        h
    }

    fn check(st: &State, h: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
        let r = Registry::of(st);
        verify_at(
            &r,
            &receiver(),
            h,
            "POST",
            PATH,
            body,
            &[NodeType::GovernanceHub],
            T,
        )
    }

    #[test]
    fn a_good_signature_is_accepted() {
        let (st, hub, _) = setup();
        let h = headers(sign_request_at(&hub, hub.node_id(), "POST", PATH, b"{}", T));
        assert_eq!(check(&st, &h, b"{}").unwrap(), hub.node_id());
        // Within the allowed skew either way.
        for d in [T - MAX_SKEW_MS, T + MAX_SKEW_MS] {
            let h = headers(sign_request_at(&hub, hub.node_id(), "post", PATH, b"x", d));
            assert_eq!(check(&st, &h, b"x").unwrap(), hub.node_id());
        }
    }

    #[test]
    fn a_wrong_key_is_refused() {
        let (st, hub, _) = setup();
        let other = KeyPair::from_seed([9; 32]);
        let h = headers(sign_request_at(
            &other,
            hub.node_id(),
            "POST",
            PATH,
            b"{}",
            T,
        ));
        let e = check(&st, &h, b"{}").unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
        assert!(e.message.contains("does not verify"), "{e}");
    }

    #[test]
    fn an_unknown_node_is_refused() {
        let (st, _, _) = setup();
        let other = KeyPair::from_seed([9; 32]);
        let h = headers(sign_request_at(
            &other,
            other.node_id(),
            "POST",
            PATH,
            b"{}",
            T,
        ));
        let e = check(&st, &h, b"{}").unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN, "{e}");
        assert!(e.message.contains("not registered"), "{e}");
    }

    /// Issue 16: with the body's digest in the headers (as every sender here sends
    /// it), the sender is proven before any body is read: an impostor using a member's
    /// id, or a changed digest, is refused from the headers; a body other than the
    /// declared one is refused after reading.
    #[tokio::test]
    async fn a_declared_digest_proves_the_sender_before_the_body() {
        let (st, hub, _) = setup();
        let r = Registry::of(&st);
        let me = receiver();
        let roles = [NodeType::GovernanceHub];
        let good = headers(sign_request_to(
            &hub,
            hub.node_id(),
            Some(&me.public()),
            "POST",
            PATH,
            b"body",
        ));
        let claim = check_headers(&r, &good, &roles).unwrap();
        let (from, digest) = claim.verify_declared(&me, "POST", PATH).unwrap().unwrap();
        assert_eq!(from, hub.node_id());
        assert_eq!(digest, Digest::sha256(b"body").to_hex());

        let stranger = KeyPair::from_seed([9; 32]);
        let forged = headers(sign_request(
            &stranger,
            hub.node_id(),
            "POST",
            PATH,
            b"body",
        ));
        let claim = check_headers(&r, &forged, &roles).unwrap();
        let e = claim
            .verify_declared(&me, "POST", PATH)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");

        let mut changed = good.clone();
        changed.insert(
            DIGEST_HEADER,
            HeaderValue::from_str(&Digest::sha256(b"other").to_hex()).unwrap(),
        );
        let claim = check_headers(&r, &changed, &roles).unwrap();
        assert!(claim.verify_declared(&me, "POST", PATH).unwrap().is_err());

        let body = |b: &'static str| axum::body::Body::from(b);
        let read = read_body(&r, &me, &good, "POST", PATH, body("other"), 1024, &roles).await;
        let e = read.unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
        assert!(e.message.contains(DIGEST_HEADER), "{e}");
        let (from, bytes) = read_body(&r, &me, &good, "POST", PATH, body("body"), 1024, &roles)
            .await
            .unwrap();
        assert_eq!((from.as_str(), &bytes[..]), (hub.node_id(), &b"body"[..]));
    }

    /// Issue 16: one claimed peer's bodies are read [`BODIES_PER_PEER`] at a time (the
    /// rest wait), per receiving node; other peers have their own permits.
    #[test]
    fn one_peer_reads_a_bounded_number_of_bodies_at_once() {
        let own = receiver();
        let held: Vec<_> = (0..BODIES_PER_PEER)
            .map(|_| body_permits(&own, "peer-a").try_acquire_owned().unwrap())
            .collect();
        assert!(body_permits(&own, "peer-a").try_acquire().is_err());
        assert!(body_permits(&own, "peer-b").try_acquire().is_ok());
        let other_receiver = KeyPair::from_seed([6; 32]);
        assert!(
            body_permits(&other_receiver, "peer-a")
                .try_acquire()
                .is_ok()
        );
        drop(held);
        assert!(body_permits(&own, "peer-a").try_acquire().is_ok());
    }

    #[test]
    fn a_wrong_role_is_refused() {
        let (st, _, witness) = setup();
        let h = headers(sign_request_at(
            &witness,
            witness.node_id(),
            "POST",
            PATH,
            b"{}",
            T,
        ));
        let e = check(&st, &h, b"{}").unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN, "{e}");
        assert!(
            e.message.contains("compliance_witness") && e.message.contains("governance_hub"),
            "{e}"
        );
        // The same request is fine where witnesses are allowed.
        let ok = verify_at(
            &Registry::of(&st),
            &receiver(),
            &h,
            "POST",
            PATH,
            b"{}",
            &[NodeType::GovernanceHub, NodeType::ComplianceWitness],
            T,
        );
        assert_eq!(ok.unwrap(), witness.node_id());
    }

    #[test]
    fn a_stale_or_future_date_is_refused() {
        let (st, hub, _) = setup();
        for d in [T - MAX_SKEW_MS - 1, T + MAX_SKEW_MS + 1] {
            let h = headers(sign_request_at(&hub, hub.node_id(), "POST", PATH, b"{}", d));
            let e = check(&st, &h, b"{}").unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
            assert!(e.message.contains("clock"), "{e}");
        }
    }

    #[test]
    fn an_altered_body_method_or_path_is_refused() {
        let (st, hub, _) = setup();
        let h = headers(sign_request_at(
            &hub,
            hub.node_id(),
            "POST",
            PATH,
            b"{\"a\":1}",
            T,
        ));
        let e = check(&st, &h, b"{\"a\":2}").unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
        assert!(e.message.contains("does not verify"), "{e}");
        let e = verify_at(
            &Registry::of(&st),
            &receiver(),
            &h,
            "POST",
            "/v1/council/vote",
            b"{\"a\":1}",
            &[NodeType::GovernanceHub],
            T,
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
        let e = verify_at(
            &Registry::of(&st),
            &receiver(),
            &h,
            "PUT",
            PATH,
            b"{\"a\":1}",
            &[NodeType::GovernanceHub],
            T,
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
    }

    #[test]
    fn missing_or_malformed_headers_are_named() {
        let (st, hub, _) = setup();
        let full = sign_request_at(&hub, hub.node_id(), "POST", PATH, b"", T);
        for missing in [NODE_HEADER, DATE_HEADER, SIGNATURE_HEADER] {
            let h = headers(
                full.iter()
                    .filter(|(k, _)| *k != missing)
                    .cloned()
                    .collect(),
            );
            let e = check(&st, &h, b"").unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
            assert!(e.message.contains(missing), "{e}");
        }
        let mut h = headers(full.clone());
        h.insert(DATE_HEADER, HeaderValue::from_static("yesterday"));
        let e = check(&st, &h, b"").unwrap_err();
        assert!(e.message.contains("unix milliseconds"), "{e}");
        let mut h = headers(full);
        h.insert(SIGNATURE_HEADER, HeaderValue::from_static("***"));
        let e = check(&st, &h, b"").unwrap_err();
        assert!(e.message.contains("base64"), "{e}");
    }

    #[test]
    fn a_mac_for_this_receiver_is_accepted_and_any_other_refused() {
        let (st, hub, _) = setup();
        let me = receiver();
        let mac = |from: &KeyPair, to: &KeyPair, body: &[u8], d: i64| {
            headers(sign_request_to_at(
                from,
                hub.node_id(),
                Some(&to.public()),
                "POST",
                PATH,
                body,
                d,
            ))
        };
        let h = mac(&hub, &me, b"{}", T);
        assert!(h.contains_key(MAC_HEADER) && !h.contains_key(SIGNATURE_HEADER));
        assert_eq!(check(&st, &h, b"{}").unwrap(), hub.node_id());
        // Another body, a MAC meant for another receiver, or made by a key that is
        // not the hub's: each refused.
        let e = check(&st, &h, b"{\"a\":1}").unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
        assert!(e.message.contains(MAC_HEADER), "{e}");
        let other = KeyPair::from_seed([9; 32]);
        for h in [mac(&hub, &other, b"{}", T), mac(&other, &me, b"{}", T)] {
            let e = check(&st, &h, b"{}").unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{e}");
            assert!(e.message.contains("does not verify"), "{e}");
        }
        // The date is covered too.
        let mut h = mac(&hub, &me, b"{}", T);
        h.insert(
            DATE_HEADER,
            HeaderValue::from_str(&(T + 1).to_string()).unwrap(),
        );
        assert!(check(&st, &h, b"{}").is_err());
        // Without the receiver's key, the sender signs instead.
        let h = headers(sign_request_to_at(
            &hub,
            hub.node_id(),
            None,
            "POST",
            PATH,
            b"{}",
            T,
        ));
        assert!(h.contains_key(SIGNATURE_HEADER) && !h.contains_key(MAC_HEADER));
        assert_eq!(check(&st, &h, b"{}").unwrap(), hub.node_id());
        // A MAC that is not base64 is named.
        let mut h = mac(&hub, &me, b"{}", T);
        h.insert(MAC_HEADER, HeaderValue::from_static("***"));
        let e = check(&st, &h, b"{}").unwrap_err();
        assert!(e.message.contains("govmesh-mac is not base64"), "{e}");
    }
}
