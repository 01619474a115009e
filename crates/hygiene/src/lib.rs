//! Repository hygiene validator for clause 5.2.5 of the Codex: structure, naming,
//! content and licensing rules (REUSE 3.3 exactly as `reuse lint` judges it), applied
//! in one parallel pass that reads each file at most once.
//!
//! `check(root, &policy, &options)` returns a [`Report`]; the CLI formats it.
#![forbid(unsafe_code)]

pub mod engine;
pub mod finding;
pub mod fix;
pub mod gitindex;
pub mod import;
pub mod naming;
pub mod output;
pub mod policy;
pub mod reuse;
pub mod templates;

pub use engine::{CheckError, CheckOptions, check, check_detailed};
pub use finding::{Finding, Report, Severity, Summary};
pub use policy::{Policy, PolicyError};
