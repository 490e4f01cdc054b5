//! `deserialization.json`: variable-length vector headers (RFC 9420 §2.1.2).

use super::Outcome;
use super::json::{Case, check_bytes, hex, outcome, uint};
use tessera::codec::{Decode, Encode, Reader};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let header = hex(case, "vlbytes_header")?;
    let length = usize::try_from(uint(case, "length")?).map_err(|e| e.to_string())?;
    // Decode: the header followed by exactly `length` bytes of body.
    let mut input = header.clone();
    input.resize(header.len() + length, 0x5a);
    let mut r = Reader::new(&input);
    let got = r.read_vec_len().map_err(|e| format!("decode: {e}"))?;
    if got != length {
        return Err(format!("decoded length {got}, want {length}"));
    }
    if r.remaining() != length {
        return Err("header was not fully consumed".into());
    }
    // The same bytes as an opaque<V> round-trip exactly.
    let body = Vec::<u8>::decode_exact(&input).map_err(|e| format!("decode opaque: {e}"))?;
    let again = body.to_bytes().map_err(|e| format!("encode: {e}"))?;
    check_bytes("re-encoded header", &again[..header.len()], &header)
}
