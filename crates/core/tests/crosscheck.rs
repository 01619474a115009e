//! Cross-checks against independent Python implementations (they must be installed:
//! `pip install -r requirements-test.txt`): canonical JSON bytes and hashes against
//! `rfc8785`, DSSE envelopes both ways against `securesystemslib`.

use crate::canonical::{RFC_3_2_2_INPUT, RFC_3_2_3_INPUT, appendix_b_values, json_value};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use govmesh_core::Digest;
use govmesh_core::canonical::{canonical_bytes, parse_strict};
use govmesh_core::dsse::{ENTRY_PAYLOAD_TYPE, Envelope};
use govmesh_core::keys::KeyPair;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str = "pip install -r requirements-test.txt";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// Runs `python3 tests/python/<name> IN OUT` with `input` as IN and returns OUT.
/// Fails the test, naming the install command, when python or a module is missing.
fn run_python(name: &str, input: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.json"), dir.path().join("out.json"));
    std::fs::write(&src, serde_json::to_vec(input).unwrap()).unwrap();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(script(name))
        .arg(&src)
        .arg(&dst)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {python} for the cross-check ({e}): install Python 3 and {INSTALL_HINT}"
            )
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("{name}: {stderr}(cross-check needs: {INSTALL_HINT})"),
        _ => panic!("{name} failed ({}): {stderr}", out.status),
    }
    serde_json::from_slice(&std::fs::read(&dst).unwrap()).unwrap()
}

/// The JSON texts to compare: RFC vectors and deterministic random values, each
/// written with shuffled keys and extra whitespace.
fn texts() -> Vec<String> {
    let mut texts = vec![RFC_3_2_2_INPUT.to_owned(), RFC_3_2_3_INPUT.to_owned()];
    for x in appendix_b_values() {
        texts.push(serde_json::to_string(&x).unwrap());
    }
    texts.extend(
        [
            "1e21",
            "1e-7",
            "-0",
            "-0.0",
            "333333333.33333329",
            "9007199254740991",
            "-9007199254740991",
            "1e23",
            "5e-324",
            "0.1",
            "[]",
            "{}",
            "\"\"",
            "\"\\u0000\\u001f\\u007f\\ud800\\udc00\"",
            "{\"a\":{\"b\":[1,{\"c\":null}]}}",
        ]
        .map(str::to_owned),
    );
    let config = Config::default();
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let strategy = json_value();
    let mut seed = 1u64;
    for _ in 0..400 {
        let v = strategy.new_tree(&mut runner).unwrap().current();
        let mut text = String::new();
        crate::canonical::scrambled_text(&v, &mut seed, &mut text);
        texts.push(text);
    }
    // Random doubles from random bit patterns, the hardest part of JCS.
    let mut bits = 0x9e3779b97f4a7c15u64;
    for _ in 0..2000 {
        bits ^= bits << 13;
        bits ^= bits >> 7;
        bits ^= bits << 17;
        let x = f64::from_bits(bits);
        if x.is_finite() {
            texts.push(serde_json::to_string(&x).unwrap());
        }
    }
    texts
}

#[test]
fn canonical_bytes_and_hashes_match_python_rfc8785() {
    let texts = texts();
    let python = run_python("jcs_crosscheck.py", &json!(texts));
    let python = python.as_array().unwrap();
    assert_eq!(python.len(), texts.len());
    let (mut compared, mut refused) = (0, 0);
    for (text, py) in texts.iter().zip(python) {
        // Integers beyond 2^53 written as floats are refused by the strict parser
        // (their canonical text is an integer); compare their bytes all the same.
        let value = match parse_strict(text.as_bytes()) {
            Ok(v) => v,
            Err(e) => {
                assert!(e.to_string().contains("outside ±(2^53-1)"), "{text}: {e}");
                refused += 1;
                serde_json::from_str(text).unwrap()
            }
        };
        let ours = canonical_bytes(&value).unwrap();
        let theirs = py["canonical"]
            .as_str()
            .unwrap_or_else(|| panic!("rfc8785 refused {text}: {}", py["error"]));
        assert_eq!(
            hex::encode(&ours),
            theirs,
            "canonical bytes differ for {text}:\n ours   {}\n theirs {}",
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&hex::decode(theirs).unwrap())
        );
        assert_eq!(
            Digest::sha256(&ours).to_hex(),
            py["sha256"].as_str().unwrap()
        );
        compared += 1;
    }
    assert!(compared > 2000, "only {compared} values compared");
    assert!(
        refused > 0 && refused < compared / 20,
        "{refused} of {compared} refused"
    );
}

#[test]
fn dsse_envelopes_cross_verify_with_securesystemslib() {
    let key = KeyPair::from_seed([31u8; 32]);
    let other = KeyPair::from_seed([32u8; 32]);
    let payload = br#"{"author":"x","type":"vote"}"#;
    let good = Envelope::sign(ENTRY_PAYLOAD_TYPE, payload, &key);
    let statement = crate::intoto::sample_statement().sign(&key);

    let mut tampered_payload = good.clone();
    tampered_payload.payload = STANDARD.encode(br#"{"author":"y","type":"vote"}"#);
    let mut tampered_type = good.clone();
    tampered_type.payload_type = "application/json".into();
    let mut tampered_sig = good.clone();
    let mut sig = STANDARD.decode(&good.signatures[0].sig).unwrap();
    sig[10] ^= 0x20;
    tampered_sig.signatures[0].sig = STANDARD.encode(sig);
    // Signed by another key but labelled with ours.
    let mut impostor = Envelope::sign(ENTRY_PAYLOAD_TYPE, payload, &other);
    impostor.signatures[0].keyid = key.keyid();

    let cases = [
        ("good entry", &good, true),
        ("in-toto statement", &statement, true),
        ("tampered payload", &tampered_payload, false),
        ("tampered payload type", &tampered_type, false),
        ("tampered signature", &tampered_sig, false),
        ("impostor", &impostor, false),
    ];
    let verify: Vec<Value> = cases
        .iter()
        .map(|(name, env, _)| {
            json!({
                "name": name,
                "public_key_hex": hex::encode(key.public().as_bytes()),
                "keyid": key.keyid(),
                "envelope": env,
            })
        })
        .collect();
    let seed = [33u8; 32];
    let py_key = KeyPair::from_seed(seed);
    let python_payload = b"signed by securesystemslib \xe2\x9c\x93";
    let job = json!({
        "verify": verify,
        "sign": {
            "seed_hex": hex::encode(seed),
            "keyid": py_key.keyid(),
            "payload_type": ENTRY_PAYLOAD_TYPE,
            "payload_hex": hex::encode(python_payload),
        },
    });
    let out = run_python("dsse_crosscheck.py", &job);

    for ((name, env, want), got) in cases.iter().zip(out["verify"].as_array().unwrap()) {
        assert_eq!(got["name"], *name);
        assert_eq!(
            got["verified"].as_bool().unwrap(),
            *want,
            "securesystemslib on {name}: {}",
            got["error"]
        );
        // govmesh agrees with securesystemslib on every case.
        assert_eq!(
            env.verify(&key.public()).is_ok(),
            *want,
            "govmesh on {name}"
        );
    }

    // The other direction: an envelope securesystemslib signed verifies here.
    let signed: Envelope = serde_json::from_value(out["signed"].clone()).unwrap();
    assert_eq!(signed.verify(&py_key.public()).unwrap(), python_payload);
    assert!(signed.verify(&key.public()).is_err());
}
