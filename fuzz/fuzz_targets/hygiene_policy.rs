//! Fuzz target: arbitrary text as a hygiene policy file and as an imported ruleset.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_hygiene_policy(data));
