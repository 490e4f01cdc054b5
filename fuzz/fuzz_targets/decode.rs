//! Feeds arbitrary bytes to every top-level decoder. Decoding must never panic,
//! and whatever decodes must re-encode to the same bytes (the codec is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::codec::{Decode, Encode};
use tessera::messages::{
    Commit, GroupContext, GroupInfo, GroupSecrets, KeyPackage, LeafNode, MlsMessage, Proposal,
    RatchetTreeExtension, UpdatePath, Welcome,
};

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
    match selector % 11 {
        0 => round_trip::<MlsMessage>(rest),
        1 => round_trip::<RatchetTreeExtension>(rest),
        2 => round_trip::<KeyPackage>(rest),
        3 => round_trip::<LeafNode>(rest),
        4 => round_trip::<UpdatePath>(rest),
        5 => round_trip::<Commit>(rest),
        6 => round_trip::<Proposal>(rest),
        7 => round_trip::<Welcome>(rest),
        8 => round_trip::<GroupInfo>(rest),
        9 => round_trip::<GroupContext>(rest),
        _ => round_trip::<GroupSecrets>(rest),
    }
});
