//! Where the group finds the values of pre-shared keys (RFC 9420 §8.4, §8.6).

use std::collections::HashMap;

use crate::crypto::Secret;

/// The application's store of external PSKs, looked up by `psk_id`
/// (RFC 9420 §8.4). Resumption PSKs come from the group itself.
pub trait PskStore {
    /// The PSK with this id, if the application has it.
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret>;
}

/// No external PSKs at all.
impl PskStore for () {
    fn external_psk(&self, _psk_id: &[u8]) -> Option<Secret> {
        None
    }
}

/// An in-memory store.
impl PskStore for HashMap<Vec<u8>, Secret> {
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret> {
        self.get(psk_id).cloned()
    }
}

impl<T: PskStore + ?Sized> PskStore for &T {
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret> {
        (**self).external_psk(psk_id)
    }
}
