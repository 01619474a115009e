//! Replay detection: an entry already in the log is refused (`replay`), with memory
//! bounded by clause 5.4's `replay_window_secs` where the governing contract has it.
//!
//! - **No window** (a mesh founded before the rule, until a proposal adds it): every
//!   entry hash is kept (`State::seen`) and an entry whose hash is there is refused.
//!   This is the behaviour logs written before the rule were decided by.
//! - **Window `w` in force**: every entry but the genesis carries `signed_at`, and is
//!   refused as `stale` unless `signed_at` lies within `w` of the record's time `t`
//!   (either way) and at or after the `horizon`. Accepted entries are remembered as
//!   `(signed_at, hash)` in `recent`, ordered by `signed_at`; after each entry the
//!   horizon moves up to `t - w` (never down) and every remembered entry signed before
//!   it is forgotten. Hashes kept before the window came into force stay in `seen`,
//!   which no longer grows: such an entry may carry any `signed_at`, or none, so only
//!   its hash tells a replay of it.
//!
//! No replay gets through: let E (signed at `s`) be accepted at time `t1` and submitted
//! again at `t2 >= t1` (log time never decreases). If E was accepted with no window in
//! force its hash is in `seen`, which is never pruned: refused. Otherwise E went into
//! `recent`, and it is removed only once the horizon passes `s`. At `t2`, either E's
//! `signed_at` is outside the window or before the horizon, and it is refused as
//! `stale`, or `s >= horizon`, so E was never pruned and is still in `recent`:
//! refused as `replay`. The horizon is what makes an amended window safe: widening
//! the window does not lower it, so an entry forgotten under the narrower window is
//! refused as stale, not readmitted; the largest window ever in force alone would not
//! do (prune at `t - 100`, widen to 200 one moment later: entries signed between
//! `t - 200` and `t - 100` would be in the window again and remembered nowhere).
//!
//! Memory: `recent` holds the entries accepted with `signed_at` in `[horizon,
//! t + w]`, i.e. those the log accepted in the last `2w` of log time at most (plus
//! `seen`, frozen: one hash for a mesh founded with the rule).

use super::{RejectCode, Rejection, State, rej};
use crate::digest::Digest;
use crate::rules::VerificationRules;
use crate::stamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The replay window in force and the entries it remembers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct ReplayWindow {
    /// Clause 5.4 `replay_window_secs` of the governing contract now.
    window_secs: u64,
    /// Remembered entries were all signed at or after this time; an entry signed
    /// before it is refused as stale. Only ever moves forward.
    horizon: Timestamp,
    /// `(signed_at, entry hash)` of every entry accepted under the window and signed
    /// at or after the horizon.
    recent: BTreeSet<(Timestamp, Digest)>,
}

impl ReplayWindow {
    fn window_ms(&self) -> i64 {
        i64::try_from(self.window_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000)
    }
}

impl State {
    /// Clause 5.4 `replay_window_secs` in force, if the governing contract has it.
    pub fn replay_window_secs(&self) -> Option<u64> {
        self.replay.as_ref().map(|r| r.window_secs)
    }

    /// How many entry hashes replay detection remembers: those kept from before a
    /// replay window was in force (all of them on a mesh without the rule), and those
    /// within the window.
    pub fn remembered_entries(&self) -> (usize, usize) {
        (
            self.seen.len(),
            self.replay.as_ref().map_or(0, |r| r.recent.len()),
        )
    }

    /// Whether the entry with this hash ([`entry_hash`](crate::entry::entry_hash)) and
    /// `signed_at` is one replay detection remembers as in the log. Entries signed
    /// before the window's horizon are no longer remembered (they are refused as
    /// stale instead).
    pub fn contains_entry(&self, hash: &Digest, signed_at: Option<Timestamp>) -> bool {
        self.seen.contains(hash)
            || self
                .replay
                .as_ref()
                .zip(signed_at)
                .is_some_and(|(r, s)| r.recent.contains(&(s, *hash)))
    }

    /// Refuses an entry (not a genesis) that is already in the log (`replay`) or,
    /// under a replay window, that carries no `signed_at` or one too far from `at` or
    /// before the horizon (`stale`).
    pub(super) fn check_not_replayed(
        &self,
        hash: &Digest,
        signed_at: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<(), Rejection> {
        let replayed = || {
            rej(
                RejectCode::Replay,
                format!("entry {hash} is already in the log"),
            )
        };
        if self.seen.contains(hash) {
            return Err(replayed());
        }
        let Some(r) = &self.replay else {
            return Ok(());
        };
        let w = r.window_secs;
        let s = signed_at.ok_or_else(|| {
            rej(
                RejectCode::Stale,
                format!(
                    "entry {hash} carries no signed_at; clause 5.4 replay_window_secs \
                     ({w} s) requires every entry to say when it was signed"
                ),
            )
        })?;
        if s.millis().abs_diff(at.millis()) > r.window_ms().unsigned_abs() {
            return Err(rej(
                RejectCode::Stale,
                format!(
                    "entry signed_at {s} is more than replay_window_secs ({w} s) from the \
                     log time {at}"
                ),
            ));
        }
        if s < r.horizon {
            return Err(rej(
                RejectCode::Stale,
                format!(
                    "entry signed_at {s} is before {}, the earliest signing time the log \
                     still remembers entries from (replay_window_secs {w} s, log time \
                     {at}): it cannot be told from a replay",
                    r.horizon
                ),
            ));
        }
        if r.recent.contains(&(s, *hash)) {
            return Err(replayed());
        }
        Ok(())
    }

    /// Remembers an accepted entry, then forgets what the window no longer needs.
    /// `windowed`: whether a window was in force when the entry was checked (so it
    /// carries `signed_at`); the entry may itself have brought one in or changed it.
    pub(super) fn remember_entry(
        &mut self,
        hash: Digest,
        signed_at: Option<Timestamp>,
        at: Timestamp,
        windowed: bool,
    ) {
        match (&mut self.replay, signed_at) {
            (Some(r), Some(s)) if windowed => {
                r.recent.insert((s, hash));
            }
            _ => {
                self.seen.insert(hash);
            }
        }
        if let Some(r) = &mut self.replay {
            let cutoff = Timestamp(at.millis().saturating_sub(r.window_ms()));
            if cutoff > r.horizon {
                r.horizon = cutoff;
                while r.recent.first().is_some_and(|(s, _)| *s < cutoff) {
                    r.recent.pop_first();
                }
            }
        }
    }

    /// Reads clause 5.4 `replay_window_secs` of the governing contract (after the
    /// genesis and after an adopted revision of it). A window once in force stays:
    /// `rules::check_change` refuses a proposal that removes the rule.
    pub(super) fn refresh_replay_window(&mut self, at: Timestamp) {
        // Adopted revisions always read (rules::check_change refuses others).
        let Some(w) = VerificationRules::of(self)
            .ok()
            .and_then(|r| r.replay_window_secs)
        else {
            return;
        };
        match &mut self.replay {
            Some(r) => r.window_secs = w,
            None => {
                let mut r = ReplayWindow {
                    window_secs: w,
                    horizon: Timestamp(i64::MIN),
                    recent: BTreeSet::new(),
                };
                r.horizon = Timestamp(at.millis().saturating_sub(r.window_ms()));
                self.replay = Some(r);
            }
        }
    }
}
