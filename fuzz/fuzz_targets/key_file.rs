//! Fuzz target: keys::KeyPair::from_file_json on arbitrary text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_key_file(data));
