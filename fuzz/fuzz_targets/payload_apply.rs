//! Fuzz target: Arbitrary bytes as an entry payload, signed by a fixture key, applied to the mesh.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govmesh_fuzzing::check_payload_apply(data));
