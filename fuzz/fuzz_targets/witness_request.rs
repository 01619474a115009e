//! Fuzz target: arbitrary text as a C2SP tlog-witness add-checkpoint request, a seal and cosignature lines.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_witness_request(data));
