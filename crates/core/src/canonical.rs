//! Canonical JSON (RFC 8785, JCS) and the strict parser every untrusted input goes
//! through.
//!
//! Every hash in govmesh is SHA-256 over JCS bytes. To make sure every JCS
//! implementation produces the same bytes for what we accept, input with duplicate
//! object keys or integers outside ±(2^53−1) is refused (I-JSON, RFC 7493).

use crate::digest::Digest;
use serde::Serialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// The largest integer every IEEE 754 double represents exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("cannot canonicalize: {0}")]
    Canonicalize(String),
}

/// Parses untrusted JSON, refusing duplicate keys and unsafe integers.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v =
        StrictValue::deserialize_from(&mut de).map_err(|e| JsonError::Malformed(e.to_string()))?;
    de.end().map_err(|e| JsonError::Malformed(e.to_string()))?;
    Ok(v)
}

/// The RFC 8785 bytes of any serializable value.
pub fn canonical_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, JsonError> {
    serde_json_canonicalizer::to_vec(v).map_err(|e| JsonError::Canonicalize(e.to_string()))
}

/// SHA-256 over the RFC 8785 bytes of `v`.
pub fn hash_canonical<T: Serialize>(v: &T) -> Result<Digest, JsonError> {
    Ok(Digest::sha256(&canonical_bytes(v)?))
}

/// The hash of a record whose own hash lives in field `own_field`: that field is left
/// out of what is hashed (DESIGN.md section 3).
pub fn record_hash<T: Serialize + ?Sized>(v: &T, own_field: &str) -> Result<Digest, JsonError> {
    let mut value = serde_json::to_value(v).map_err(|e| JsonError::Canonicalize(e.to_string()))?;
    if let Value::Object(map) = &mut value {
        map.remove(own_field);
    }
    hash_canonical(&value)
}

struct StrictValue;

impl StrictValue {
    fn deserialize_from<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

struct Seed;

impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(E::custom(format!(
                "integer {v} is outside ±(2^53-1); every JSON implementation must read it the same"
            )));
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER {
            return Err(E::custom(format!(
                "integer {v} is outside ±(2^53-1); every JSON implementation must read it the same"
            )));
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // JCS writes such a number as a plain integer (1e16 -> 10000000000000000), which
        // other implementations then refuse or read inexactly: refuse it here too.
        if v.fract() == 0.0 && v.abs() > MAX_SAFE_INTEGER as f64 && v.abs() < 1e21 {
            return Err(E::custom(format!(
                "number {v} is an integer outside ±(2^53-1) in canonical form; every JSON implementation must read it the same"
            )));
        }
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(Seed)?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate object key {key:?}")));
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_duplicate_keys_and_unsafe_integers() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_strict(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(parse_strict(b"9007199254740992").is_err());
        assert!(parse_strict(b"-9007199254740992").is_err());
        assert!(parse_strict(b"9007199254740991").is_ok());
        // The same integers written as floats: their canonical form is the integer.
        assert!(parse_strict(b"1e16").is_err());
        assert!(parse_strict(b"-1.5e16").is_err());
        assert!(parse_strict(b"9007199254740992.0").is_err());
        assert!(parse_strict(b"9007199254740991.0").is_ok());
        assert!(parse_strict(b"1e21").is_ok());
        assert!(parse_strict(b"1.5").is_ok());
        assert!(parse_strict(b"1e400").is_err());
        assert!(parse_strict(b"{} x").is_err());
        assert!(parse_strict(b"[1, 2").is_err());
    }

    #[test]
    fn record_hash_leaves_out_own_field() {
        let a = serde_json::json!({"x": 1, "h": "whatever"});
        let b = serde_json::json!({"x": 1});
        assert_eq!(record_hash(&a, "h").unwrap(), hash_canonical(&b).unwrap());
        assert_ne!(hash_canonical(&a).unwrap(), hash_canonical(&b).unwrap());
    }
}
