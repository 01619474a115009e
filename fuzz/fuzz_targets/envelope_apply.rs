//! Fuzz target: Arbitrary bytes as a DSSE envelope's JSON, applied to a mesh with the Codex genesis.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_envelope_apply(data));
