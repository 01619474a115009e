//! Findings: what a check reports, one per problem, and the report that holds them.

use serde::{Deserialize, Serialize};

/// How serious a finding is. `error` findings make `govmesh hygiene check` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem: which rule, how serious, where, and a message that says what is
/// wrong, why the rule exists and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    /// Path relative to the checked root, `/`-separated; `.` for the repository itself.
    pub path: String,
    /// 1-based line, when the finding is about a line.
    pub line: Option<u32>,
    pub message: String,
}

/// Counts over a whole check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub files_checked: u64,
    pub errors: u64,
    pub warnings: u64,
    pub infos: u64,
    /// Whether the REUSE part of the policy found nothing (None when not checked).
    pub reuse_compliant: Option<bool>,
}

/// The result of a check: `{"summary": {...}, "findings": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub summary: Summary,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Sorts findings (path, line, rule) and recounts the summary.
    pub fn finish(&mut self) {
        // Unstable is as good as stable here: the key is every field, so ties are equal.
        self.findings.sort_unstable_by(|a, b| {
            (&a.path, a.line, &a.rule, &a.message, a.severity)
                .cmp(&(&b.path, b.line, &b.rule, &b.message, b.severity))
        });
        self.findings.dedup();
        self.summary.errors = self.count(Severity::Error);
        self.summary.warnings = self.count(Severity::Warning);
        self.summary.infos = self.count(Severity::Info);
    }

    fn count(&self, severity: Severity) -> u64 {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count() as u64
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}
