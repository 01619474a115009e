//! Fuzz target: canonical::parse_strict on arbitrary bytes; canonical bytes re-parse to an equal value.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_canonical(data));
