//! JSON Schemas (draft 2020-12) for every entry payload and record, embedded from
//! `crates/core/schemas/` and used to validate untrusted input.
