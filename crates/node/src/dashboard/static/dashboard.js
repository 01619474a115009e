//! The dashboard's script (crates/node/src/dashboard), compiled into the node. Pages
//! read fully without it; it adds: operator forms sent as JSON with the token kept
//! for the browser session, live updates from /v1/events, and in-browser checks.
"use strict";

const TOKEN_KEY = "govmesh.operator_token";

function keptToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (_) { return ""; }
}
function keepToken(t) {
  try { sessionStorage.setItem(TOKEN_KEY, t); } catch (_) { /* private mode: ask again */ }
}
function forgetToken() {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* nothing kept */ }
}

// ---- Operator forms: the form's fields as the endpoint's JSON, the answer shown.

const LIST_FIELDS = ["member_nodes", "shared_clauses"];

function formBody(form) {
  const body = {};
  for (const k of LIST_FIELDS) if (form.querySelector("[name=" + k + "]")) body[k] = [];
  for (const [k, v] of new FormData(form).entries()) {
    if (k === "token") continue;
    if (v === "") continue;
    if (LIST_FIELDS.includes(k)) { body[k].push(v); continue; }
    if (k === "diff") {
      // The rules patch: a JSON array of patch operations, checked by the node.
      try { body.diff = JSON.parse(v); } catch (e) { throw new Error("The rules patch is not JSON: " + e.message); }
      continue;
    }
    if (k === "target") {
      // contract:clause, as the server-side form handler splits it
      const cut = v.indexOf(":");
      body.contract_id = v.slice(0, cut);
      body.clause = v.slice(cut + 1);
    } else {
      body[k] = k === "voting_period_secs" ? Number(v) : v;
    }
  }
  return body;
}

// The page-wide copy of an action's answer (forms may be replaced by live updates).
function notice(text, ok) {
  const n = document.getElementById("notice");
  if (!n) return;
  n.className = ok ? "" : "bad";
  n.textContent = text;
}

async function submitAction(ev) {
  const form = ev.target;
  ev.preventDefault();
  if (heldKey && form.dataset.sign) return submitSigned(form);
  const out = form.querySelector("output.result");
  const button = form.querySelector("button[type=submit]");
  const field = form.querySelector("input[name=token]");
  const token = keptToken() || (field ? field.value : "");
  if (!token) {
    document.body.classList.remove("token-kept");
    if (field) field.focus();
    out.className = "result bad";
    out.textContent = "Enter the operator token first.";
    return;
  }
  let body;
  try {
    body = formBody(form);
  } catch (e) {
    out.className = "result bad";
    out.textContent = e.message;
    return;
  }
  button.disabled = true;
  out.className = "result";
  out.textContent = "Sending…";
  try {
    const resp = await fetch(form.dataset.api, {
      method: "POST",
      headers: { "content-type": "application/json", "authorization": "Bearer " + token },
      body: JSON.stringify(body),
    });
    const answer = await resp.json().catch(() => ({}));
    if (resp.ok) {
      keepToken(token);
      markTokenFields();
    } else if (resp.status === 401 || resp.status === 403) {
      forgetToken();
      markTokenFields();
    }
    showAnswer(form, out, resp, answer, "");
  } catch (err) {
    out.className = "result bad";
    out.textContent = "Could not reach the node: " + err;
  } finally {
    button.disabled = false;
  }
}

// An action's answer, under its form and in the page's #notice: the API's own words.
function showAnswer(form, out, resp, answer, how) {
  if (resp.ok) {
    out.className = "result ok";
    const words = "Done: log entry #" + answer.index + " (" + answer.kind + ")" + how + ".";
    if (answer.proposal_id || answer.domain_id) {
      out.textContent = words + " ";
      const a = document.createElement("a");
      a.href = answer.proposal_id ? "/proposals/" + answer.proposal_id : "/domains/" + answer.domain_id;
      a.textContent = answer.proposal_id ? "Open the new proposal" : "Open the new domain";
      out.appendChild(a);
    } else {
      out.textContent = words;
    }
    notice(out.textContent, true);
    if (form.dataset.action === "vote" || form.dataset.action === "withdraw") form.reset();
    refreshParts();
  } else {
    const e = answer.error || {};
    out.className = "result bad";
    out.textContent = "Refused (" + resp.status + (e.code ? " " + e.code : "") + "): " + (e.message || resp.statusText);
    notice(out.textContent, false);
  }
}

// ---- Acting with one's own key: a key file pasted into the page is imported as a
// non-extractable WebCrypto Ed25519 key; an action is signed here as an entry (the
// DSSE envelope over the RFC 8785 payload, as crates/core's entry::sign_entry builds
// it) and only the signed entry is sent, to POST /v1/entries. The key never leaves
// the page, and is gone with it.

const KEY_FILE_KIND = "govmesh-ed25519-key";
const ENTRY_PAYLOAD_TYPE = "application/vnd.govmesh.entry.v1+json";
let heldKey = null; // { nodeId, keyid, key: CryptoKey }

function b64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
function b64url(bytes) {
  return b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// A key file as `govmesh key new` writes it: {kind, node_id, public_key, secret_seed}.
async function importKeyFile(text) {
  let f;
  try { f = JSON.parse(text); } catch (e) { throw new Error("this is not a key file: it is not JSON (" + e.message + ")"); }
  if (!f || f.kind !== KEY_FILE_KIND) throw new Error("this is not a key file: its kind is " + JSON.stringify(f && f.kind) + ", expected " + JSON.stringify(KEY_FILE_KIND));
  for (const k of ["node_id", "public_key", "secret_seed"]) {
    if (typeof f[k] !== "string") throw new Error("this is not a key file: it has no " + k);
  }
  let seed, pub;
  try { seed = b64bytes(f.secret_seed); pub = b64bytes(f.public_key); } catch (_) { throw new Error("secret_seed or public_key is not base64"); }
  if (seed.length !== 32) throw new Error("secret_seed is not 32 bytes");
  if (pub.length !== 32) throw new Error("public_key is not 32 bytes");
  let key;
  try {
    key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", d: b64url(seed), x: b64url(pub) }, { name: "Ed25519" }, false, ["sign"]);
  } catch (e) {
    // Both halves are 32 bytes of base64 by now: the browser refuses a pair whose
    // public half is not the secret's (as KeyPair::from_file_json does).
    if (e && e.name === "DataError") throw new Error("public_key does not match secret_seed");
    throw new Error("the browser refused the key: " + (e && e.message ? e.message : e));
  }
  // The public half must be the secret's: sign once and check under it.
  const probe = enc.encode("govmesh key check");
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, probe));
  if (!(await ed25519Verify(pub, sig, probe))) throw new Error("public_key does not match secret_seed");
  return { nodeId: f.node_id, keyid: tohex(await sha256(pub)), key };
}

// The DSSE envelope of `op` ({type, ...fields}) signed as the held key's node, with
// the browser's clock as signed_at (clause 5.4 replay_window_secs: the log refuses an
// entry signed too far from its own time).
async function signEntry(op) {
  const payload = enc.encode(jcs(Object.assign({ author: heldKey.nodeId, signed_at: new Date().toISOString() }, op)));
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, heldKey.key, pae(ENTRY_PAYLOAD_TYPE, payload)));
  return { payloadType: ENTRY_PAYLOAD_TYPE, payload: b64(payload), signatures: [{ keyid: heldKey.keyid, sig: b64(sig) }] };
}

// ---- The operations, built from a form's request body as the operator endpoints
// build them from the same body (crates/node/src/operator.rs), for the held key's node.

// One change of the rules patch in the seed's diff form, as wire::diff_op converts it:
// seed-form ops (`operation`) as they are, RFC 6902 add / replace / remove converted.
function diffOp(v, i) {
  const bad = (m) => new Error("The rules patch: diff[" + i + "]: " + m);
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad("expected an object");
  if ("operation" in v) return v;
  if (typeof v.op !== "string") throw bad("needs \"operation\" (seed form) or \"op\" (RFC 6902)");
  if (typeof v.path !== "string") throw bad("\"path\" must be a JSON Pointer string");
  for (const k of Object.keys(v)) {
    if (!["op", "path", "value"].includes(k)) throw bad("unexpected field " + JSON.stringify(k));
  }
  const has = "value" in v;
  if (v.op === "add" || v.op === "replace") {
    if (!has) throw bad("\"" + v.op + "\" needs a \"value\"");
    return { path: v.path, operation: v.op, value: v.value };
  }
  if (v.op === "remove") {
    if (has) throw bad("\"remove\" takes no \"value\"");
    return { path: v.path, operation: "remove", value: null };
  }
  throw bad("op " + JSON.stringify(v.op) + " is not supported; use add, remove or replace");
}

// propose: the clause as the node holds it now (its hash is the proposal's base, its
// text the current text), the changes, a fresh proposal id.
async function proposeOp(body) {
  const contractId = body.contract_id;
  const resp = await fetch("/v1/contracts/" + encodeURIComponent(contractId));
  if (!resp.ok) {
    const e = (await resp.json().catch(() => ({}))).error || {};
    throw new Error("contract " + JSON.stringify(contractId) + ": " + (e.message || "the node answered " + resp.status));
  }
  const contract = await resp.json();
  const cl = (contract.clauses || []).find((x) => x.clause_id === body.clause);
  if (!cl) throw new Error("contract " + JSON.stringify(contractId) + " has no clause " + JSON.stringify(body.clause));
  // Clause::hash: SHA-256 over the clause's RFC 8785 form.
  const clause = { clause_id: cl.clause_id, title: cl.title, text: cl.text, rules: cl.rules };
  const base = tohex(await sha256(enc.encode(jcs(clause))));
  const patch = body.diff === undefined ? [] : body.diff;
  if (!Array.isArray(patch)) throw new Error("The rules patch is not a JSON array of patch operations");
  const op = {
    type: "propose",
    proposal_id: crypto.randomUUID(),
    contract_id: contractId,
    target_contract_clause: body.clause,
    base_clause_hash: base,
    rationale: body.rationale,
    changes: { current_text: cl.text, proposed_text: body.proposed_text, diff: patch.map(diffOp) },
  };
  if (body.domain_id !== undefined) op.domain_id = body.domain_id;
  if (body.voting_period_secs !== undefined) op.voting_period_secs = body.voting_period_secs;
  return op;
}

// define_domain: the request's fields, a fresh domain id, and the defaults the node's
// DomainSpec writes (an empty description, no policy overrides).
function defineDomainOp(body) {
  const op = Object.assign({ type: "define_domain", domain_id: crypto.randomUUID(), description: "", policy: {} }, body);
  if (Array.isArray(op.shared_clauses) && op.shared_clauses.length === 0) delete op.shared_clauses;
  return op;
}

// vote: the sequence the operator endpoint gives a vote (one more than the held key's
// counted vote on the proposal, 0 for a first vote), so that changing a vote is a
// change and not a second vote with the same sequence (equivocation).
async function voteOp(body) {
  const p = await getJSON("/v1/proposals/" + encodeURIComponent(body.proposal_id));
  const mine = (p.votes || []).find((v) => v.voter === heldKey.nodeId);
  const op = Object.assign({ type: "vote" }, body);
  if (mine) op.sequence = (mine.sequence || 0) + 1;
  return op;
}

const SIGNED_OPS = {
  propose: proposeOp,
  define_domain: defineDomainOp,
  vote: voteOp,
  withdraw: (body) => Object.assign({ type: "withdraw" }, body),
};

async function submitSigned(form) {
  const out = form.querySelector("output.result");
  const button = form.querySelector("button[type=submit]");
  const build = SIGNED_OPS[form.dataset.sign];
  let body;
  try {
    if (!build) throw new Error("this form cannot be signed in the browser");
    body = formBody(form);
  } catch (e) {
    out.className = "result bad";
    out.textContent = e.message;
    notice(out.textContent, false);
    return;
  }
  button.disabled = true;
  out.className = "result";
  out.textContent = "Signing in this browser…";
  try {
    let op;
    try {
      op = await build(body);
    } catch (e) {
      out.className = "result bad";
      out.textContent = e && e.message ? e.message : String(e);
      notice(out.textContent, false);
      return;
    }
    const env = await signEntry(op);
    const resp = await fetch("/v1/entries", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(env),
    });
    const answer = await resp.json().catch(() => ({}));
    // The new proposal's or domain's id, as the operator endpoint names it.
    if (resp.ok && op.type === "propose") answer.proposal_id = op.proposal_id;
    if (resp.ok && op.type === "define_domain") answer.domain_id = op.domain_id;
    showAnswer(form, out, resp, answer, ", signed in this browser");
  } catch (err) {
    out.className = "result bad";
    out.textContent = "Could not sign or send: " + (err && err.message ? err.message : err);
    notice(out.textContent, false);
  } finally {
    button.disabled = false;
  }
}

function markKeyHeld() {
  document.body.classList.toggle("key-held", heldKey !== null);
  for (const t of document.querySelectorAll("form.action[data-sign] input[name=token]")) {
    if (heldKey) t.required = false;
  }
  for (const n of document.querySelectorAll("form.action[data-sign] .signer")) {
    n.textContent = heldKey ? "Signed in this browser as node " + heldKey.nodeId + " (your key; no token needed)." : "";
  }
}

function setupOwnKey() {
  const box = document.getElementById("own-key");
  if (!box) return;
  box.hidden = false;
  const area = box.querySelector("textarea");
  const use = box.querySelector("#k-use");
  const forget = box.querySelector("#k-forget");
  const state = box.querySelector("output");
  const say = (ok, words) => { state.className = "result " + (ok ? "ok" : "bad"); state.textContent = words; };
  use.addEventListener("click", async () => {
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      say(false, "This page is not a secure context (HTTPS or loopback), so the browser gives it no WebCrypto to sign with.");
      return;
    }
    try {
      heldKey = await importKeyFile(area.value.trim());
      area.value = "";
      say(true, "Signing as node " + heldKey.nodeId + " (key " + heldKey.keyid.slice(0, 8) + "…) in this browser. The key stays in this page; leaving it forgets the key.");
      forget.hidden = false;
    } catch (e) {
      heldKey = null;
      say(false, "Key not used: " + e.message);
    }
    markTokenFields();
  });
  forget.addEventListener("click", () => {
    heldKey = null;
    forget.hidden = true;
    say(true, "Key forgotten: actions use the operator token again.");
    markTokenFields();
  });
}

// With a kept token the fields are hidden and need not be filled.
function markTokenFields() {
  const kept = keptToken() !== "";
  document.body.classList.toggle("token-kept", kept);
  for (const t of document.querySelectorAll("form.action input[name=token]")) t.required = !kept;
  markKeyHeld();
}

function setupForms() {
  markTokenFields();
  document.addEventListener("submit", (ev) => {
    if (ev.target.matches("form.action")) submitAction(ev);
  });
}

// ---- Live parts: re-read this page and swap the parts marked data-part.

let refreshing = false;
async function refreshParts() {
  if (refreshing) return;
  refreshing = true;
  try {
    const resp = await fetch(location.pathname + location.search, { headers: { accept: "text/html" } });
    if (!resp.ok) return;
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    // Forms are swapped only when the proposal's status changes (so that an
    // answer shown under a form stays).
    const was = document.querySelector("#proposal");
    const now = doc.querySelector("#proposal");
    const statusChanged = was && now && was.dataset.status !== now.dataset.status;
    if (statusChanged) was.dataset.status = now.dataset.status;
    for (const el of document.querySelectorAll("[data-part], [data-live]")) {
      if (el.querySelector("form") && !statusChanged) continue;
      const key = el.dataset.part ? "[data-part=\"" + el.dataset.part + "\"]" : "[data-live=\"" + el.dataset.live + "\"]";
      const fresh = doc.querySelector(key);
      if (fresh && fresh.innerHTML !== el.innerHTML) {
        el.innerHTML = fresh.innerHTML;
        el.classList.remove("flash");
        void el.offsetWidth;
        el.classList.add("flash");
      }
    }
    markTokenFields();
    document.dispatchEvent(new CustomEvent("govmesh:refreshed"));
  } finally {
    refreshing = false;
  }
}

// ---- Live updates: the node's server-sent events refresh the changed parts.

function setupLive() {
  if (!("EventSource" in window)) return;
  if (!document.querySelector("[data-part], [data-live]")) return;
  const es = new EventSource("/v1/events");
  let timer = null;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(refreshParts, 150);
  };
  for (const kind of ["entry", "tally", "adoption", "seal", "node", "resync"]) es.addEventListener(kind, soon);
  window.addEventListener("pagehide", () => es.close());
}

// ---- In-browser verification: each shown entry's DSSE signature under its author's
// registered key, its inclusion proof against the latest seal, and the seal's hub
// signature and witness cosignatures against the registry. Nothing here trusts the
// node's own verdicts: only its bytes.

const enc = new TextEncoder();

function b64bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function hexbytes(h) {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
  return out;
}
function tohex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let k = 0;
  for (const p of parts) { out.set(p, k); k += p.length; }
  return out;
}
function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// RFC 8785: keys sorted by UTF-16 code units, strings and numbers as ECMAScript's
// JSON.stringify writes them (which is what the RFC specifies).
function jcs(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(jcs).join(",") + "]";
  const keys = Object.keys(v).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + jcs(v[k])).join(",") + "}";
}

// DSSE v1 pre-authentication encoding.
function pae(type, body) {
  const t = enc.encode(type);
  return concat(enc.encode("DSSEv1 " + t.length + " "), t, enc.encode(" " + body.length + " "), body);
}

// Imported verification keys, by their bytes (a page checks many entries per key).
const verifyKeys = new Map();
async function ed25519Verify(pub, sig, msg) {
  const id = tohex(pub);
  if (!verifyKeys.has(id)) verifyKeys.set(id, crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]));
  return crypto.subtle.verify({ name: "Ed25519" }, await verifyKeys.get(id), sig, msg);
}

// RFC 9162 2.1.3.2: the root an inclusion proof leads to from a leaf hash.
async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) throw new Error("index beyond the tree");
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error("proof too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat([1], p, r));
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await sha256(concat([1], r, p));
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("proof too short");
  return r;
}

async function getJSON(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(path + " answered " + r.status);
  return r.json();
}

// Every item of a paged list endpoint, following next_cursor page by page.
async function getAll(path, key) {
  const items = [];
  let cursor = null;
  do {
    const page = await getJSON(path + "?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items.push(...page[key]);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

// Clause 5.4 (Distributed Verification Network) of the governing contract, as the
// node's API serves it: which witnesses count toward a seal and how many must cosign.
// The governing contract is the one the first log entry (the genesis) founds.
async function verificationRules() {
  const first = (await getJSON("/v1/log/entries?start=0&end=1")).entries[0];
  if (!first) throw new Error("the log has no genesis entry");
  let id;
  try { id = JSON.parse(new TextDecoder().decode(b64bytes(first.envelope.payload))).contract.contract_id; } catch (_) { id = null; }
  if (typeof id !== "string") throw new Error("the genesis entry names no governing contract");
  const c = await getJSON("/v1/contracts/" + encodeURIComponent(id));
  const clause = (c.clauses || []).find((x) => x.clause_id === "5.4");
  return (clause && clause.rules) || {};
}

// The seal: body, hub signature by an active registered hub, and cosignatures of the
// witnesses clause 5.4 counts (active compliance witnesses it lists, or all active
// ones when it lists none), at least its seal_threshold of them (a majority of the
// counted witnesses when it names none), as crates/core's seal::verify_seal checks.
// C2SP signed-note and tlog-cosignature v1.
async function checkSeal(text, nodes, rules) {
  const cut = text.indexOf("\n\n");
  if (cut < 0) throw new Error("the seal is not a signed note");
  const body = text.slice(0, cut + 1);
  const lines = body.split("\n");
  const origin = lines[0], size = Number(lines[1]), root = b64bytes(lines[2]);
  const sigs = text.slice(cut + 2).split("\n").filter((l) => l.startsWith("\u2014 "));
  const listed = Array.isArray(rules.witnesses) ? rules.witnesses : null;
  const counted = nodes.filter((n) => n.node_type === "compliance_witness" && n.status === "active" && (!listed || listed.includes(n.node_id)));
  const named = typeof rules.seal_threshold === "number";
  const threshold = named ? rules.seal_threshold : counted.length === 0 ? 0 : Math.floor(counted.length / 2) + 1;
  let hub = null;
  const witnesses = new Map();
  for (const line of sigs) {
    const [, name, b64sig] = line.split(" ");
    const raw = b64bytes(b64sig);
    const kh = tohex(raw.slice(0, 4));
    if (name === origin) {
      for (const n of nodes) {
        if (n.node_type !== "governance_hub" || n.status !== "active") continue;
        const pub = b64bytes(n.public_key);
        const h = (await sha256(concat(enc.encode(name + "\n"), [1], pub))).slice(0, 4);
        if (tohex(h) !== kh) continue;
        if (!(await ed25519Verify(pub, raw.slice(4), enc.encode(body)))) throw new Error("the seal's hub signature does not verify under hub " + n.node_id.slice(0, 8));
        hub = hub || n;
      }
    } else if (name.startsWith("govmesh-witness/")) {
      const id = name.slice("govmesh-witness/".length);
      // Only the witnesses clause 5.4 counts; any other cosigner is ignored.
      const n = counted.find((x) => x.node_id === id);
      if (!n) continue;
      const pub = b64bytes(n.public_key);
      const h = (await sha256(concat(enc.encode(name + "\n"), [4], pub))).slice(0, 4);
      if (tohex(h) !== kh) continue; // another key under the witness's name: not the witness
      let t = 0n;
      for (const b of raw.slice(4, 12)) t = (t << 8n) | BigInt(b);
      const msg = enc.encode("cosignature/v1\ntime " + t.toString() + "\n" + body);
      if (!(await ed25519Verify(pub, raw.slice(12), msg))) throw new Error("the cosignature of witness " + id.slice(0, 8) + " does not verify");
      witnesses.set(n.node_id, n);
    }
  }
  if (!hub) throw new Error("the seal carries no signature of an active registered hub");
  if (witnesses.size < threshold) {
    throw new Error("the seal carries " + witnesses.size + " valid witness cosignature" + (witnesses.size === 1 ? "" : "s") +
      " and clause 5.4 requires " + threshold + " (" + (named ? "seal_threshold " + threshold : "a majority") + " of " +
      counted.length + " counted witness" + (counted.length === 1 ? "" : "es") + ")");
  }
  return { size, root, hub, witnesses: Array.from(witnesses.values()), threshold };
}

function sealWords(seal) {
  return "seal of " + seal.size + " by hub " + seal.hub.node_id.slice(0, 8) + " with " + seal.witnesses.length +
    " witness cosignature" + (seal.witnesses.length === 1 ? "" : "s") + " (clause 5.4 requires " + seal.threshold + ")";
}

async function checkEntry(rec, seal, byKeyid, shown, proofs) {
  const env = rec.envelope;
  if (!env.signatures || env.signatures.length !== 1) return "entry " + rec.index + ": not exactly one signature";
  const s = env.signatures[0];
  const node = byKeyid.get(s.keyid);
  if (!node) return "entry " + rec.index + ": key " + s.keyid.slice(0, 8) + " is not registered";
  const payload = b64bytes(env.payload);
  let author;
  try { author = JSON.parse(new TextDecoder().decode(payload)).author; } catch (_) { return "entry " + rec.index + ": payload is not JSON"; }
  if (author !== node.node_id) return "entry " + rec.index + ": signed by " + node.node_id.slice(0, 8) + ", not its author " + String(author).slice(0, 8);
  // What the page shows must be what was signed.
  const op = JSON.parse(new TextDecoder().decode(payload)).type;
  if (shown && shown.dataset.shownAuthor && shown.dataset.shownAuthor !== author) return "entry " + rec.index + ": the page shows author " + shown.dataset.shownAuthor.slice(0, 8) + ", the signed entry says " + author.slice(0, 8);
  if (shown && shown.dataset.shownType && shown.dataset.shownType !== op) return "entry " + rec.index + ": the page shows operation " + shown.dataset.shownType + ", the signed entry is " + op;
  if (!(await ed25519Verify(b64bytes(node.public_key), b64bytes(s.sig), pae(env.payloadType, payload)))) {
    return "entry " + rec.index + ": signature does not verify under the author's registered key";
  }
  if (!seal) return "entry " + rec.index + ": signature ok; no seal to prove inclusion against";
  if (rec.index >= seal.size) return "entry " + rec.index + ": signature ok; newer than the latest seal (" + seal.size + " entries), inclusion not provable yet";
  const leaf = await sha256(concat([0], enc.encode(jcs(rec))));
  const p = proofs.get(rec.index) || (await getJSON("/v1/log/proof/inclusion?index=" + rec.index + "&size=" + seal.size));
  const root = await rootFromInclusion(rec.index, seal.size, leaf, p.proof.map(hexbytes));
  if (!equal(root, seal.root)) return "entry " + rec.index + ": inclusion proof does not lead to the sealed root";
  return null;
}

function badge(el, ok, words) {
  el.className = "verify " + (ok ? "ok" : "bad");
  el.textContent = words;
  el.setAttribute("role", "status");
}

async function verifyPage() {
  const main = document.querySelector("[data-verify]");
  if (!main) return;
  const marks = new Map();
  for (const el of document.querySelectorAll("[data-verify-entry]")) marks.set(Number(el.dataset.verifyEntry), el);
  let indexes = [];
  if (main.dataset.verify === "log") {
    for (let i = Number(main.dataset.start); i < Number(main.dataset.end); i++) indexes.push(i);
  } else {
    indexes = Array.from(marks.keys()).sort((a, b) => a - b);
  }
  if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
    badge(main, false, "not verified: this page is not a secure context (HTTPS or loopback), so the browser gives it no WebCrypto");
    return;
  }
  try {
    await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    if (e && e.name === "NotSupportedError") {
      badge(main, false, "not verified: this browser's WebCrypto has no Ed25519");
      return;
    }
  }
  if (main.dataset.verify === "seal") {
    main.className = "verify";
    main.textContent = "verifying the seal in this browser…";
    try {
      const nodes = await getAll("/v1/nodes", "nodes");
      const sr = await fetch("/v1/log/seal");
      if (!sr.ok) throw new Error("/v1/log/seal answered " + sr.status);
      const seal = await checkSeal(await sr.text(), nodes, await verificationRules());
      badge(main, true, "verified in this browser: " + sealWords(seal));
    } catch (e) {
      badge(main, false, "seal verification failed: " + (e && e.message ? e.message : e));
    }
    return;
  }
  if (indexes.length === 0) {
    badge(main, true, "no entries shown to verify");
    return;
  }
  main.className = "verify";
  main.textContent = "verifying in this browser…";
  const t0 = performance.now();
  try {
    const nodes = await getAll("/v1/nodes", "nodes");
    const byKeyid = new Map();
    for (const n of nodes) byKeyid.set(tohex(await sha256(b64bytes(n.public_key))), n);
    let seal = null;
    const sr = await fetch("/v1/log/seal");
    if (sr.ok) seal = await checkSeal(await sr.text(), nodes, await verificationRules());
    const records = [];
    if (main.dataset.verify === "log") {
      records.push(...(await getJSON("/v1/log/entries?start=" + indexes[0] + "&end=" + (indexes[indexes.length - 1] + 1))).entries);
    } else {
      for (const i of indexes) records.push(...(await getJSON("/v1/log/entries?start=" + i + "&end=" + (i + 1))).entries);
    }
    // A run of entries (the log page) takes its proofs in one request; the root it
    // names is not trusted: each proof must lead to the seal's root.
    const proofs = new Map();
    if (seal && main.dataset.verify === "log" && records.length > 1) {
      const from = records[0].index, to = Math.min(records[records.length - 1].index + 1, seal.size);
      if (to > from) {
        const batch = await getJSON("/v1/log/proof/inclusions?start=" + from + "&end=" + to + "&size=" + seal.size);
        for (const p of batch.proofs) proofs.set(p.index, p);
      }
    }
    const failures = [];
    const pending = [];
    // All entries at once: any proofs still needed are fetched side by side.
    const whys = await Promise.all(records.map((rec) => checkEntry(rec, seal, byKeyid, marks.get(rec.index), proofs)));
    for (const [k, rec] of records.entries()) {
      const mark = marks.get(rec.index);
      const why = whys[k];
      const notYet = why && why.includes("signature ok;");
      if (mark) badge(mark, !why || notYet, !why ? "✓" : notYet ? "signed; not yet sealed" : "✗ " + why.replace(/^entry \d+: /, ""));
      if (why && notYet) pending.push(rec.index);
      else if (why) failures.push(why);
    }
    if (failures.length > 0) {
      badge(main, false, "verification failed: " + failures[0] + (failures.length > 1 ? " (and " + (failures.length - 1) + " more)" : ""));
    } else {
      const against = seal ? "the " + sealWords(seal) : "no seal yet";
      badge(main, true, "verified in this browser: " + (records.length - pending.length) + " entries against " + against + (pending.length ? "; " + pending.length + " newer than the seal (signatures checked)" : ""));
    }
  } catch (e) {
    badge(main, false, "verification failed: " + (e && e.message ? e.message : e));
  } finally {
    // How long the checks took, for `cargo bench --bench dashboard`.
    main.dataset.verifyMs = (performance.now() - t0).toFixed(1);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupForms();
  setupOwnKey();
  setupLive();
  verifyPage();
  document.addEventListener("govmesh:refreshed", verifyPage);
});
