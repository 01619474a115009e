//! Integration tests of the hygiene validator: fixture repositories with snapshot
//! findings (`fixtures`), agreement with `reuse lint --json` (`agreement`), and the
//! published policy schema (`schema`).

mod agreement;
mod fix_required;
mod fixtures;
mod schema;
mod util;
