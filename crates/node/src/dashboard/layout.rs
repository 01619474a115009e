//! The page shell (header, navigation, footer) and the small pieces every page uses:
//! times, short ids, status badges, tally bars. maud escapes every interpolated value.

use govmesh_core::Timestamp;
use govmesh_core::model::{NodeRecord, ProposalStatus, VotingPolicy, VotingResult};
use maud::{DOCTYPE, Markup, html};
use std::collections::BTreeMap;

/// The navigation: (path, label). `current` of [`page`] is one of the paths.
const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/topology", "Topology"),
    ("/proposals", "Proposals"),
    ("/contracts", "Contracts"),
    ("/sync", "Sync"),
    ("/domains", "Domains"),
    ("/trust", "Trust"),
    ("/log", "Log"),
];

/// What the header shows about the mesh and this node.
pub(crate) struct Header<'a> {
    pub mesh_name: &'a str,
    pub node_id: &'a str,
    pub node_type: &'a str,
}

/// A whole page: `title`, the navigation with `current` marked, then `body`.
pub(crate) fn page(h: &Header<'_>, title: &str, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (h.mesh_name) " · govmesh" }
                link rel="stylesheet" href="/static/dashboard.css";
                link rel="alternate" type="application/atom+xml" title="Proposals, decisions and adoptions" href="/v1/feed.atom";
                script src="/static/dashboard.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.brand {
                        a href="/" { span.logo aria-hidden="true" { "◆" } " govmesh" }
                        span.mesh { (h.mesh_name) }
                    }
                    nav aria-label="Pages" {
                        ul {
                            @for (href, label) in NAV {
                                li {
                                    @if *href == current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                            li { a href="/v1/openapi.json" { "API" } }
                        }
                    }
                    div.me title="The node serving this page" {
                        span.role.(role_class(h.node_type)) { (h.node_type) }
                        " "
                        a href={ "/nodes/" (h.node_id) } { code { (short(h.node_id)) } }
                    }
                }
                main #main {
                    h1 { (title) }
                    // The last action's answer, kept when the form it came from is
                    // replaced by a live update.
                    p #notice role="status" aria-live="polite" {}
                    (body)
                }
                footer {
                    p {
                        "Served by node " code { (h.node_id) } ". Every page is built from this node's "
                        a href="/v1/openapi.json" { "JSON API" }
                        "; what it shows is only as good as this node, unless verified. "
                        a href="/v1/ui/components" { "UI components" }
                    }
                }
            }
        }
    }
}

/// The page for a refused request (no navigation state needed).
pub(crate) fn error_page(status: u16, reason: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (status) " " (reason) " · govmesh" }
                link rel="stylesheet" href="/static/dashboard.css";
            }
            body {
                header.top {
                    div.brand { a href="/" { span.logo aria-hidden="true" { "◆" } " govmesh" } }
                    nav aria-label="Pages" {
                        ul { @for (href, label) in NAV { li { a href=(href) { (label) } } } }
                    }
                }
                main #main {
                    h1 { (status) " " (reason) }
                    p.error-message role="alert" { (message) }
                    p { a href="/" { "Back to the overview" } }
                }
            }
        }
    }
}

/// The first 8 characters of an id (ids are UUIDs or hex digests).
pub(crate) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

pub(crate) fn role_class(node_type: &str) -> &'static str {
    match node_type {
        "governance_hub" => "hub",
        "compliance_witness" => "witness",
        "trust_fork" => "fork",
        _ => "other",
    }
}

/// Node ids to names: display name where registered, else the short id.
pub(crate) struct Names(BTreeMap<String, String>);

impl Names {
    pub fn of(nodes: &[NodeRecord]) -> Names {
        Names(
            nodes
                .iter()
                .map(|n| {
                    let name = n
                        .display_name
                        .clone()
                        .unwrap_or_else(|| short(&n.node_id).to_owned());
                    (n.node_id.clone(), name)
                })
                .collect(),
        )
    }

    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.0.get(id).map_or_else(|| short(id), String::as_str)
    }

    /// A link to the node's page, named.
    pub fn link(&self, id: &str) -> Markup {
        html! { a.node href={ "/nodes/" (id) } title=(id) { (self.name(id)) } }
    }
}

/// `2026-12-05 17:29:42 UTC` in a `<time>` element.
pub(crate) fn time(t: Timestamp) -> Markup {
    let s = t.to_rfc3339();
    let shown = s.get(..19).unwrap_or(&s).replace('T', " ");
    html! { time datetime=(s) { (shown) " UTC" } }
}

/// "3 h 12 min", "45 s": a duration in words.
pub(crate) fn span_words(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

pub(crate) fn status_word(s: ProposalStatus) -> &'static str {
    match s {
        ProposalStatus::Draft => "draft",
        ProposalStatus::Voting => "voting",
        ProposalStatus::Adopted => "adopted",
        ProposalStatus::Rejected => "rejected",
        ProposalStatus::Withdrawn => "withdrawn",
    }
}

pub(crate) fn status_badge(s: ProposalStatus) -> Markup {
    let w = status_word(s);
    html! { span.badge.(w) data-status=(w) { (w) } }
}

/// A share of a whole as a percentage (0 when the whole is 0).
pub(crate) fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// One bar: `value` percent filled, a marker at `mark` percent, a label and what it
/// means in words (the words are the accessible reading).
fn bar(class: &str, label: &str, value: f64, mark: Option<(f64, &str)>, words: &str) -> Markup {
    let v = value.clamp(0.0, 100.0);
    html! {
        div.bar-row {
            div.bar-label { (label) }
            div.bar role="img" aria-label=(words) {
                div.fill.(class) style=(format!("width:{v:.1}%")) {}
                @if let Some((m, mlabel)) = mark {
                    div.mark style=(format!("left:{:.1}%", m.clamp(0.0, 100.0))) title=(mlabel) {}
                }
            }
            div.bar-words { (words) }
        }
    }
}

/// The tally as bars against quorum, threshold and veto.
pub(crate) fn tally_bars(r: &VotingResult, policy: Option<&VotingPolicy>) -> Markup {
    let cast = r.approve_weight + r.reject_weight + r.abstain_weight + r.veto_weight;
    let decisive = r.approve_weight + r.reject_weight;
    let turnout = pct(cast, r.eligible_weight);
    let approval = pct(r.approve_weight, decisive);
    let veto = pct(r.veto_weight, cast);
    let q = policy.map(|p| p.quorum * 100.0);
    let t = policy.map(|p| p.threshold * 100.0);
    let vt = policy.map(|p| p.veto * 100.0);
    let qs = q.map(|q| format!("quorum {q:.0}%"));
    let ts = t.map(|t| format!("threshold {t:.1}%"));
    let vs = vt.map(|v| format!("veto {v:.0}%"));
    html! {
        div.tally data-part="tally" {
            (bar("turnout", "Turnout", turnout, q.zip(qs.as_deref()),
                &format!("{cast} of {} weight voted ({turnout:.0}%){}", r.eligible_weight,
                    qs.as_ref().map(|s| format!(", {s} {}", if r.quorum_reached { "reached" } else { "not reached" })).unwrap_or_default())))
            (bar("approve", "Approve", approval, t.zip(ts.as_deref()),
                &format!("{} approve, {} reject by weight ({approval:.0}% approve){}", r.approve_weight, r.reject_weight,
                    ts.as_ref().map(|s| format!(", must exceed {s}")).unwrap_or_default())))
            (bar("veto", "Veto", veto, vt.zip(vs.as_deref()),
                &format!("{} veto weight ({veto:.0}% of cast){}", r.veto_weight,
                    vs.as_ref().map(|s| format!(", rejects at {s}")).unwrap_or_default())))
            p.counts {
                (r.approve_votes) " approve · " (r.reject_votes) " reject · "
                (r.abstain_votes) " abstain · " (r.veto_votes) " veto · "
                (r.total_votes) " votes"
            }
        }
    }
}

/// A small approval/turnout meter for lists.
pub(crate) fn mini_tally(r: &VotingResult) -> Markup {
    let cast = r.approve_weight + r.reject_weight + r.abstain_weight + r.veto_weight;
    let turnout = pct(cast, r.eligible_weight);
    let words = format!(
        "{} approve, {} reject, {} abstain, {} veto of {} eligible weight",
        r.approve_weight, r.reject_weight, r.abstain_weight, r.veto_weight, r.eligible_weight
    );
    let seg = |w: u64| format!("width:{:.1}%", pct(w, r.eligible_weight));
    html! {
        div.mini title=(words) role="img" aria-label=(words) {
            div.fill.approve style=(seg(r.approve_weight)) {}
            div.fill.reject style=(seg(r.reject_weight)) {}
            div.fill.abstain style=(seg(r.abstain_weight)) {}
            div.fill.veto style=(seg(r.veto_weight)) {}
        }
        span.small { (format!("{turnout:.0}% voted")) }
    }
}

/// Pretty JSON in a `<pre>`.
pub(crate) fn json_block(v: &serde_json::Value) -> Markup {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    html! { pre.json { code { (text) } } }
}

/// A unified diff with added and removed lines marked.
pub(crate) fn diff_block(text: &str) -> Markup {
    html! {
        pre.diff {
            @for line in text.lines() {
                @let class = if line.starts_with("+++") || line.starts_with("---") { "file" }
                    else if line.starts_with('+') { "add" }
                    else if line.starts_with('-') { "del" }
                    else if line.starts_with("@@") { "hunk" }
                    else { "ctx" };
                span.(class) { (line) } "\n"
            }
        }
    }
}

/// The operator token field of a form (JavaScript fills it from the session and
/// hides it once a token is kept).
pub(crate) fn token_field(id: &str) -> Markup {
    html! {
        div.field.token-field {
            label for=(id) { "Operator token" }
            input type="password" id=(id) name="token" autocomplete="off" required;
            small { "The token in this node's data directory (" code { "operator.token" } "). It is sent only to this node." }
        }
    }
}

/// The box where a user pastes their own key (JavaScript only: hidden until the
/// script shows it). The key is imported into the page and never sent.
pub(crate) fn own_key_box() -> Markup {
    html! {
        section.card.own-key #own-key hidden aria-labelledby="h-own-key" {
            h2 #h-own-key { "Sign with your own key" }
            p.small {
                "Instead of this node's operator token: paste your key file (from " code { "govmesh key new" } ", or a node's " code { "node.key" } "). "
                "This page signs the entry in your browser (WebCrypto Ed25519) and sends only the signed entry, to " code { "POST /v1/entries" } ". "
                "The key never leaves the page, and leaving the page forgets it."
            }
            div.field {
                label for="k-file" { "Key file (JSON)" }
                textarea #k-file rows="4" autocomplete="off" spellcheck="false" {}
            }
            div.field.actions {
                button #k-use type="button" { "Use this key" }
                button.secondary #k-forget type="button" hidden { "Forget the key" }
            }
            output.result #k-state role="status" aria-live="polite" {}
        }
    }
}
