//! A small blocking HTTP client for a govmesh node's `/v1` API (see the API notes):
//! JSON in and out, the node's `{"error": {"code", "message"}}` bodies turned into
//! [`Failure::Refused`], local signing of entries before they are posted.

use crate::fail::Failure;
use anyhow::{Context, Result, bail};
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{Operation, sign_entry};
use govmesh_core::keys::KeyPair;
use serde_json::Value;
use std::time::Duration;

/// The API returns at most this many log records per page.
const PAGE: u64 = 1000;

/// A node's API at `base` (e.g. `http://127.0.0.1:7420`).
pub struct NodeClient {
    base: String,
    http: reqwest::blocking::Client,
}

impl NodeClient {
    pub fn new(base: &str) -> Result<NodeClient> {
        let base = base.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            bail!("node URL {base:?} must start with http:// (govmesh speaks plain HTTP to nodes)");
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(NodeClient { base, http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn finish(&self, what: &str, resp: reqwest::blocking::Response) -> Result<Value> {
        let status = resp.status();
        let text = resp
            .text()
            .with_context(|| format!("reading the answer to {what}"))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .with_context(|| format!("the answer to {what} is not JSON"));
        }
        Err(refusal(status, &text).into())
    }

    fn send(&self, what: &str, req: reqwest::blocking::RequestBuilder) -> Result<Value> {
        let resp = req
            .send()
            .with_context(|| format!("cannot reach node at {} ({what})", self.base))?;
        self.finish(what, resp)
    }

    /// GET a JSON document.
    pub fn get(&self, path: &str) -> Result<Value> {
        let what = format!("GET {path}");
        self.send(&what, self.http.get(self.url(path)))
    }

    /// GET a text document (the checkpoint).
    pub fn get_text(&self, path: &str) -> Result<String> {
        let what = format!("GET {path}");
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .with_context(|| format!("cannot reach node at {} ({what})", self.base))?;
        let status = resp.status();
        let text = resp
            .text()
            .with_context(|| format!("reading the answer to {what}"))?;
        if !status.is_success() {
            return Err(refusal(status, &text).into());
        }
        Ok(text)
    }

    /// POST a JSON body, optionally with the operator token.
    pub fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Result<Value> {
        let what = format!("POST {path}");
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(&what, req)
    }

    /// Signs `op` with `key` and submits it to `/v1/entries`.
    pub fn submit(&self, key: &KeyPair, op: Operation) -> Result<Value> {
        let env: Envelope = sign_entry(key, op);
        let body = serde_json::to_value(&env).context("serializing the envelope")?;
        self.post("/v1/entries", &body, None)
    }

    /// Calls `f` with every log record in `[start, end)` (to the current size when
    /// `end` is none), as the node serves them, one page at a time.
    pub fn for_each_entry(
        &self,
        start: u64,
        end: Option<u64>,
        mut f: impl FnMut(&Value) -> Result<()>,
    ) -> Result<()> {
        let mut at = start;
        loop {
            let stop = match end {
                Some(e) if at >= e => break,
                Some(e) => e.min(at + PAGE),
                None => at + PAGE,
            };
            let page = self.get(&format!("/v1/log/entries?start={at}&end={stop}"))?;
            let list = page
                .get("entries")
                .and_then(Value::as_array)
                .context("/v1/log/entries answered without an \"entries\" list")?;
            if list.is_empty() {
                break;
            }
            at += list.len() as u64;
            for r in list {
                f(r)?;
            }
        }
        Ok(())
    }
}

/// Turns a non-2xx answer into a [`Failure::Refused`] naming the API's code and message.
fn refusal(status: reqwest::StatusCode, body: &str) -> Failure {
    let parsed: Option<(String, String)> = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let e = v.get("error")?;
        Some((
            e.get("code")?.as_str()?.to_owned(),
            e.get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        ))
    });
    match parsed {
        Some((code, message)) => Failure::Refused { code, message },
        None => Failure::Refused {
            code: format!("http_{}", status.as_u16()),
            message: body.chars().take(200).collect::<String>().trim().to_owned(),
        },
    }
}
