//! The Codex genesis contract (`codex`, label `v2025.05.18`): clauses 5.4, 5.5, 5.2.5,
//! 11.0 and 11.1 with their text and machine-readable rules.
