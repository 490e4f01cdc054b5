//! The key schedule (RFC 9420 §8): from the previous epoch's `init_secret`,
//! the `commit_secret`, the `psk_secret` and the new GroupContext to every
//! secret of the new epoch.
//!
//! ```text
//! init_secret_[n-1] ─salt─▶ Extract(., commit_secret) ─▶ ExpandWithLabel(., "joiner", GC, Nh)
//!   = joiner_secret ─salt─▶ Extract(., psk_secret)    ─┬▶ DeriveSecret(., "welcome") = welcome_secret
//!                                                      └▶ ExpandWithLabel(., "epoch", GC, Nh) = epoch_secret
//! epoch_secret ─▶ DeriveSecret(., label) for each epoch secret, "init" last = init_secret_[n]
//! ```
//!
//! Each step is a type that is consumed by the next one, so a secret the RFC
//! says to delete once used (§9.2) is dropped (and zeroized) by the step that
//! uses it:
//!
//! * a member processing a Commit: [`JoinerSecret::derive`] →
//!   [`JoinerSecret::into_intermediate`] → [`IntermediateSecret::into_epoch_secret`] →
//!   [`EpochSecret::into_epoch_secrets`], or all at once with [`KeySchedule::derive`];
//! * a new member joining by Welcome (§12.4.3.1): [`JoinerSecret::from_secret`]
//!   (from GroupSecrets) → [`JoinerSecret::into_intermediate`] →
//!   [`IntermediateSecret::welcome_secret`] to decrypt the GroupInfo, then
//!   [`IntermediateSecret::into_epoch_secret`] with its GroupContext.

use crate::codec::Encode;
use crate::crypto::labeled::{derive_secret, expand_with_label, nh};
use crate::crypto::{CipherSuiteProvider, HpkePrivateKey, HpkePublicKey, Secret};
use crate::error::{Error, Result};
use crate::messages::GroupContext;
use crate::psk::PskSecret;

/// A length as the `uint16` `ExpandWithLabel` takes.
pub(crate) fn len16(len: usize) -> Result<u16> {
    u16::try_from(len).map_err(|_| Error::Internal("AEAD length exceeds u16"))
}

/// An AEAD key and nonce (RFC 9420 §6.3.2, §12.4.3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyAndNonce {
    /// The AEAD key, `AEAD.Nk` bytes.
    pub key: Secret,
    /// The AEAD nonce, `AEAD.Nn` bytes.
    pub nonce: Secret,
}

/// `init_secret`: carries one epoch into the next (RFC 9420 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitSecret(Secret);

impl InitSecret {
    /// Wraps an init secret (e.g. the one exported by an external init, §8.3).
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// A fresh random init secret of `KDF.Nh` bytes, for a new group's epoch 0 (§11).
    pub fn random(cs: &dyn CipherSuiteProvider) -> Result<Self> {
        Ok(Self(cs.random_secret(cs.kdf_len())?))
    }

    /// The secret.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// The joiner's side of an external init (RFC 9420 §8.3): a fresh
    /// `init_secret` for the epoch an external commit starts, and the
    /// `kem_output` for its ExternalInit proposal:
    ///
    /// ```text
    /// kem_output, context = SetupBaseS(external_pub, "")
    /// init_secret = context.export("MLS 1.0 external init secret", KDF.Nh)
    /// ```
    pub fn external_init(
        cs: &dyn CipherSuiteProvider,
        external_pub: &HpkePublicKey,
    ) -> Result<(Vec<u8>, Self)> {
        let (kem_output, secret) =
            cs.hpke_export_sender(external_pub, &[], EXTERNAL_INIT_LABEL, cs.kdf_len())?;
        Ok((kem_output, Self(secret)))
    }
}

/// The exporter context of the external init secret (RFC 9420 §8.3).
const EXTERNAL_INIT_LABEL: &[u8] = b"MLS 1.0 external init secret";

/// `joiner_secret` (RFC 9420 §8): what a Welcome gives a new member (§12.4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinerSecret(Secret);

impl JoinerSecret {
    /// `ExpandWithLabel(KDF.Extract(init_secret, commit_secret), "joiner", GroupContext, KDF.Nh)`.
    ///
    /// Consumes the previous epoch's `init_secret` and the `commit_secret`
    /// (RFC 9420 §9.2). `group_context` is the context of the new epoch.
    pub fn derive(
        cs: &dyn CipherSuiteProvider,
        init_secret: InitSecret,
        commit_secret: Secret,
        group_context: &GroupContext,
    ) -> Result<Self> {
        let extracted = cs.kdf_extract(init_secret.0.as_bytes(), commit_secret.as_bytes())?;
        let gc = group_context.to_bytes()?;
        Ok(Self(expand_with_label(
            cs,
            extracted.as_bytes(),
            b"joiner",
            &gc,
            nh(cs)?,
        )?))
    }

    /// Wraps a joiner secret received in `GroupSecrets` (RFC 9420 §12.4.3).
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret, to send in `GroupSecrets`.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// `KDF.Extract(joiner_secret, psk_secret)`, the secret that both the
    /// `welcome_secret` and the `epoch_secret` come from (RFC 9420 §8).
    pub fn into_intermediate(
        self,
        cs: &dyn CipherSuiteProvider,
        psk_secret: PskSecret,
    ) -> Result<IntermediateSecret> {
        Ok(IntermediateSecret(cs.kdf_extract(
            self.0.as_bytes(),
            psk_secret.as_secret().as_bytes(),
        )?))
    }
}

/// `KDF.Extract(joiner_secret, psk_secret)`: the unnamed node of the key
/// schedule between `joiner_secret` and `epoch_secret` (RFC 9420 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntermediateSecret(Secret);

impl IntermediateSecret {
    /// `welcome_secret = DeriveSecret(., "welcome")` (RFC 9420 §8).
    pub fn welcome_secret(&self, cs: &dyn CipherSuiteProvider) -> Result<WelcomeSecret> {
        Ok(WelcomeSecret(derive_secret(
            cs,
            self.0.as_bytes(),
            b"welcome",
        )?))
    }

    /// `epoch_secret = ExpandWithLabel(., "epoch", GroupContext, KDF.Nh)` (RFC 9420 §8).
    pub fn into_epoch_secret(
        self,
        cs: &dyn CipherSuiteProvider,
        group_context: &GroupContext,
    ) -> Result<EpochSecret> {
        let gc = group_context.to_bytes()?;
        Ok(EpochSecret(expand_with_label(
            cs,
            self.0.as_bytes(),
            b"epoch",
            &gc,
            nh(cs)?,
        )?))
    }
}

/// `welcome_secret`: protects the GroupInfo of a Welcome (RFC 9420 §8, §12.4.3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WelcomeSecret(Secret);

impl WelcomeSecret {
    /// Wraps a welcome secret.
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// `welcome_key = ExpandWithLabel(welcome_secret, "key", "", AEAD.Nk)` and
    /// `welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", AEAD.Nn)` (RFC 9420 §12.4.3.1).
    pub fn key_and_nonce(&self, cs: &dyn CipherSuiteProvider) -> Result<KeyAndNonce> {
        let s = self.0.as_bytes();
        Ok(KeyAndNonce {
            key: expand_with_label(cs, s, b"key", &[], len16(cs.aead_key_len())?)?,
            nonce: expand_with_label(cs, s, b"nonce", &[], len16(cs.aead_nonce_len())?)?,
        })
    }
}

/// `epoch_secret`: every secret of the epoch is derived from it (RFC 9420 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochSecret(Secret);

impl EpochSecret {
    /// Wraps an epoch secret.
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// Derives the secrets of Table 4 and the next `init_secret` (RFC 9420 §8),
    /// consuming the epoch secret.
    pub fn into_epoch_secrets(self, cs: &dyn CipherSuiteProvider) -> Result<EpochSecrets> {
        let d = |label: &[u8]| derive_secret(cs, self.0.as_bytes(), label);
        Ok(EpochSecrets {
            sender_data_secret: SenderDataSecret(d(b"sender data")?),
            encryption_secret: d(b"encryption")?,
            exporter_secret: ExporterSecret(d(b"exporter")?),
            external_secret: ExternalSecret(d(b"external")?),
            confirmation_key: d(b"confirm")?,
            membership_key: d(b"membership")?,
            resumption_psk: d(b"resumption")?,
            epoch_authenticator: d(b"authentication")?,
            init_secret: InitSecret(d(b"init")?),
        })
    }
}

/// The secrets derived from an `epoch_secret` (RFC 9420 §8, Table 4), and the
/// `init_secret` of the next epoch. Fields are public so each can be moved to
/// where it is used (the `encryption_secret` into the secret tree, the
/// `init_secret` into the next epoch's key schedule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochSecrets {
    /// `"sender data"`: keys for the sender data of PrivateMessages (§6.3.2).
    pub sender_data_secret: SenderDataSecret,
    /// `"encryption"`: the root of the secret tree (§9).
    pub encryption_secret: Secret,
    /// `"exporter"`: the MLS exporter (§8.5).
    pub exporter_secret: ExporterSecret,
    /// `"external"`: the external HPKE key pair (§8.3).
    pub external_secret: ExternalSecret,
    /// `"confirm"`: the key of the confirmation tag (§6.1).
    pub confirmation_key: Secret,
    /// `"membership"`: the key of the membership tag of PublicMessages (§6.2).
    pub membership_key: Secret,
    /// `"resumption"`: the resumption PSK of this epoch (§8.6).
    pub resumption_psk: Secret,
    /// `"authentication"`: the epoch authenticator (§8.7).
    pub epoch_authenticator: Secret,
    /// `"init"`: the `init_secret` of the next epoch.
    pub init_secret: InitSecret,
}

/// `sender_data_secret` (RFC 9420 §8): keys the sender data of PrivateMessages (§6.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderDataSecret(Secret);

impl SenderDataSecret {
    /// Wraps a sender data secret.
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// The sender data key and nonce for a PrivateMessage ciphertext (RFC 9420 §6.3.2):
    /// `ExpandWithLabel(sender_data_secret, "key" | "nonce", ciphertext_sample, AEAD.Nk | AEAD.Nn)`,
    /// where the sample is the first `KDF.Nh` bytes of `ciphertext`, or all
    /// of it if it is shorter.
    pub fn key_and_nonce(
        &self,
        cs: &dyn CipherSuiteProvider,
        ciphertext: &[u8],
    ) -> Result<KeyAndNonce> {
        let sample = ciphertext.get(..cs.kdf_len()).unwrap_or(ciphertext);
        let s = self.0.as_bytes();
        Ok(KeyAndNonce {
            key: expand_with_label(cs, s, b"key", sample, len16(cs.aead_key_len())?)?,
            nonce: expand_with_label(cs, s, b"nonce", sample, len16(cs.aead_nonce_len())?)?,
        })
    }
}

/// `exporter_secret` (RFC 9420 §8.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExporterSecret(Secret);

impl ExporterSecret {
    /// Wraps an exporter secret.
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// `MLS-Exporter(Label, Context, Length) =
    ///  ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length)`
    /// (RFC 9420 §8.5).
    pub fn export(
        &self,
        cs: &dyn CipherSuiteProvider,
        label: &[u8],
        context: &[u8],
        length: u16,
    ) -> Result<Secret> {
        let derived = derive_secret(cs, self.0.as_bytes(), label)?;
        expand_with_label(
            cs,
            derived.as_bytes(),
            b"exported",
            &cs.hash(context),
            length,
        )
    }
}

/// `external_secret` (RFC 9420 §8.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalSecret(Secret);

impl ExternalSecret {
    /// Wraps an external secret.
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// `external_priv, external_pub = KEM.DeriveKeyPair(external_secret)` (RFC 9420 §8).
    pub fn key_pair(
        &self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<(HpkePrivateKey, HpkePublicKey)> {
        Ok(cs.hpke_derive_key_pair(self.0.as_bytes())?)
    }

    /// The members' side of an external init (RFC 9420 §8.3): the next
    /// epoch's `init_secret` from the `kem_output` of an ExternalInit:
    ///
    /// ```text
    /// context = SetupBaseR(kem_output, external_priv, "")
    /// init_secret = context.export("MLS 1.0 external init secret", KDF.Nh)
    /// ```
    ///
    /// A malformed `kem_output` fails with
    /// [`CryptoError::InvalidPublicKey`](crate::error::CryptoError::InvalidPublicKey);
    /// a well-formed one not made for this epoch's key gives another secret,
    /// which the commit's confirmation tag then exposes.
    pub fn external_init_secret(
        &self,
        cs: &dyn CipherSuiteProvider,
        kem_output: &[u8],
    ) -> Result<InitSecret> {
        let (external_priv, _) = self.key_pair(cs)?;
        Ok(InitSecret(cs.hpke_export_receiver(
            &external_priv,
            kem_output,
            &[],
            EXTERNAL_INIT_LABEL,
            cs.kdf_len(),
        )?))
    }
}

/// What one run of the key schedule gives (RFC 9420 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySchedule {
    /// `joiner_secret`, for the `GroupSecrets` of a Welcome.
    pub joiner_secret: JoinerSecret,
    /// `welcome_secret`, to encrypt the GroupInfo of a Welcome.
    pub welcome_secret: WelcomeSecret,
    /// The secrets of the new epoch.
    pub epoch_secrets: EpochSecrets,
}

impl KeySchedule {
    /// Runs the whole key schedule for a new epoch (RFC 9420 §8), consuming
    /// the previous `init_secret`, the `commit_secret` and the `psk_secret`.
    /// `group_context` is the GroupContext of the new epoch.
    ///
    /// A member that only processes the Commit may drop `joiner_secret` and
    /// `welcome_secret` at once; the committer needs them for its Welcome.
    pub fn derive(
        cs: &dyn CipherSuiteProvider,
        init_secret: InitSecret,
        commit_secret: Secret,
        psk_secret: PskSecret,
        group_context: &GroupContext,
    ) -> Result<Self> {
        let joiner_secret = JoinerSecret::derive(cs, init_secret, commit_secret, group_context)?;
        let intermediate = joiner_secret.clone().into_intermediate(cs, psk_secret)?;
        let welcome_secret = intermediate.welcome_secret(cs)?;
        let epoch_secrets = intermediate
            .into_epoch_secret(cs, group_context)?
            .into_epoch_secrets(cs)?;
        Ok(Self {
            joiner_secret,
            welcome_secret,
            epoch_secrets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{CipherSuite, RustCryptoProvider};
    use crate::messages::ProtocolVersion;

    fn cs() -> impl CipherSuiteProvider {
        RustCryptoProvider::new()
            .suite(CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384)
            .unwrap()
    }

    fn context(epoch: u64) -> GroupContext {
        GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384,
            group_id: b"group".to_vec(),
            epoch,
            tree_hash: vec![1; 48],
            confirmed_transcript_hash: vec![2; 48],
            extensions: vec![],
        }
    }

    #[test]
    fn joiner_reaches_the_same_epoch_as_the_committer() {
        let cs = cs();
        let gc = context(1);
        let init = InitSecret::from_secret(Secret::from(vec![3; 48]));
        let psk = PskSecret::from_secret(Secret::from(vec![4; 48]));
        let committer =
            KeySchedule::derive(&cs, init, Secret::from(vec![5; 48]), psk.clone(), &gc).unwrap();

        let joiner = JoinerSecret::from_secret(committer.joiner_secret.as_secret().clone());
        let intermediate = joiner.into_intermediate(&cs, psk.clone()).unwrap();
        assert_eq!(
            intermediate.welcome_secret(&cs).unwrap(),
            committer.welcome_secret
        );
        let secrets = intermediate
            .into_epoch_secret(&cs, &gc)
            .unwrap()
            .into_epoch_secrets(&cs)
            .unwrap();
        assert_eq!(secrets, committer.epoch_secrets);

        // A different PSK secret or GroupContext gives a different epoch.
        let joiner = JoinerSecret::from_secret(committer.joiner_secret.as_secret().clone());
        let other = joiner
            .into_intermediate(&cs, PskSecret::zero(&cs))
            .unwrap()
            .into_epoch_secret(&cs, &context(2))
            .unwrap()
            .into_epoch_secrets(&cs)
            .unwrap();
        assert_ne!(
            other.epoch_authenticator,
            committer.epoch_secrets.epoch_authenticator
        );
    }

    #[test]
    fn external_init_joiner_and_members_agree() {
        for suite in CipherSuite::ALL {
            let cs = RustCryptoProvider::with_seed([suite.0 as u8; 32])
                .suite(suite)
                .unwrap();
            let external = ExternalSecret::from_secret(Secret::from(vec![7; cs.kdf_len()]));
            let (_, external_pub) = external.key_pair(&cs).unwrap();
            let (kem_output, joiner) = InitSecret::external_init(&cs, &external_pub).unwrap();
            assert_eq!(joiner.as_secret().len(), cs.kdf_len(), "{suite:?}");
            let member = external.external_init_secret(&cs, &kem_output).unwrap();
            assert_eq!(member, joiner, "{suite:?}");
            // Another epoch's external secret derives another init secret.
            let other = ExternalSecret::from_secret(Secret::from(vec![8; cs.kdf_len()]));
            assert_ne!(
                other.external_init_secret(&cs, &kem_output).unwrap(),
                joiner,
                "{suite:?}"
            );
            // A malformed kem_output is refused.
            assert_eq!(
                external.external_init_secret(&cs, &kem_output[1..]),
                Err(crate::error::CryptoError::InvalidPublicKey.into()),
                "{suite:?}"
            );
        }
    }

    #[test]
    fn lengths_follow_the_suite() {
        let cs = cs();
        let ks = KeySchedule::derive(
            &cs,
            InitSecret::random(&cs).unwrap(),
            Secret::zero(48),
            PskSecret::zero(&cs),
            &context(0),
        )
        .unwrap();
        let s = &ks.epoch_secrets;
        assert_eq!(s.encryption_secret.len(), 48);
        assert_eq!(s.init_secret.as_secret().len(), 48);
        let w = ks.welcome_secret.key_and_nonce(&cs).unwrap();
        assert_eq!((w.key.len(), w.nonce.len()), (32, 12));
        // The sample is the first KDF.Nh bytes, or the whole ciphertext when shorter.
        let long = vec![9u8; 100];
        let a = s.sender_data_secret.key_and_nonce(&cs, &long).unwrap();
        let b = s
            .sender_data_secret
            .key_and_nonce(&cs, &long[..48])
            .unwrap();
        let c = s
            .sender_data_secret
            .key_and_nonce(&cs, &long[..47])
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            s.exporter_secret
                .export(&cs, b"label", b"ctx", 7)
                .unwrap()
                .len(),
            7
        );
    }
}
