//! Differences between two revisions of a contract, clause by clause: added, removed
//! and changed clauses, a unified line diff of each changed text, and every changed
//! rule as a JSON Pointer with its old and new value.

use crate::digest::Digest;
use crate::model::{Clause, Contract};
use serde::Serialize;
use serde_json::{Map, Value};
use similar::TextDiff;

/// Lines of context around each change in the unified text diff.
const CONTEXT_LINES: usize = 3;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContractDiff {
    /// The contract id of `to` (a diff is normally between revisions of one contract).
    pub contract_id: String,
    pub from_revision: u64,
    pub to_revision: u64,
    pub from_hash: Digest,
    pub to_hash: Digest,
    /// Set when the label differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<ValueChange<String>>,
    /// Added, removed and changed clauses: those of `to` in its order, then the
    /// removed ones in `from`'s order. Unchanged clauses are not listed here.
    pub clauses: Vec<ClauseDiff>,
    /// Ids of clauses present and identical in both revisions.
    pub unchanged_clauses: Vec<String>,
}

impl ContractDiff {
    /// True when the two revisions have the same clauses and label.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty() && self.label.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValueChange<T> {
    pub old: T,
    pub new: T,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClauseDiff {
    pub clause_id: String,
    pub change: Change,
    /// Set when the title differs (or the clause was added or removed: one side empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<ValueChange<String>>,
    /// Unified line diff of the text (`--- a/<id>` / `+++ b/<id>`); empty when the text
    /// is the same.
    pub text_diff: String,
    /// Changed rules, by JSON Pointer into the clause's `rules`, in document order.
    pub rule_changes: Vec<RuleChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleChange {
    /// RFC 6901 JSON Pointer into the clause's rules (`""` for the rules as a whole).
    pub path: String,
    pub change: Change,
    /// The value before (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value after (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// The difference from revision `from` to revision `to`.
pub fn contract_diff(from: &Contract, to: &Contract) -> ContractDiff {
    let mut clauses = Vec::new();
    let mut unchanged_clauses = Vec::new();
    for new in &to.clauses {
        match from.clause(&new.clause_id) {
            Some(old) if old == new => unchanged_clauses.push(new.clause_id.clone()),
            Some(old) => clauses.push(clause_diff(Change::Changed, old, new)),
            None => clauses.push(clause_diff(Change::Added, &empty(new), new)),
        }
    }
    for old in &from.clauses {
        if to.clause(&old.clause_id).is_none() {
            clauses.push(clause_diff(Change::Removed, old, &empty(old)));
        }
    }
    ContractDiff {
        contract_id: to.contract_id.clone(),
        from_revision: from.revision,
        to_revision: to.revision,
        from_hash: from.contract_hash,
        to_hash: to.contract_hash,
        label: (from.label != to.label).then(|| ValueChange {
            old: from.label.clone(),
            new: to.label.clone(),
        }),
        clauses,
        unchanged_clauses,
    }
}

/// The absent side of an added or removed clause: no title, no text, no rules.
fn empty(like: &Clause) -> Clause {
    Clause {
        clause_id: like.clause_id.clone(),
        title: String::new(),
        text: String::new(),
        rules: Value::Object(Map::new()),
    }
}

fn clause_diff(change: Change, old: &Clause, new: &Clause) -> ClauseDiff {
    let mut rule_changes = Vec::new();
    diff_values(
        &mut String::new(),
        &old.rules,
        &new.rules,
        &mut rule_changes,
    );
    ClauseDiff {
        clause_id: new.clause_id.clone(),
        change,
        title: (old.title != new.title).then(|| ValueChange {
            old: old.title.clone(),
            new: new.title.clone(),
        }),
        text_diff: text_diff(&new.clause_id, &old.text, &new.text),
        rule_changes,
    }
}

/// Unified line diff of two texts; empty when they are equal.
pub fn text_diff(clause_id: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    // A text without a final newline would otherwise end in "\ No newline at end of
    // file" markers that say nothing about the clause.
    let old = with_final_newline(old);
    let new = with_final_newline(new);
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(CONTEXT_LINES)
        .header(&format!("a/{clause_id}"), &format!("b/{clause_id}"))
        .to_string()
}

fn with_final_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_owned()
    } else {
        format!("{s}\n")
    }
}

/// Appends to `out` every difference between `old` and `new` below `path`. Objects are
/// compared key by key and arrays of equal length element by element; anything else
/// that differs is one change of the whole value.
fn diff_values(path: &mut String, old: &Value, new: &Value, out: &mut Vec<RuleChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let len = path.len();
                push_token(path, k);
                match b.get(k) {
                    Some(vb) => diff_values(path, va, vb, out),
                    None => out.push(RuleChange {
                        path: path.clone(),
                        change: Change::Removed,
                        old: Some(va.clone()),
                        new: None,
                    }),
                }
                path.truncate(len);
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    let len = path.len();
                    push_token(path, k);
                    out.push(RuleChange {
                        path: path.clone(),
                        change: Change::Added,
                        old: None,
                        new: Some(vb.clone()),
                    });
                    path.truncate(len);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                push_token(path, &i.to_string());
                diff_values(path, va, vb, out);
                path.truncate(len);
            }
        }
        _ => out.push(RuleChange {
            path: path.clone(),
            change: Change::Changed,
            old: Some(old.clone()),
            new: Some(new.clone()),
        }),
    }
}

/// Appends `/token` with RFC 6901 escaping (`~` as `~0`, `/` as `~1`).
fn push_token(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::Timestamp;
    use serde_json::json;

    fn clause(id: &str, text: &str, rules: Value) -> Clause {
        Clause {
            clause_id: id.into(),
            title: format!("Clause {id}"),
            text: text.into(),
            rules,
        }
    }

    fn contract(revision: u64, clauses: Vec<Clause>) -> Contract {
        let mut c = Contract {
            contract_id: "codex".into(),
            label: "v2025.05.18".into(),
            revision,
            clauses,
            parent_hash: None,
            adopted_by_proposal: None,
            adopted_at: Timestamp(0),
            domain_id: None,
            contract_hash: Digest::default(),
        };
        c.contract_hash = c.compute_hash().unwrap();
        c
    }

    fn base() -> Contract {
        contract(
            1,
            vec![
                clause(
                    "5.4",
                    "Witnesses cosign.\nSeals need a threshold.\n",
                    json!({"seal_threshold": 1}),
                ),
                clause(
                    "5.5",
                    "Hubs propose.\nHubs vote.\nWitnesses validate.\n",
                    json!({"default_voting_policy": {"quorum": 0.334, "threshold": 0.5},
                           "roles": ["hub", "witness"], "a/b": {"x~y": 1}}),
                ),
                clause("11.0", "Log.", json!({})),
            ],
        )
    }

    #[test]
    fn identical_revisions_have_no_differences() {
        let d = contract_diff(&base(), &base());
        assert!(d.is_empty());
        assert_eq!(d.unchanged_clauses, ["5.4", "5.5", "11.0"]);
        assert_eq!(d.from_hash, d.to_hash);
    }

    #[test]
    fn changed_text_and_rules() {
        let from = base();
        let mut to = base();
        to.revision = 2;
        to.clauses[1].text = "Hubs propose.\nHubs and forks vote.\nWitnesses validate.\n".into();
        to.clauses[1].rules = json!({
            "default_voting_policy": {"quorum": 0.334, "threshold": 0.6, "veto": 0.2},
            "roles": ["hub", "fork"],
            "a/b": {}
        });
        to.contract_hash = to.compute_hash().unwrap();
        let d = contract_diff(&from, &to);
        assert_eq!((d.from_revision, d.to_revision), (1, 2));
        assert_ne!(d.from_hash, d.to_hash);
        assert_eq!(d.unchanged_clauses, ["5.4", "11.0"]);
        assert_eq!(d.clauses.len(), 1);
        let c = &d.clauses[0];
        assert_eq!(c.clause_id, "5.5");
        assert_eq!(c.change, Change::Changed);
        assert_eq!(c.title, None);
        assert!(
            c.text_diff.starts_with("--- a/5.5\n+++ b/5.5\n"),
            "{}",
            c.text_diff
        );
        assert!(
            c.text_diff
                .contains("\n-Hubs vote.\n+Hubs and forks vote.\n"),
            "{}",
            c.text_diff
        );
        assert!(
            c.text_diff.contains("\n Hubs propose.\n"),
            "{}",
            c.text_diff
        );
        let got: Vec<(&str, Change, Option<&Value>, Option<&Value>)> = c
            .rule_changes
            .iter()
            .map(|r| (r.path.as_str(), r.change, r.old.as_ref(), r.new.as_ref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/a~1b/x~0y", Change::Removed, Some(&json!(1)), None),
                (
                    "/default_voting_policy/threshold",
                    Change::Changed,
                    Some(&json!(0.5)),
                    Some(&json!(0.6))
                ),
                (
                    "/default_voting_policy/veto",
                    Change::Added,
                    None,
                    Some(&json!(0.2))
                ),
                (
                    "/roles/1",
                    Change::Changed,
                    Some(&json!("witness")),
                    Some(&json!("fork"))
                ),
            ]
        );
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(j["clauses"][0]["change"], "changed");
        assert!(j["clauses"][0]["rule_changes"][0].get("new").is_none());
        crate::schema::validate("contract-diff", &j).unwrap();
    }

    #[test]
    fn arrays_of_different_length_change_as_a_whole() {
        let mut out = Vec::new();
        diff_values(
            &mut String::new(),
            &json!({"w": [1, 2]}),
            &json!({"w": [1, 2, 3]}),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, "/w");
        assert_eq!(out[0].new, Some(json!([1, 2, 3])));
        let mut out = Vec::new();
        diff_values(
            &mut String::new(),
            &json!({"w": 1}),
            &json!(["x"]),
            &mut out,
        );
        assert_eq!(out[0].path, "");
        assert_eq!(out[0].change, Change::Changed);
    }

    #[test]
    fn added_and_removed_clauses() {
        let from = base();
        let mut to = base();
        to.revision = 2;
        let removed = to.clauses.remove(0);
        to.clauses.push(clause(
            "11.1",
            "Verify.\n",
            json!({"checks": ["signature"]}),
        ));
        to.label = "v2026".into();
        let d = contract_diff(&from, &to);
        let ids: Vec<(&str, Change)> = d
            .clauses
            .iter()
            .map(|c| (c.clause_id.as_str(), c.change))
            .collect();
        assert_eq!(ids, [("11.1", Change::Added), ("5.4", Change::Removed)]);
        let added = &d.clauses[0];
        assert_eq!(added.title.as_ref().unwrap().new, "Clause 11.1");
        assert_eq!(added.title.as_ref().unwrap().old, "");
        assert!(added.text_diff.contains("+Verify.\n"));
        assert_eq!(added.rule_changes[0].path, "/checks");
        assert_eq!(added.rule_changes[0].change, Change::Added);
        let gone = &d.clauses[1];
        assert!(
            gone.text_diff
                .contains("-Witnesses cosign.\n-Seals need a threshold.\n")
        );
        assert_eq!(
            gone.rule_changes[0].old,
            Some(removed.rules["seal_threshold"].clone())
        );
        assert_eq!(d.label.as_ref().unwrap().new, "v2026");
        assert!(!d.is_empty());
        crate::schema::validate("contract-diff", &serde_json::to_value(&d).unwrap()).unwrap();
    }

    #[test]
    fn text_without_final_newline_gets_no_marker() {
        let t = text_diff("1", "a\nb", "a\nc");
        assert!(!t.contains("No newline"), "{t}");
        assert!(t.contains("-b\n+c\n"), "{t}");
        assert_eq!(text_diff("1", "same", "same"), "");
    }

    /// Applies rule changes to `old` (the test's own reading of what they mean).
    fn apply(old: &Value, changes: &[RuleChange]) -> Value {
        let mut v = old.clone();
        for c in changes {
            if c.change == Change::Changed {
                *v.pointer_mut(&c.path).unwrap() = c.new.clone().unwrap();
                continue;
            }
            let (parent, last) = c.path.rsplit_once('/').unwrap();
            let key = last.replace("~1", "/").replace("~0", "~");
            let obj = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
            match c.change {
                Change::Added => assert!(obj.insert(key, c.new.clone().unwrap()).is_none()),
                Change::Removed => assert!(obj.remove(&key).is_some()),
                Change::Changed => unreachable!(),
            }
        }
        v
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (0u8..4).prop_map(Value::from),
            "[a/~]{0,2}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[ab/~]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn rule_changes_turn_old_into_new(a in json_value(), b in json_value()) {
            let mut out = Vec::new();
            diff_values(&mut String::new(), &a, &b, &mut out);
            proptest::prop_assert_eq!(out.is_empty(), a == b);
            proptest::prop_assert_eq!(apply(&a, &out), b);
        }
    }
}
