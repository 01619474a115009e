//! The published policy schema (`policy.schema.json`) accepts what the parser accepts
//! and refuses what it refuses, on the Codex default and the fixture policies.

use std::path::Path;

use govmesh_hygiene::Policy;

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy.schema.json");
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("schema file")).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

#[test]
fn codex_default_and_fixture_policies_satisfy_the_schema() {
    let validator = schema();
    let codex = govmesh_core::codex::default_hygiene_policy();
    let errors: Vec<String> = validator
        .iter_errors(&codex)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "Codex 5.2.5 rules: {errors:?}");
    let toml_text = std::fs::read_to_string(crate::util::fixtures_dir().join("naming.policy.toml"))
        .expect("fixture");
    let value: toml::Value = toml::from_str(&toml_text).expect("toml");
    let json = serde_json::to_value(value).expect("json");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "naming.policy.toml: {errors:?}");
}

#[test]
fn schema_and_parser_refuse_the_same_mistakes() {
    let validator = schema();
    let bad = [
        r#"{"version": 1, "rules": [{"id": "x", "kind": "nope", "severity": "error"}]}"#,
        r#"{"version": 1, "rules": [{"id": "x", "kind": "reuse", "severity": "fatal"}]}"#,
        r#"{"version": 1, "rules": [{"id": "x", "kind": "naming", "glob": "*", "severity": "error"}]}"#,
        r#"{"version": 1, "rules": [{"id": "x", "kind": "max_file_size", "max_bytes": 1, "severity": "error", "extra": 1}]}"#,
        r#"{"structur": {}}"#,
    ];
    for text in bad {
        let value: serde_json::Value = serde_json::from_str(text).expect("json");
        assert!(!validator.is_valid(&value), "schema accepts {text}");
        assert!(
            Policy::from_json_str(text, "test").is_err(),
            "parser accepts {text}"
        );
    }
}
