//! Applying a proposal's rule changes (the seed's `diff` list: JSON Pointer path,
//! add/remove/replace) to a clause's rules, and converting RFC 6902 JSON Patch to it.
//!
//! Paths are RFC 6901 JSON Pointers into the clause's `rules`; `add`, `remove` and
//! `replace` behave exactly as RFC 6902 defines them (including `-` to append to an
//! array). `move`, `copy` and `test` are refused: a governance diff says what the new
//! value is, never where to find it.

use crate::model::{DiffOp, PatchOperation};
use serde_json::{Map, Value};

/// Why a diff does not apply, naming the operation (0-based) and its path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("diff op {index} ({path:?}): {reason}")]
    Op {
        index: usize,
        path: String,
        reason: String,
    },
    #[error("JSON Patch: {0}")]
    JsonPatch(String),
}

/// Applies `ops` in order to a copy of `rules`; `rules` itself is never changed, so a
/// failing diff leaves nothing half-applied.
pub fn apply_diff(rules: &Value, ops: &[DiffOp]) -> Result<Value, PatchError> {
    let mut doc = rules.clone();
    for (index, op) in ops.iter().enumerate() {
        apply_one(&mut doc, op).map_err(|reason| PatchError::Op {
            index,
            path: op.path.clone(),
            reason,
        })?;
    }
    Ok(doc)
}

/// Splits a JSON Pointer into unescaped reference tokens (RFC 6901 section 4).
pub fn parse_pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err("a JSON Pointer is empty or starts with '/'".into());
    };
    rest.split('/')
        .map(|tok| {
            let mut out = String::with_capacity(tok.len());
            let mut chars = tok.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => {
                            return Err(format!(
                                "bad escape in token {tok:?}: '~' must be followed by 0 or 1"
                            ));
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

/// An array index token: decimal digits without leading zeros (RFC 6901 section 4).
fn array_index(tok: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && tok == "-" {
        return Ok(len);
    }
    let valid = !tok.is_empty()
        && tok.bytes().all(|b| b.is_ascii_digit())
        && (tok == "0" || !tok.starts_with('0'));
    if !valid {
        return Err(format!("{tok:?} is not an array index"));
    }
    let i: usize = tok
        .parse()
        .map_err(|_| format!("array index {tok:?} is too large"))?;
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if i > max || (!allow_end && len == 0) {
        return Err(format!("array index {i} is out of bounds (length {len})"));
    }
    Ok(i)
}

/// The value the pointer tokens lead to, for mutation.
fn resolve_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for (depth, tok) in tokens.iter().enumerate() {
        cur = match cur {
            Value::Object(map) => map
                .get_mut(tok)
                .ok_or_else(|| format!("no member {tok:?} at depth {depth}"))?,
            Value::Array(arr) => {
                let i = array_index(tok, arr.len(), false)?;
                &mut arr[i]
            }
            _ => return Err(format!("cannot descend into a scalar at token {tok:?}")),
        };
    }
    Ok(cur)
}

fn apply_one(doc: &mut Value, op: &DiffOp) -> Result<(), String> {
    let tokens = parse_pointer(&op.path)?;
    let Some((last, parent_tokens)) = tokens.split_last() else {
        // The whole document.
        return match op.operation {
            PatchOperation::Add | PatchOperation::Replace => {
                *doc = op.value.clone();
                Ok(())
            }
            PatchOperation::Remove => Err("cannot remove the whole rules document".into()),
        };
    };
    let parent = resolve_mut(doc, parent_tokens)?;
    match (op.operation, parent) {
        (PatchOperation::Add, Value::Object(map)) => {
            map.insert(last.clone(), op.value.clone());
        }
        (PatchOperation::Add, Value::Array(arr)) => {
            let i = array_index(last, arr.len(), true)?;
            arr.insert(i, op.value.clone());
        }
        (PatchOperation::Remove, Value::Object(map)) => {
            map.remove(last)
                .ok_or_else(|| format!("no member {last:?} to remove"))?;
        }
        (PatchOperation::Remove, Value::Array(arr)) => {
            let i = array_index(last, arr.len(), false)?;
            arr.remove(i);
        }
        (PatchOperation::Replace, Value::Object(map)) => {
            let slot = map
                .get_mut(last)
                .ok_or_else(|| format!("no member {last:?} to replace"))?;
            *slot = op.value.clone();
        }
        (PatchOperation::Replace, Value::Array(arr)) => {
            let i = array_index(last, arr.len(), false)?;
            arr[i] = op.value.clone();
        }
        (_, _) => return Err("the parent of the target is not an object or array".into()),
    }
    Ok(())
}

/// Converts an RFC 6902 JSON Patch document (an array of `{op, path, value}`) into the
/// seed's diff list. Only `add`, `remove` and `replace` are accepted.
pub fn from_json_patch(patch: &Value) -> Result<Vec<DiffOp>, PatchError> {
    let Value::Array(items) = patch else {
        return Err(PatchError::JsonPatch(
            "a JSON Patch document is an array of operations".into(),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let err = |m: String| PatchError::JsonPatch(format!("operation {i}: {m}"));
            let Value::Object(obj) = item else {
                return Err(err("is not an object".into()));
            };
            let op = obj
                .get("op")
                .and_then(Value::as_str)
                .ok_or_else(|| err("missing string member \"op\"".into()))?;
            let path = obj
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| err("missing string member \"path\"".into()))?;
            parse_pointer(path).map_err(|m| err(format!("path {path:?}: {m}")))?;
            let operation = match op {
                "add" => PatchOperation::Add,
                "remove" => PatchOperation::Remove,
                "replace" => PatchOperation::Replace,
                "move" | "copy" | "test" => {
                    return Err(err(format!(
                        "op {op:?} is not supported: governance diffs use only add, remove and replace"
                    )));
                }
                other => return Err(err(format!("unknown op {other:?}"))),
            };
            let value = match operation {
                PatchOperation::Remove => Value::Null,
                _ => obj
                    .get("value")
                    .cloned()
                    .ok_or_else(|| err(format!("op {op:?} needs a \"value\"")))?,
            };
            Ok(DiffOp {
                path: path.to_owned(),
                operation,
                value,
            })
        })
        .collect()
}

/// The diff list as an RFC 6902 JSON Patch document.
pub fn to_json_patch(ops: &[DiffOp]) -> Value {
    Value::Array(
        ops.iter()
            .map(|d| {
                let mut m = Map::new();
                let op = match d.operation {
                    PatchOperation::Add => "add",
                    PatchOperation::Remove => "remove",
                    PatchOperation::Replace => "replace",
                };
                m.insert("op".into(), Value::String(op.into()));
                m.insert("path".into(), Value::String(d.path.clone()));
                if d.operation != PatchOperation::Remove {
                    m.insert("value".into(), d.value.clone());
                }
                Value::Object(m)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(doc: Value, p: Value) -> Result<Value, PatchError> {
        apply_diff(&doc, &from_json_patch(&p)?)
    }

    /// Table of (document, patch, expected result or None for an error), mostly from
    /// RFC 6902 appendix A.
    #[test]
    fn rfc6902_examples() {
        let cases: Vec<(Value, Value, Option<Value>)> = vec![
            // A.1 add an object member
            (
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/baz","value":"qux"}]),
                Some(json!({"baz":"qux","foo":"bar"})),
            ),
            // A.2 add an array element
            (
                json!({"foo":["bar","baz"]}),
                json!([{"op":"add","path":"/foo/1","value":"qux"}]),
                Some(json!({"foo":["bar","qux","baz"]})),
            ),
            // A.3 remove an object member
            (
                json!({"baz":"qux","foo":"bar"}),
                json!([{"op":"remove","path":"/baz"}]),
                Some(json!({"foo":"bar"})),
            ),
            // A.4 remove an array element
            (
                json!({"foo":["bar","qux","baz"]}),
                json!([{"op":"remove","path":"/foo/1"}]),
                Some(json!({"foo":["bar","baz"]})),
            ),
            // A.5 replace a value
            (
                json!({"baz":"qux","foo":"bar"}),
                json!([{"op":"replace","path":"/baz","value":"boo"}]),
                Some(json!({"baz":"boo","foo":"bar"})),
            ),
            // A.10 add a nested member object
            (
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/child","value":{"grandchild":{}}}]),
                Some(json!({"foo":"bar","child":{"grandchild":{}}})),
            ),
            // A.12 adding to a nonexistent target
            (
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/baz/bat","value":"qux"}]),
                None,
            ),
            // A.14 ~ escape ordering
            (
                json!({"/":9,"~1":10}),
                json!([{"op":"replace","path":"/~01","value":11}]),
                Some(json!({"/":9,"~1":11})),
            ),
            // A.16 adding an array value with "-"
            (
                json!({"foo":["bar"]}),
                json!([{"op":"add","path":"/foo/-","value":["abc","def"]}]),
                Some(json!({"foo":["bar",["abc","def"]]})),
            ),
            // replace whole document
            (
                json!({"a":1}),
                json!([{"op":"replace","path":"","value":[1]}]),
                Some(json!([1])),
            ),
            // add at array end by index, beyond the end
            (
                json!([1, 2]),
                json!([{"op":"add","path":"/2","value":3}]),
                Some(json!([1, 2, 3])),
            ),
            (
                json!([1, 2]),
                json!([{"op":"add","path":"/3","value":3}]),
                None,
            ),
            // leading zeros are not indices
            (
                json!([1, 2]),
                json!([{"op":"replace","path":"/01","value":3}]),
                None,
            ),
            // remove / replace of missing things
            (json!({"a":1}), json!([{"op":"remove","path":"/b"}]), None),
            (
                json!({"a":1}),
                json!([{"op":"replace","path":"/b","value":2}]),
                None,
            ),
            (json!([1]), json!([{"op":"remove","path":"/-"}]), None),
            (json!({"a":1}), json!([{"op":"remove","path":""}]), None),
            // "/" is the member named ""
            (
                json!({"":1}),
                json!([{"op":"replace","path":"/","value":2}]),
                Some(json!({"":2})),
            ),
            // bad pointer syntax
            (
                json!({"a":1}),
                json!([{"op":"add","path":"a","value":2}]),
                None,
            ),
            (
                json!({"a":1}),
                json!([{"op":"add","path":"/~2","value":2}]),
                None,
            ),
            // descending into a scalar
            (
                json!({"a":1}),
                json!([{"op":"add","path":"/a/b","value":2}]),
                None,
            ),
        ];
        for (doc, p, want) in cases {
            let got = patch(doc.clone(), p.clone());
            match want {
                Some(w) => assert_eq!(got.unwrap(), w, "patch {p} on {doc}"),
                None => assert!(got.is_err(), "patch {p} on {doc} should fail, got {got:?}"),
            }
        }
    }

    #[test]
    fn refuses_move_copy_test_with_clear_error() {
        for op in ["move", "copy", "test"] {
            let e = from_json_patch(&json!([{"op": op, "path": "/a", "from": "/b", "value": 1}]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(op) && e.contains("not supported"), "{e}");
        }
        assert!(from_json_patch(&json!({"op":"add"})).is_err());
        assert!(from_json_patch(&json!([{"op":"add","path":"/a"}])).is_err());
        assert!(from_json_patch(&json!([{"op":"frobnicate","path":"/a"}])).is_err());
    }

    #[test]
    fn failing_diff_leaves_input_untouched_and_names_the_op() {
        let doc = json!({"a": [1, 2]});
        let ops = from_json_patch(&json!([
            {"op":"add","path":"/a/-","value":3},
            {"op":"remove","path":"/zzz"}
        ]))
        .unwrap();
        let e = apply_diff(&doc, &ops).unwrap_err();
        assert_eq!(doc, json!({"a": [1, 2]}));
        assert!(matches!(e, PatchError::Op { index: 1, .. }), "{e}");
    }

    #[test]
    fn json_patch_round_trip() {
        let p = json!([
            {"op":"add","path":"/x","value":{"k":[1]}},
            {"op":"remove","path":"/y"},
            {"op":"replace","path":"/z/0","value":null}
        ]);
        assert_eq!(to_json_patch(&from_json_patch(&p).unwrap()), p);
    }
}
