//! Fuzz target: RFC 9162 inclusion and consistency proofs, made, mutated and verified.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_proofs(data));
