//! The Welcome message and the secrets it carries (RFC 9420 §12.4.3.1).

use super::{KeyPackageRef, PreSharedKeyId};
use crate::crypto::{CipherSuite, HpkeCiphertext, Secret};

/// `PathSecret` (RFC 9420 §12.4.3.1): the path secret of the lowest node
/// common to the committer's and the new member's direct paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathSecret {
    /// The path secret.
    pub path_secret: Secret,
}
crate::impl_codec_struct!(PathSecret { path_secret });

/// `GroupSecrets` (RFC 9420 §12.4.3.1): what is encrypted to each new member.
///
/// Its encoding holds secrets in a plain byte vector: callers should wipe it
/// after encrypting it, and wipe decrypted plaintexts after decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSecrets {
    /// The joiner secret of the new epoch (§8).
    pub joiner_secret: Secret,
    /// The path secret for the new member, if the commit had a path.
    pub path_secret: Option<PathSecret>,
    /// The PSKs injected into the new epoch, in order.
    pub psks: Vec<PreSharedKeyId>,
}
crate::impl_codec_struct!(GroupSecrets {
    joiner_secret,
    path_secret,
    psks
});

/// `EncryptedGroupSecrets` (RFC 9420 §12.4.3.1): [`GroupSecrets`] encrypted to
/// one new member's KeyPackage init key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedGroupSecrets {
    /// The reference of the KeyPackage the secrets are encrypted to.
    pub new_member: KeyPackageRef,
    /// `EncryptWithLabel(init_key, "Welcome", encrypted_group_info, GroupSecrets)`.
    pub encrypted_group_secrets: HpkeCiphertext,
}
crate::impl_codec_struct!(EncryptedGroupSecrets {
    new_member,
    encrypted_group_secrets
});

/// `Welcome` (RFC 9420 §12.4.3.1): brings new members into the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The group's cipher suite.
    pub cipher_suite: CipherSuite,
    /// The group secrets, one entry per new member.
    pub secrets: Vec<EncryptedGroupSecrets>,
    /// The [`GroupInfo`](super::GroupInfo), encrypted with the welcome key and nonce.
    pub encrypted_group_info: Vec<u8>,
}
crate::impl_codec_struct!(Welcome {
    cipher_suite,
    secrets,
    encrypted_group_info
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::test_support::{psk_id, round_trip, welcome};

    #[test]
    fn welcome_round_trips() {
        let bytes = round_trip(&welcome());
        assert_eq!(bytes[..2], [0, 1]);
    }

    #[test]
    fn group_secrets_round_trip_and_stay_redacted() {
        let gs = GroupSecrets {
            joiner_secret: Secret::from(vec![0xa5; 32]),
            path_secret: Some(PathSecret {
                path_secret: Secret::from(vec![0x5a; 32]),
            }),
            psks: vec![psk_id(), psk_id()],
        };
        let bytes = round_trip(&gs);
        assert_eq!(bytes[..2], [32, 0xa5]);
        assert_eq!(bytes[33..35], [1, 32]);
        let shown = format!("{gs:?}");
        assert!(!shown.contains("165") && !shown.contains("a5"), "{shown}");
        let bare = GroupSecrets {
            joiner_secret: Secret::from(vec![1]),
            path_secret: None,
            psks: vec![],
        };
        assert_eq!(round_trip(&bare), [1, 1, 0, 0]);
    }
}
