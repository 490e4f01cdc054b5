//! Reading vector files and the fields of a case.

use serde_json::Value;
use std::path::Path;

/// One test case: a JSON object.
pub type Case = Value;

/// Reads a vector file: a JSON array of cases.
pub fn read_cases(path: &Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_slice(&text) {
        Ok(Value::Array(cases)) => Ok(cases),
        Ok(_) => Err("file is not a JSON array".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// The field `name` of `v`.
pub fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name).ok_or_else(|| format!("missing field `{name}`"))
}

/// The hex-string field `name`, decoded.
pub fn hex(v: &Value, name: &str) -> Result<Vec<u8>, String> {
    hex_value(field(v, name)?).map_err(|e| format!("field `{name}`: {e}"))
}

/// The hex-string field `name`, or `None` if it is null or absent.
pub fn opt_hex(v: &Value, name: &str) -> Result<Option<Vec<u8>>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => hex_value(x)
            .map(Some)
            .map_err(|e| format!("field `{name}`: {e}")),
    }
}

/// A hex string value, decoded.
pub fn hex_value(v: &Value) -> Result<Vec<u8>, String> {
    let s = v.as_str().ok_or("not a string")?;
    ::hex::decode(s).map_err(|e| format!("bad hex: {e}"))
}

/// The integer field `name`.
pub fn uint(v: &Value, name: &str) -> Result<u64, String> {
    field(v, name)?
        .as_u64()
        .ok_or_else(|| format!("field `{name}` is not an unsigned integer"))
}

/// The string field `name`.
pub fn string<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    field(v, name)?
        .as_str()
        .ok_or_else(|| format!("field `{name}` is not a string"))
}

/// The array field `name`.
pub fn array<'a>(v: &'a Value, name: &str) -> Result<&'a Vec<Value>, String> {
    field(v, name)?
        .as_array()
        .ok_or_else(|| format!("field `{name}` is not an array"))
}

/// Fails with a message naming `what` unless `got == want`; prints both in hex.
pub fn check_bytes(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {}, want {}",
            ::hex::encode(got),
            ::hex::encode(want)
        ))
    }
}

/// Turns a checker body's `Result` into an outcome.
pub fn outcome(r: Result<(), String>) -> super::Outcome {
    match r {
        Ok(()) => super::Outcome::Passed,
        Err(e) => super::Outcome::Failed(e),
    }
}
