//! Integration tests of the hygiene validator: fixture repositories with snapshot
//! findings (`fixtures`), and agreement with `reuse lint --json` (`agreement`).

mod agreement;
mod fixtures;
mod util;
