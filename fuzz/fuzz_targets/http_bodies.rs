//! Fuzz target: arbitrary bytes as the request body of every POST endpoint, decoded as its handler does.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_http_bodies(data));
