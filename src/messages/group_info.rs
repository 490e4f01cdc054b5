//! GroupInfo (RFC 9420 §12.4.3).

use super::{Extension, GroupContext};
use crate::codec::Encode;
use crate::crypto::{CipherSuiteProvider, SignaturePrivateKey, SignaturePublicKey, Tag};
use crate::error::Result;

/// The signed description of a group's current epoch that joiners need
/// (RFC 9420 §12.4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group context of the epoch.
    pub group_context: GroupContext,
    /// GroupInfo extensions (unknown ones must be ignored, §13).
    pub extensions: Vec<Extension>,
    /// The confirmation tag of the commit that started the epoch.
    pub confirmation_tag: Tag,
    /// The leaf index of the member that signed this GroupInfo.
    pub signer: u32,
    /// `SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)`.
    pub signature: Vec<u8>,
}
crate::impl_codec_struct!(GroupInfo {
    group_context,
    extensions,
    confirmation_tag,
    signer,
    signature
});

impl GroupInfo {
    /// The encoded `GroupInfoTBS`: every field but the signature (RFC 9420 §12.4.3).
    pub fn to_be_signed(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.group_context.encode(&mut out)?;
        self.extensions.encode(&mut out)?;
        self.confirmation_tag.encode(&mut out)?;
        self.signer.encode(&mut out)?;
        Ok(out)
    }

    /// Signs the GroupInfo in place with the signer's key.
    pub fn sign(&mut self, cs: &dyn CipherSuiteProvider, key: &SignaturePrivateKey) -> Result<()> {
        let tbs = self.to_be_signed()?;
        self.signature = crate::crypto::labeled::sign_with_label(cs, key, b"GroupInfoTBS", &tbs)?;
        Ok(())
    }

    /// Verifies the signature with `key`, the signature key of the leaf at
    /// index `signer` in the group's ratchet tree.
    pub fn verify_signature(
        &self,
        cs: &dyn CipherSuiteProvider,
        key: &SignaturePublicKey,
    ) -> Result<()> {
        let tbs = self.to_be_signed()?;
        crate::crypto::labeled::verify_with_label(cs, key, b"GroupInfoTBS", &tbs, &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Decode;
    use crate::messages::test_support::{HashSigner, group_info, round_trip};

    #[test]
    fn round_trips_and_tbs_is_all_but_the_signature() {
        let gi = group_info();
        let bytes = round_trip(&gi);
        let tbs = gi.to_be_signed().unwrap();
        assert_eq!(bytes[..tbs.len()], tbs);
        assert_eq!(
            Vec::<u8>::decode_exact(&bytes[tbs.len()..]).unwrap(),
            gi.signature
        );
    }

    #[test]
    fn sign_and_verify() {
        // Signatures are checked with a hash-based stand-in: this test is about
        // which bytes are signed under which label, not the signature schemes.
        let cs = HashSigner;
        let (sk, pk) = HashSigner::key_pair(1);
        let mut gi = group_info();
        gi.sign(&cs, &sk).unwrap();
        gi.verify_signature(&cs, &pk).unwrap();
        // SignWithLabel(., "GroupInfoTBS", GroupInfoTBS): "MLS 1.0 GroupInfoTBS" then the TBS.
        let tbs = gi.to_be_signed().unwrap();
        let mut content = Vec::new();
        b"MLS 1.0 GroupInfoTBS"
            .to_vec()
            .encode(&mut content)
            .unwrap();
        tbs.encode(&mut content).unwrap();
        assert_eq!(gi.signature, cs.sign(&sk, &content).unwrap());
        // Every signed field is covered.
        let mut other = gi.clone();
        other.signer = 2;
        assert!(other.verify_signature(&cs, &pk).is_err());
        let mut other = gi.clone();
        other.group_context.epoch += 1;
        assert!(other.verify_signature(&cs, &pk).is_err());
        let mut other = gi.clone();
        other.confirmation_tag = Tag::from(vec![0; 32]);
        assert!(other.verify_signature(&cs, &pk).is_err());
        let mut other = gi.clone();
        other.extensions.clear();
        assert!(other.verify_signature(&cs, &pk).is_err());
        assert!(
            gi.verify_signature(&cs, &HashSigner::key_pair(2).1)
                .is_err()
        );
    }
}
