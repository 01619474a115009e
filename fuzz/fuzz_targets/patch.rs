//! Fuzz target: patch::apply_diff of fuzzer-built DiffOps to the rules of a Codex clause.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_patch(data));
