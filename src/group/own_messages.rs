//! Recognising this member's own PrivateMessages when the delivery service
//! echoes them back.
//!
//! A sender deletes the key of each generation it encrypts with (RFC 9420
//! §9.2), so it cannot decrypt and verify its own message when it comes
//! back. The sender data naming the member's leaf proves nothing: every
//! member holds the sender data secret and every leaf's ratchet secrets, so
//! any member can make a message that names another's leaf. Instead, the
//! member remembers a digest of each PrivateMessage it sent, and a message is
//! its own exactly when it is byte for byte one of them: its content is then
//! what the member signed. Anything else that names the member's leaf is
//! processed like any other message, and fails the checks (the key of a used
//! generation is gone; the signature is not the member's).
//!
//! The member keeps the digests of its last [`OWN_MESSAGE_WINDOW`]
//! PrivateMessages of the epochs it can still decrypt (the current one and
//! the kept past ones); an older echo is refused like a replay
//! ([`crate::error::ProtocolError::KeyAlreadyUsed`]).

use std::collections::VecDeque;

use crate::crypto::CipherSuiteProvider;
use crate::messages::PrivateMessage;

/// How many of its last PrivateMessages a member recognises when echoed.
pub const OWN_MESSAGE_WINDOW: usize = 512;

/// The length of a sent message's digest: a prefix of the suite's hash.
/// A forger would need a second preimage of one of the member's own
/// messages (whose bytes it cannot choose): 128 bits are plenty.
pub(crate) const DIGEST_LEN: usize = 16;

/// One sent PrivateMessage: its epoch and digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SentMessage {
    pub epoch: u64,
    pub digest: [u8; DIGEST_LEN],
}

/// The digests of the PrivateMessages this member sent recently, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OwnMessages {
    pub sent: VecDeque<SentMessage>,
}

/// The digest of a whole PrivateMessage: every field, each length-prefixed.
pub(crate) fn digest(cs: &dyn CipherSuiteProvider, m: &PrivateMessage) -> [u8; DIGEST_LEN] {
    let parts: [&[u8]; 4] = [
        &m.group_id,
        &m.authenticated_data,
        &m.encrypted_sender_data,
        &m.ciphertext,
    ];
    let mut input = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum::<usize>() + 9);
    input.extend_from_slice(&m.epoch.to_be_bytes());
    input.push(m.content_type.to_u8());
    for p in parts {
        input.extend_from_slice(&(p.len() as u64).to_be_bytes());
        input.extend_from_slice(p);
    }
    let mut out = [0u8; DIGEST_LEN];
    for (o, h) in out.iter_mut().zip(cs.hash(&input)) {
        *o = h;
    }
    out
}

impl OwnMessages {
    /// Remembers a message this member sent.
    pub fn record(&mut self, cs: &dyn CipherSuiteProvider, m: &PrivateMessage) {
        self.sent.push_back(SentMessage {
            epoch: m.epoch,
            digest: digest(cs, m),
        });
        while self.sent.len() > OWN_MESSAGE_WINDOW {
            self.sent.pop_front();
        }
    }

    /// Whether `m` is, byte for byte, one this member sent.
    pub fn contains(&self, cs: &dyn CipherSuiteProvider, m: &PrivateMessage) -> bool {
        let d = digest(cs, m);
        self.sent
            .iter()
            .any(|s| s.epoch == m.epoch && s.digest == d)
    }

    /// Forgets the messages of epochs this member can no longer decrypt.
    pub fn retain_epochs(&mut self, keep: impl Fn(u64) -> bool) {
        self.sent.retain(|s| keep(s.epoch));
    }
}
