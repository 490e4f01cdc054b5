//! The labelled operations of RFC 9420, each built here and nowhere else so
//! that domain separation cannot drift: `ExpandWithLabel`, `DeriveSecret`
//! (§8), `DeriveTreeSecret` (§9), `SignWithLabel`/`VerifyWithLabel` (§5.1.2),
//! `EncryptWithLabel`/`DecryptWithLabel` (§5.1.3) and `RefHash` (§5.2).

use super::{
    CipherSuiteProvider, HpkeCiphertext, HpkePrivateKey, HpkePublicKey, Secret,
    SignaturePrivateKey, SignaturePublicKey,
};
use crate::codec::{Encode, write_opaque};
use crate::error::{Error, Result};

/// The prefix every MLS label carries (RFC 9420 §5.1.2, §5.1.3, §8).
const LABEL_PREFIX: &[u8] = b"MLS 1.0 ";

/// Writes `opaque label<V> = "MLS 1.0 " + label`.
fn write_label(out: &mut Vec<u8>, label: &[u8]) -> Result<()> {
    crate::codec::write_vec_with(out, |out| {
        out.extend_from_slice(LABEL_PREFIX);
        out.extend_from_slice(label);
        Ok(())
    })?;
    Ok(())
}

/// `ExpandWithLabel(Secret, Label, Context, Length)` (RFC 9420 §8):
/// `KDF.Expand(Secret, KDFLabel, Length)` with
/// `KDFLabel { uint16 length; opaque label<V> = "MLS 1.0 " + Label; opaque context<V>; }`.
pub fn expand_with_label(
    cs: &dyn CipherSuiteProvider,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    length: u16,
) -> Result<Secret> {
    let mut info = Vec::with_capacity(2 + 1 + LABEL_PREFIX.len() + label.len() + 4 + context.len());
    length.encode(&mut info)?;
    write_label(&mut info, label)?;
    write_opaque(&mut info, context)?;
    Ok(cs.kdf_expand(secret, &info, usize::from(length))?)
}

/// `DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh)` (RFC 9420 §8).
pub fn derive_secret(cs: &dyn CipherSuiteProvider, secret: &[u8], label: &[u8]) -> Result<Secret> {
    expand_with_label(cs, secret, label, &[], nh(cs)?)
}

/// `DeriveTreeSecret(Secret, Label, Generation, Length)
///  = ExpandWithLabel(Secret, Label, uint32 Generation, Length)` (RFC 9420 §9).
pub fn derive_tree_secret(
    cs: &dyn CipherSuiteProvider,
    secret: &[u8],
    label: &[u8],
    generation: u32,
    length: u16,
) -> Result<Secret> {
    expand_with_label(cs, secret, label, &generation.to_be_bytes(), length)
}

/// `KDF.Nh` as a `u16` length.
pub fn nh(cs: &dyn CipherSuiteProvider) -> Result<u16> {
    u16::try_from(cs.kdf_len()).map_err(|_| Error::Internal("KDF output length exceeds u16"))
}

/// Encodes `SignContent { opaque label<V> = "MLS 1.0 " + Label; opaque content<V>; }`.
fn sign_content(label: &[u8], content: &[u8]) -> Result<Vec<u8>> {
    let mut tbs = Vec::with_capacity(LABEL_PREFIX.len() + label.len() + content.len() + 8);
    write_label(&mut tbs, label)?;
    write_opaque(&mut tbs, content)?;
    Ok(tbs)
}

/// `SignWithLabel(SignatureKey, Label, Content)` (RFC 9420 §5.1.2).
pub fn sign_with_label(
    cs: &dyn CipherSuiteProvider,
    key: &SignaturePrivateKey,
    label: &[u8],
    content: &[u8],
) -> Result<Vec<u8>> {
    Ok(cs.sign(key, &sign_content(label, content)?)?)
}

/// `VerifyWithLabel(VerificationKey, Label, Content, SignatureValue)` (RFC 9420 §5.1.2).
/// Fails with [`crate::error::CryptoError::InvalidSignature`] if the signature does not hold.
pub fn verify_with_label(
    cs: &dyn CipherSuiteProvider,
    key: &SignaturePublicKey,
    label: &[u8],
    content: &[u8],
    signature: &[u8],
) -> Result<()> {
    Ok(cs.verify(key, &sign_content(label, content)?, signature)?)
}

/// `VerifyWithLabel(VerificationKey, Label, Content, SignatureValue)`
/// (RFC 9420 §5.1.2) with `Content` the concatenation of `content`, which
/// is not formed: the `SignContent` header (label, then the content's
/// length) and the pieces are handed to the provider in turn.
pub(crate) fn verify_with_label_parts(
    cs: &dyn CipherSuiteProvider,
    key: &SignaturePublicKey,
    label: &[u8],
    content: &[&[u8]],
    signature: &[u8],
) -> Result<()> {
    let len: usize = content.iter().map(|p| p.len()).sum();
    let mut header = Vec::with_capacity(LABEL_PREFIX.len() + label.len() + 5);
    write_label(&mut header, label)?;
    crate::codec::write_vec_len(&mut header, len)?;
    let mut parts = Vec::with_capacity(content.len() + 1);
    parts.push(header.as_slice());
    parts.extend_from_slice(content);
    Ok(cs.verify_parts(key, &parts, signature)?)
}

/// `VerifyWithLabel` checks collected to be verified together with
/// [`CipherSuiteProvider::verify_many`] (in parallel), each with
/// the error to report if its signature does not hold. Other failures (a
/// malformed key, say) keep their crypto error.
pub(crate) struct SignatureChecks<'a> {
    items: Vec<(&'a SignaturePublicKey, Vec<u8>, &'a [u8], Error)>,
}

/// One check of [`SignatureChecks`], prepared on its own: the key, the
/// encoded `SignContent`, the signature and the error if it does not hold.
pub(crate) struct SignatureCheck<'a>((&'a SignaturePublicKey, Vec<u8>, &'a [u8], Error));

impl<'a> SignatureCheck<'a> {
    /// `VerifyWithLabel(key, label, content, signature)`, to be verified
    /// with others by [`SignatureChecks::verify`].
    pub(crate) fn new(
        key: &'a SignaturePublicKey,
        label: &[u8],
        content: &[u8],
        signature: &'a [u8],
        on_invalid: Error,
    ) -> Result<Self> {
        Ok(Self((
            key,
            sign_content(label, content)?,
            signature,
            on_invalid,
        )))
    }
}

impl<'a> SignatureChecks<'a> {
    /// No checks yet.
    pub(crate) fn new() -> Self {
        Self { items: Vec::new() }
    }

    /// No checks yet, room for `n`.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            items: Vec::with_capacity(n),
        }
    }

    /// Adds `VerifyWithLabel(key, label, content, signature)`, failing with
    /// `on_invalid` if the signature does not hold.
    pub(crate) fn push(
        &mut self,
        key: &'a SignaturePublicKey,
        label: &[u8],
        content: &[u8],
        signature: &'a [u8],
        on_invalid: Error,
    ) -> Result<()> {
        self.items
            .push(SignatureCheck::new(key, label, content, signature, on_invalid)?.0);
        Ok(())
    }

    /// Adds a check prepared with [`SignatureCheck::new`] (which can be done
    /// on another thread).
    pub(crate) fn push_prepared(&mut self, check: SignatureCheck<'a>) {
        self.items.push(check.0);
    }

    /// Verifies every check; the error is that of the first (in the order
    /// they were added) that fails.
    pub(crate) fn verify(self, cs: &dyn CipherSuiteProvider) -> Result<()> {
        let refs: Vec<(&SignaturePublicKey, &[u8], &[u8])> = self
            .items
            .iter()
            .map(|(key, msg, sig, _)| (*key, msg.as_slice(), *sig))
            .collect();
        match cs.verify_many(&refs) {
            Ok(()) => Ok(()),
            Err((i, crate::error::CryptoError::InvalidSignature)) => Err(self
                .items
                .into_iter()
                .nth(i)
                .map_or(crate::error::CryptoError::InvalidSignature.into(), |it| {
                    it.3
                })),
            Err((_, e)) => Err(e.into()),
        }
    }
}

/// Encodes `EncryptContext { opaque label<V> = "MLS 1.0 " + Label; opaque context<V>; }`.
fn encrypt_context(label: &[u8], context: &[u8]) -> Result<Vec<u8>> {
    // Same shape as SignContent.
    sign_content(label, context)
}

/// `EncryptWithLabel(PublicKey, Label, Context, Plaintext)
///  = SealBase(PublicKey, EncryptContext, "", Plaintext)` (RFC 9420 §5.1.3).
pub fn encrypt_with_label(
    cs: &dyn CipherSuiteProvider,
    key: &HpkePublicKey,
    label: &[u8],
    context: &[u8],
    plaintext: &[u8],
) -> Result<HpkeCiphertext> {
    Ok(cs.hpke_seal(key, &encrypt_context(label, context)?, &[], plaintext)?)
}

/// [`encrypt_with_label`] of several plaintexts, each to its public key,
/// under one label and context, in order. The `EncryptContext` is encoded
/// once, and the provider may share the work that depends only on it
/// ([`CipherSuiteProvider::hpke_seal_many`]).
pub fn encrypt_with_label_many(
    cs: &dyn CipherSuiteProvider,
    label: &[u8],
    context: &[u8],
    recipients: &[(&HpkePublicKey, &[u8])],
) -> Result<Vec<HpkeCiphertext>> {
    Ok(cs.hpke_seal_many(&encrypt_context(label, context)?, &[], recipients)?)
}

/// `DecryptWithLabel(PrivateKey, Label, Context, KEMOutput, Ciphertext)
///  = OpenBase(KEMOutput, PrivateKey, EncryptContext, "", Ciphertext)` (RFC 9420 §5.1.3).
pub fn decrypt_with_label(
    cs: &dyn CipherSuiteProvider,
    key: &HpkePrivateKey,
    label: &[u8],
    context: &[u8],
    ciphertext: &HpkeCiphertext,
) -> Result<Vec<u8>> {
    Ok(cs.hpke_open(key, ciphertext, &encrypt_context(label, context)?, &[])?)
}

/// [`decrypt_with_label`] for a recipient whose public key is known (a
/// node of the ratchet tree holding `key`): the same plaintext, without
/// recomputing the public key (see
/// [`CipherSuiteProvider::hpke_open_with_public`]).
pub fn decrypt_with_label_for(
    cs: &dyn CipherSuiteProvider,
    key: &HpkePrivateKey,
    public_key: &HpkePublicKey,
    label: &[u8],
    context: &[u8],
    ciphertext: &HpkeCiphertext,
) -> Result<Vec<u8>> {
    Ok(cs.hpke_open_with_public(
        key,
        public_key,
        ciphertext,
        &encrypt_context(label, context)?,
        &[],
    )?)
}

/// `RefHash(label, value) = Hash(RefHashInput)` with
/// `RefHashInput { opaque label<V>; opaque value<V>; }` (RFC 9420 §5.2).
/// The label is used verbatim (callers pass e.g. `"MLS 1.0 KeyPackage Reference"`).
pub fn ref_hash(cs: &dyn CipherSuiteProvider, label: &[u8], value: &[u8]) -> Result<Vec<u8>> {
    let mut input = Vec::with_capacity(label.len() + value.len() + 8);
    write_opaque(&mut input, label)?;
    write_opaque(&mut input, value)?;
    Ok(cs.hash(&input))
}
