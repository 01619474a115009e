//! Fuzz target: checkpoint::SignedNote::parse and Checkpoint::parse_body on arbitrary text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_checkpoint(data));
