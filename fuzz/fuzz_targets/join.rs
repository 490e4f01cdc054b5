//! Feeds arbitrary bytes to the ways of joining a group: Dave joins from a
//! Welcome (with the ratchet tree in it, or handed out of band) or by
//! external commit from a GroupInfo, and a commit he makes that way is
//! processed by a member (Bob). Inputs are raw messages, byte flips of the
//! fixture's real Welcomes, tree and GroupInfo, or raw trees. Nothing may
//! panic, and a commit Bob refuses must leave his state unchanged. The
//! group and its messages: `tessera_fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::codec::{Decode, Encode};
use tessera::messages::{GroupInfo, MlsMessage, RatchetTreeExtension, Welcome};
use tessera_fuzz::{Fixture, fixture, flip, join_dave, join_external_dave};

/// `value` encoded, with `flips` applied, decoded again (if it still decodes).
fn flipped<T: Encode + Decode>(value: &T, flips: &[u8]) -> Option<T> {
    let mut bytes = value.to_bytes().ok()?;
    flip(&mut bytes, flips);
    T::decode_exact(&bytes).ok()
}

/// Joins with whatever `bytes` is: a Welcome (tree in band, and with the
/// fixture's tree out of band) or a GroupInfo (external join).
fn join_message(f: &Fixture, bytes: &[u8]) {
    match MlsMessage::decode_exact(bytes) {
        Ok(MlsMessage::Welcome(w)) => {
            join_dave(f, &w, None);
            join_dave(f, &w, Some(f.welcome_without_tree.1.clone()));
        }
        Ok(MlsMessage::GroupInfo(gi)) => join_external_dave(f, &gi),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (bare, tree) = &f.welcome_without_tree;
    match mode % 5 {
        0 => join_message(f, rest),
        1 => {
            if let Some(w) = flipped::<Welcome>(&f.welcome_with_tree, rest) {
                join_dave(f, &w, None);
            }
        }
        2 => {
            // rest = [which, flips]: flips of the bare Welcome or of its tree.
            let Some((&which, flips)) = rest.split_first() else {
                return;
            };
            if which % 2 == 0 {
                if let Some(w) = flipped::<Welcome>(bare, flips) {
                    join_dave(f, &w, Some(tree.clone()));
                }
            } else if let Some(t) = flipped::<RatchetTreeExtension>(tree, flips) {
                join_dave(f, bare, Some(t));
            }
        }
        3 => {
            if let Some(gi) = flipped::<GroupInfo>(&f.group_info, rest) {
                join_external_dave(f, &gi);
            }
        }
        _ => {
            if let Ok(t) = RatchetTreeExtension::decode_exact(rest) {
                join_dave(f, bare, Some(t));
            }
        }
    }
});
