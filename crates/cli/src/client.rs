//! A small blocking HTTP client for a govmesh node's `/v1` API (see the API notes):
//! JSON in and out, the node's `{"error": {"code", "message"}}` bodies turned into
//! [`Failure::Refused`], local signing of entries before they are posted.

use crate::fail::Failure;
use anyhow::{Context, Result, bail};
use govmesh_core::dsse::Envelope;
use govmesh_core::entry::{Operation, sign_entry_at};
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

    /// Signs `op` with `key` (with `signed_at`: this machine's clock, so that a hub
    /// can record a refusal of it while fresh) and submits it to `/v1/entries`.
    pub fn submit(&self, key: &KeyPair, op: Operation) -> Result<Value> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let env: Envelope = sign_entry_at(key, op, govmesh_core::Timestamp::from_millis(now));
        let body = serde_json::to_value(&env).context("serializing the envelope")?;
        self.post("/v1/entries", &body, None)
    }

    /// A list endpoint's answer. With `args.limit` or `args.cursor`, the first page
    /// from there that holds items (or the last), as the node serves it (with its
    /// `next_cursor`); otherwise every page,
    /// following `next_cursor`, with the items of `key` gathered into the first page's
    /// answer (whose `next_cursor` is then null). `query` holds the filters.
    pub fn get_list(
        &self,
        path: &str,
        query: &[(&str, String)],
        key: &str,
        args: &ListArgs,
    ) -> Result<Value> {
        let mut pairs: Vec<(&str, String)> = query.to_vec();
        if let Some(n) = args.limit {
            pairs.push(("limit", n.to_string()));
        }
        let one_page = args.limit.is_some() || args.cursor.is_some();
        let mut cursor = args.cursor.clone();
        let mut all: Option<Value> = None;
        loop {
            let mut q = pairs.clone();
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let page = self.get(&with_query(path, &q))?;
            let next = page
                .get("next_cursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            // A filtered page may come back empty with a cursor (the node examines a
            // bounded number of rows per page): one page means one with items.
            let empty = page
                .get(key)
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty);
            if one_page && !(empty && next.is_some()) {
                return Ok(page);
            }
            match &mut all {
                None => all = Some(page),
                Some(acc) => {
                    // Every key that holds a list gathers (`/v1/equivocations` has two).
                    if let Value::Object(items) = page {
                        for (k, v) in items {
                            if let (Value::Array(more), Some(Value::Array(have))) =
                                (v, acc.get_mut(&k))
                            {
                                have.extend(more);
                            }
                        }
                    }
                }
            }
            match next {
                Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                Some(_) => bail!("{path} answered with the same cursor twice"),
                None => break,
            }
        }
        let mut all = all.context("no page")?;
        if all.get(key).is_none() {
            bail!("{path} answered without a {key:?} list");
        }
        all["next_cursor"] = Value::Null;
        Ok(all)
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

/// `--limit` and `--cursor` of the commands that list: one page from the cursor, or
/// (without either) every page.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ListArgs {
    /// Show one page of at most N items (1 to 1000) and the cursor of the next.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: Option<u64>,
    /// Start after the page that printed this cursor (`next cursor: ...`).
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
}

/// `path?k=v&...` with the values form-encoded.
pub fn with_query(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let mut url = reqwest::Url::parse("http://node.invalid").expect("a fixed URL parses");
    url.set_path(path);
    url.query_pairs_mut().extend_pairs(pairs);
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
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
