//! Integration tests of the hygiene validator: fixture repositories with snapshot
//! findings (`fixtures`), agreement with `reuse lint --json` (`agreement`), and the
//! published policy schema (`schema`), SARIF against the SARIF 2.1.0 schema and
//! GitHub's upload rules (`sarif`).

mod agreement;
mod fix_required;
mod fixtures;
mod repolinter;
mod sarif;
mod schema;
mod util;
