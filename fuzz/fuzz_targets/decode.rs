//! Feeds arbitrary bytes to every top-level decoder. Decoding must never panic,
//! and whatever decodes must re-encode to the same bytes (the codec is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::codec::{Decode, Encode};
use tessera::messages::{GroupContext, KeyPackage, LeafNode, RatchetTreeExtension, UpdatePath};

fn round_trip<T: Decode + Encode>(data: &[u8]) {
    if let Ok(v) = T::decode_exact(data) {
        let again = v.to_bytes().expect("a decoded value re-encodes");
        assert_eq!(again, data, "decode then encode is the identity");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 5 {
        0 => round_trip::<RatchetTreeExtension>(rest),
        1 => round_trip::<KeyPackage>(rest),
        2 => round_trip::<LeafNode>(rest),
        3 => round_trip::<UpdatePath>(rest),
        _ => round_trip::<GroupContext>(rest),
    }
});
