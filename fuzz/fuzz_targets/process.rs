//! Feeds arbitrary bytes to a member (Bob) of a live three-member group: as
//! a message to process (raw, or as byte flips of the group's real messages,
//! which gets past parsing into framing, signature and commit checks), and
//! as a saved group state. A Welcome is also tried by Dave, who was never
//! added. Nothing may panic, and a message that fails to process must leave
//! Bob's state unchanged. The group and its messages: `tessera_fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::codec::Decode;
use tessera::group::Group;
use tessera::messages::MlsMessage;
use tessera_fuzz::{Fixture, bob_processes, fixture, flip, join_dave};

/// Bob processes `bytes`, if they are a message.
fn process(f: &Fixture, bytes: &[u8]) {
    let Ok(message) = MlsMessage::decode_exact(bytes) else {
        return;
    };
    if let MlsMessage::Welcome(w) = &message {
        join_dave(f, w, None);
    }
    bob_processes(f, &message);
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => process(f, rest),
        1 => {
            let _ = Group::from_bytes(&f.provider, rest);
        }
        _ => {
            // Flip bytes of a real message: rest = [which, (pos_hi, pos_lo, xor)*].
            let Some((&which, flips)) = rest.split_first() else {
                return;
            };
            let mut msg = f.messages[usize::from(which) % f.messages.len()].1.clone();
            flip(&mut msg, flips);
            process(f, &msg);
        }
    }
});
