//! RFC 8785 (JCS) canonical JSON: the RFC's own examples (Appendix B numbers, the
//! section 3.2.2 example, the section 3.2.3 key ordering) and property tests that the
//! output does not depend on the input's key order or whitespace.

use govmesh_core::canonical::{canonical_bytes, parse_strict};
use proptest::prelude::*;
use serde_json::Value;

/// RFC 8785 Appendix B: IEEE 754 bit patterns and their JCS text (`None`: must fail).
const APPENDIX_B: &[(&str, Option<&str>)] = &[
    ("0000000000000000", Some("0")),
    ("8000000000000000", Some("0")),
    ("0000000000000001", Some("5e-324")),
    ("8000000000000001", Some("-5e-324")),
    ("7fefffffffffffff", Some("1.7976931348623157e+308")),
    ("ffefffffffffffff", Some("-1.7976931348623157e+308")),
    ("4340000000000000", Some("9007199254740992")),
    ("c340000000000000", Some("-9007199254740992")),
    ("4430000000000000", Some("295147905179352830000")),
    ("7fffffffffffffff", None),
    ("7ff0000000000000", None),
    ("44b52d02c7e14af5", Some("9.999999999999997e+22")),
    ("44b52d02c7e14af6", Some("1e+23")),
    ("44b52d02c7e14af7", Some("1.0000000000000001e+23")),
    ("444b1ae4d6e2ef4e", Some("999999999999999700000")),
    ("444b1ae4d6e2ef4f", Some("999999999999999900000")),
    ("444b1ae4d6e2ef50", Some("1e+21")),
    ("3eb0c6f7a0b5ed8c", Some("9.999999999999997e-7")),
    ("3eb0c6f7a0b5ed8d", Some("0.000001")),
    ("41b3de4355555553", Some("333333333.3333332")),
    ("41b3de4355555554", Some("333333333.33333325")),
    ("41b3de4355555555", Some("333333333.3333333")),
    ("41b3de4355555556", Some("333333333.3333334")),
    ("41b3de4355555557", Some("333333333.33333343")),
    ("becbf647612f3696", Some("-0.0000033333333333333333")),
    ("43143ff3c1cb0959", Some("1424953923781206.2")),
];

/// The Appendix B values, for the Python cross-check.
pub fn appendix_b_values() -> Vec<f64> {
    APPENDIX_B
        .iter()
        .filter(|(_, want)| want.is_some())
        .map(|(bits, _)| f64::from_bits(u64::from_str_radix(bits, 16).unwrap()))
        .collect()
}

#[test]
fn appendix_b_numbers() {
    for (bits, want) in APPENDIX_B {
        let x = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        match (canonical_bytes(&x), want) {
            (Ok(got), Some(want)) => assert_eq!(String::from_utf8(got).unwrap(), *want, "{bits}"),
            (Err(_), None) => {}
            (got, want) => panic!("{bits}: got {got:?}, want {want:?}"),
        }
    }
}

/// Parses JSON text strictly and returns its canonical text.
fn canon_text(text: &str) -> String {
    let v = parse_strict(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
    String::from_utf8(canonical_bytes(&v).unwrap()).unwrap()
}

fn check(input: &str, expected: &str) {
    assert_eq!(canon_text(input), expected, "canonical form of {input}");
}

#[test]
fn numbers_written_as_text() {
    check("1e21", "1e+21");
    check("1E21", "1e+21");
    check("1e-7", "1e-7");
    check("-0", "0");
    check("-0.0", "0");
    check("333333333.33333329", "333333333.3333333");
    check("9007199254740991", "9007199254740991");
    check("-9007199254740991", "-9007199254740991");
    check("1e23", "1e+23");
    check("5e-324", "5e-324");
    check("4.50", "4.5");
    check("2e-3", "0.002");
    check("0.000000000000000000000000001", "1e-27");
    check("1E30", "1e+30");
    check("100", "100");
    check("1.0", "1");
    check("0.1", "0.1");
    // Integers outside ±(2^53-1) are refused rather than rounded (I-JSON).
    assert!(parse_strict(b"9007199254740992").is_err());
    // Also when written as a float: JCS would print them as integers again.
    assert!(parse_strict(b"123456789012345680000").is_err());
    assert!(parse_strict(b"1e16").is_err());
    assert!(parse_strict(b"1e400").is_err());
}

/// RFC 8785 section 3.2.2: the sample input and its canonical output.
pub const RFC_3_2_2_INPUT: &str = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;

#[test]
fn rfc_3_2_2_example() {
    check(
        RFC_3_2_2_INPUT,
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#,
    );
}

/// RFC 8785 section 3.2.3: members sorted by their UTF-16 code units.
pub const RFC_3_2_3_INPUT: &str = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;

#[test]
fn rfc_3_2_3_key_order() {
    let got = canon_text(RFC_3_2_3_INPUT);
    let v: serde_json::Map<String, Value> = serde_json::from_str(RFC_3_2_3_INPUT).unwrap();
    // Values in the order the members come out.
    let order: Vec<&str> = {
        let mut at: Vec<(usize, &str)> = v
            .iter()
            .map(|(k, val)| {
                let key = serde_json::to_string(k).unwrap();
                (got.find(&format!("{key}:")).unwrap(), val.as_str().unwrap())
            })
            .collect();
        at.sort();
        at.into_iter().map(|(_, val)| val).collect()
    };
    assert_eq!(
        order,
        [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small Letter O With Diaeresis",
            "Euro Sign",
            "Emoji: Grinning Face",
            "Hebrew Letter Dalet With Dagesh"
        ]
    );
    assert_eq!(
        got,
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
         \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
         \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
}

/// JSON values whose text survives `parse_strict`: safe integers, finite floats whose
/// canonical text is not an integer beyond 2^53, any strings.
pub fn json_value() -> impl Strategy<Value = Value> {
    let float = any::<f64>().prop_filter("finite, and not an integer printed beyond 2^53", |x| {
        x.is_finite() && !(x.fract() == 0.0 && x.abs() >= 9007199254740992.0 && x.abs() < 1e21)
    });
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-9007199254740991i64..=9007199254740991).prop_map(Value::from),
        float.prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z]{0,3}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Writes `v` as JSON text with object members in a shuffled order (by `seed`) and
/// some whitespace, so the input differs from the canonical form.
fn next(seed: &mut u64) -> usize {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) as usize
}

pub fn scrambled_text(v: &Value, seed: &mut u64, out: &mut String) {
    let space = [" ", "", "\n  ", "\t"];
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(space[next(seed) % 4]);
                    out.push(',');
                }
                out.push_str(space[next(seed) % 4]);
                scrambled_text(item, seed, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            for i in (1..members.len()).rev() {
                let j = next(seed) % (i + 1);
                members.swap(i, j);
            }
            out.push('{');
            for (i, (k, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(space[next(seed) % 4]);
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push_str(space[next(seed) % 4]);
                out.push(':');
                scrambled_text(item, seed, out);
            }
            out.push_str(space[next(seed) % 4]);
            out.push('}');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn canonical_form_is_a_fixed_point(v in json_value()) {
        let once = canonical_bytes(&v).unwrap();
        let reparsed = parse_strict(&once).unwrap();
        let twice = canonical_bytes(&reparsed).unwrap();
        prop_assert_eq!(&once, &twice);
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter(v in json_value(), seed in any::<u64>()) {
        let mut text = String::new();
        let mut s = seed;
        scrambled_text(&v, &mut s, &mut text);
        let parsed = parse_strict(text.as_bytes()).unwrap();
        prop_assert_eq!(canonical_bytes(&parsed).unwrap(), canonical_bytes(&v).unwrap());
    }
}
