//! Fuzz target: Arbitrary bytes as a LogRecord's JSON, replayed with State::apply_record.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_log_record(data));
