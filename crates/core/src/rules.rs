//! The machine-readable rules of the governing contract's clauses other than 5.5
//! ([`GovernanceRules`](crate::model::GovernanceRules)), read where they take effect:
//! clause 5.4 (who may cosign a seal, how many must, the sync deadline, the cosigning
//! timeout, the trust model) and clause 11.0/11.1 (the log's formats and checks, which protocol v1
//! fixes). A proposal that would leave a clause with rules the code cannot honour is
//! refused when it is opened ([`check_change`]).

use crate::model::NodeType;
use crate::state::State;
use crate::trust::TrustModel;
use serde::Deserialize;
use serde_json::Value;

/// The clause whose rules are [`VerificationRules`].
pub const VERIFICATION_CLAUSE: &str = "5.4";
/// The log format clause: fixed by protocol v1.
pub const LOG_FORMAT_CLAUSE: &str = "11.0";
/// The verification checks clause: fixed by protocol v1.
pub const CHECKS_CLAUSE: &str = "11.1";

/// Sync deadline when the governing contract names none.
pub const DEFAULT_SYNC_DEADLINE_SECS: u64 = 300;
/// Cosigning timeout when the governing contract names none.
pub const DEFAULT_COSIGN_TIMEOUT_SECS: u64 = 10;
/// The longest cosigning timeout honoured (a witness slower than this is down).
pub const MAX_COSIGN_TIMEOUT_SECS: u64 = 3600;
/// The replay window of the genesis Codex: one day.
pub const GENESIS_REPLAY_WINDOW_SECS: u64 = 86_400;
/// The narrowest replay window: the refusal window
/// ([`crate::state::REFUSAL_WINDOW_SECS`]), so that an envelope fresh enough for its
/// refusal to be recorded is always still remembered if the log accepted it.
pub const MIN_REPLAY_WINDOW_SECS: u64 = crate::state::REFUSAL_WINDOW_SECS;
/// The widest replay window: a year. The remembered hashes are the entries of about
/// two windows of log time, so the window bounds a node's memory.
pub const MAX_REPLAY_WINDOW_SECS: u64 = 366 * 86_400;

/// Clause 5.4 (Distributed Verification Network) as the code reads it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct VerificationRules {
    /// The compliance witnesses whose cosignatures count toward a seal (those of them
    /// that are registered and active). None when the clause does not list them: then
    /// every active compliance witness counts.
    #[serde(default)]
    pub witnesses: Option<Vec<String>>,
    /// How many of them must cosign; none: a majority of them.
    #[serde(default)]
    pub seal_threshold: Option<u64>,
    #[serde(default = "default_sync_deadline")]
    pub sync_deadline_secs: u64,
    #[serde(default = "default_cosign_timeout")]
    pub checkpoint_cosign_timeout_secs: u64,
    /// The trust model ([`crate::trust`]); the genesis model when the clause names none.
    #[serde(default)]
    pub trust_model: TrustModel,
    /// How far an entry's `signed_at` may be from its record's time; none (a mesh
    /// founded before the rule): entries need no `signed_at` and replay detection
    /// keeps every entry hash (see `state/replay.rs`).
    #[serde(default)]
    pub replay_window_secs: Option<u64>,
}

fn default_sync_deadline() -> u64 {
    DEFAULT_SYNC_DEADLINE_SECS
}

fn default_cosign_timeout() -> u64 {
    DEFAULT_COSIGN_TIMEOUT_SECS
}

impl Default for VerificationRules {
    fn default() -> Self {
        VerificationRules {
            witnesses: None,
            seal_threshold: None,
            sync_deadline_secs: DEFAULT_SYNC_DEADLINE_SECS,
            checkpoint_cosign_timeout_secs: DEFAULT_COSIGN_TIMEOUT_SECS,
            trust_model: TrustModel::default(),
            replay_window_secs: None,
        }
    }
}

impl VerificationRules {
    /// Reads and checks clause 5.4's rules, the trust model included; the error says
    /// which part is wrong.
    pub fn from_rules(rules: &Value) -> Result<VerificationRules, String> {
        let r = VerificationRules::deserialize(rules)
            .map_err(|e| format!("clause 5.4 rules are malformed: {e}"))?;
        if let Some(ws) = &r.witnesses {
            let mut seen = std::collections::BTreeSet::new();
            if let Some(dup) = ws.iter().find(|w| !seen.insert(w.as_str())) {
                return Err(format!("clause 5.4 witnesses lists {dup:?} twice"));
            }
            if let Some(t) = r.seal_threshold
                && t > ws.len() as u64
            {
                return Err(format!(
                    "clause 5.4 seal_threshold {t} is more than the {} listed witness(es): no seal could ever be made",
                    ws.len()
                ));
            }
        }
        if r.sync_deadline_secs == 0 {
            return Err("clause 5.4 sync_deadline_secs must be at least 1".into());
        }
        if !(1..=MAX_COSIGN_TIMEOUT_SECS).contains(&r.checkpoint_cosign_timeout_secs) {
            return Err(format!(
                "clause 5.4 checkpoint_cosign_timeout_secs must be 1 to {MAX_COSIGN_TIMEOUT_SECS}, not {}",
                r.checkpoint_cosign_timeout_secs
            ));
        }
        if let Some(w) = r.replay_window_secs
            && !(MIN_REPLAY_WINDOW_SECS..=MAX_REPLAY_WINDOW_SECS).contains(&w)
        {
            return Err(format!(
                "clause 5.4 replay_window_secs must be {MIN_REPLAY_WINDOW_SECS} to {MAX_REPLAY_WINDOW_SECS} (seconds), not {w}"
            ));
        }
        Ok(r)
    }

    /// Clause 5.4 of the governing contract in `state`: the defaults where the state has
    /// no governing contract or the clause is missing.
    pub fn of(state: &State) -> Result<VerificationRules, String> {
        let rules = state
            .governing_contract_id()
            .and_then(|id| state.contract(id))
            .and_then(|c| c.clause(VERIFICATION_CLAUSE))
            .map(|cl| &cl.rules);
        match rules {
            Some(r) => VerificationRules::from_rules(r),
            None => Ok(VerificationRules::default()),
        }
    }

    /// Whether `node_id` is one of the witnesses clause 5.4 lets cosign (listed, or any
    /// when the clause lists none). Registration and status are checked by the caller.
    pub fn lists(&self, node_id: &str) -> bool {
        self.witnesses
            .as_ref()
            .is_none_or(|ws| ws.iter().any(|w| w == node_id))
    }

    /// The witnesses of `state` whose cosignatures count: active compliance witnesses
    /// that clause 5.4 lists.
    pub fn counted_witnesses<'s>(
        &self,
        state: &'s State,
    ) -> impl Iterator<Item = &'s crate::model::NodeRecord> {
        state.nodes().into_iter().filter(move |n| {
            n.node_type == NodeType::ComplianceWitness
                && n.status == crate::model::NodeStatus::Active
                && self.lists(&n.node_id)
        })
    }

    /// The seal threshold: `seal_threshold`, or a majority of the counted witnesses
    /// (0 with none).
    pub fn threshold(&self, state: &State) -> usize {
        match self.seal_threshold {
            Some(t) => usize::try_from(t).unwrap_or(usize::MAX),
            None => {
                let n = self.counted_witnesses(state).count();
                if n == 0 { 0 } else { n / 2 + 1 }
            }
        }
    }
}

/// Clause 11.0's checkpoint cadence: hubs seal the log at least every
/// `max_interval_secs` while entries are pending, and before more than
/// `max_entries_between` entries are pending. A bound, not a batch size: hubs seal
/// sooner when they can; a hub past the bound reports its seal overdue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointCadence {
    pub max_interval_secs: u64,
    pub max_entries_between: u64,
}

/// The cadence when the governing contract names none.
pub const DEFAULT_CADENCE: CheckpointCadence = CheckpointCadence {
    max_interval_secs: 60,
    max_entries_between: 1000,
};

impl CheckpointCadence {
    /// Clause 11.0's cadence in the governing contract of `state` (the default for a
    /// key that is missing or not a positive integer, which no proposal can adopt).
    pub fn of(state: &State) -> CheckpointCadence {
        let rules = state
            .governing_contract_id()
            .and_then(|id| state.contract(id))
            .and_then(|c| c.clause(LOG_FORMAT_CLAUSE))
            .map(|cl| &cl.rules);
        let key = |k: &str, default: u64| {
            rules
                .and_then(|r| r.pointer(&format!("/checkpoint/{k}")))
                .and_then(Value::as_u64)
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
        CheckpointCadence {
            max_interval_secs: key("max_interval_secs", DEFAULT_CADENCE.max_interval_secs),
            max_entries_between: key("max_entries_between", DEFAULT_CADENCE.max_entries_between),
        }
    }

    /// Why a log with `pending` unsealed entries, the oldest `oldest_age_secs` old, is
    /// past the cadence; none while it is within it.
    pub fn overdue(&self, pending: u64, oldest_age_secs: f64) -> Option<String> {
        if pending == 0 {
            return None;
        }
        if pending > self.max_entries_between {
            return Some(format!(
                "{pending} entries are not sealed; clause 11.0 checkpoint.max_entries_between is {}",
                self.max_entries_between
            ));
        }
        if oldest_age_secs > self.max_interval_secs as f64 {
            return Some(format!(
                "the oldest of {pending} unsealed entries is {oldest_age_secs:.0} s old; clause 11.0 checkpoint.max_interval_secs is {}",
                self.max_interval_secs
            ));
        }
        None
    }
}

/// The keys of clause 11.0 that are a governed setting rather than a description of
/// the format: the checkpoint cadence (`/checkpoint/<key>`).
pub const CADENCE_KEYS: [&str; 2] = ["max_interval_secs", "max_entries_between"];

/// Clause 11.0's rules without the cadence keys: what protocol v1 fixes.
fn format_part(rules: &Value) -> Value {
    let mut v = rules.clone();
    if let Some(cp) = v.get_mut("checkpoint").and_then(Value::as_object_mut) {
        for k in CADENCE_KEYS {
            cp.remove(k);
        }
    }
    v
}

/// Checks the rules a change would leave in a clause of the governing contract:
/// clause 5.4's must read as [`VerificationRules`]; clauses 11.0 and 11.1 describe
/// what protocol v1 does, so only their text and clause 11.0's checkpoint cadence
/// (positive integers) may change. Other clauses are checked by their own readers
/// (5.5 by `GovernanceRules`, 5.2.5 by the hygiene policy).
pub fn check_change(clause_id: &str, old: &Value, new: &Value) -> Result<(), String> {
    match clause_id {
        VERIFICATION_CLAUSE => {
            let r = VerificationRules::from_rules(new)?;
            if old.get("replay_window_secs").is_some() && r.replay_window_secs.is_none() {
                return Err(
                    "clause 5.4 replay_window_secs may be changed but not removed: \
                            the entries the log no longer remembers are told from replays \
                            only by their signed_at"
                        .into(),
                );
            }
            Ok(())
        }
        LOG_FORMAT_CLAUSE | CHECKS_CLAUSE if format_part(old) != format_part(new) => Err(format!(
            "clause {clause_id}'s rules describe the log format and checks that protocol \
                 v1 implements; no proposal can change what the code does, so they are fixed \
                 (the text{} may change)",
            if clause_id == LOG_FORMAT_CLAUSE {
                " and the checkpoint cadence"
            } else {
                ""
            }
        )),
        LOG_FORMAT_CLAUSE => {
            for k in CADENCE_KEYS {
                let v = new.pointer(&format!("/checkpoint/{k}"));
                if v.is_some_and(|v| v.as_u64().is_none_or(|n| n == 0)) {
                    return Err(format!(
                        "clause 11.0 checkpoint.{k} must be a positive integer"
                    ));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clause_5_4_rules_are_read_and_checked() {
        let r = VerificationRules::from_rules(&json!({
            "witnesses": ["w1", "w2"], "seal_threshold": 2,
            "sync_deadline_secs": 30, "checkpoint_cosign_timeout_secs": 5,
            "trust_model": crate::trust::TrustModel::genesis_json()
        }))
        .unwrap();
        assert!(r.lists("w1") && !r.lists("w3"));
        assert_eq!(
            (r.sync_deadline_secs, r.checkpoint_cosign_timeout_secs),
            (30, 5)
        );
        assert!(VerificationRules::default().lists("anyone"));
        for (bad, says) in [
            (
                json!({"witnesses": ["w1"], "seal_threshold": 2}),
                "more than the 1 listed",
            ),
            (json!({"witnesses": ["w1", "w1"]}), "twice"),
            (json!({"witnesses": "w1"}), "malformed"),
            (json!({"seal_threshold": -1}), "malformed"),
            (json!({"sync_deadline_secs": 0}), "at least 1"),
            (json!({"checkpoint_cosign_timeout_secs": 0}), "1 to 3600"),
            (json!({"replay_window_secs": 0}), "300 to 31622400"),
            (json!({"replay_window_secs": 299}), "300 to 31622400"),
            (
                json!({"replay_window_secs": 366 * 86_400 + 1}),
                "300 to 31622400",
            ),
            (json!({"replay_window_secs": "1 day"}), "malformed"),
            (
                json!({"trust_model": {"algorithm": "eigentrust"}}),
                "missing field",
            ),
        ] {
            let e = VerificationRules::from_rules(&bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_cadence_bounds_pending_entries_and_their_age() {
        let c = CheckpointCadence {
            max_interval_secs: 30,
            max_entries_between: 10,
        };
        assert_eq!(c.overdue(0, 1e6), None);
        assert_eq!(c.overdue(10, 30.0), None);
        assert!(
            c.overdue(11, 0.0)
                .unwrap()
                .contains("max_entries_between is 10")
        );
        assert!(
            c.overdue(1, 31.0)
                .unwrap()
                .contains("max_interval_secs is 30")
        );
    }

    #[test]
    fn protocol_clauses_are_fixed_and_others_pass() {
        let old = json!({"canonicalization": "rfc8785"});
        let new = json!({"canonicalization": "something else"});
        assert!(
            check_change("11.0", &old, &new)
                .unwrap_err()
                .contains("fixed")
        );
        assert!(check_change("11.1", &old, &new).is_err());
        check_change("11.0", &old, &old).unwrap();
        // The cadence is a setting, not the format.
        let cadence = |n: u64| json!({"canonicalization": "rfc8785", "checkpoint": {"format": "c2sp", "max_interval_secs": n}});
        check_change("11.0", &cadence(60), &cadence(30)).unwrap();
        assert!(
            check_change("11.0", &cadence(60), &cadence(0))
                .unwrap_err()
                .contains("positive")
        );
        check_change("9.9", &old, &new).unwrap();
        assert!(check_change("5.4", &old, &json!({"witnesses": 1})).is_err());
        // The replay window may change, within bounds, but not go away.
        let window = |w: u64| json!({"replay_window_secs": w});
        check_change("5.4", &window(86_400), &window(600)).unwrap();
        check_change("5.4", &json!({}), &window(600)).unwrap();
        assert!(
            check_change("5.4", &window(86_400), &json!({}))
                .unwrap_err()
                .contains("not removed")
        );
        assert!(check_change("5.4", &window(86_400), &window(10)).is_err());
    }
}
