//! Secret and tag types: zeroized on drop, redacted in `Debug`, compared in
//! constant time.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret key material of any kind (epoch secrets, path secrets, AEAD keys, ...).
///
/// The bytes are wiped when the value is dropped and never shown by `Debug`.
/// Comparison runs in constant time. Reading the bytes is the explicit call
/// [`Secret::as_bytes`].
///
/// ```
/// use tessera::crypto::Secret;
/// let s = Secret::from(vec![1, 2, 3]);
/// assert_eq!(format!("{s:?}"), "Secret(3 bytes, redacted)");
/// ```
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret of `len` zero bytes (RFC 9420 uses all-zero secrets as defaults, e.g. §8).
    pub fn zero(len: usize) -> Self {
        Self(vec![0; len])
    }

    /// Copies `bytes` into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The secret bytes. Use sparingly: everything read here leaves the protection of this type.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret bytes, writable (to fill a fresh secret in place).
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret has no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret({} bytes, redacted)", self.0.len())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret {}

// A secret on the wire is an `opaque<V>` (e.g. `GroupSecrets.joiner_secret`,
// RFC 9420 §12.4.3.1). Decoding moves the received bytes straight in.
crate::impl_codec_newtype!(Secret(Vec<u8>));

/// A MAC or authentication tag (membership tag, confirmation tag, ...).
///
/// Tags are public, but comparing them must not leak how many bytes matched,
/// so equality runs in constant time.
#[derive(Clone, Default)]
pub struct Tag(Vec<u8>);

impl Tag {
    /// The tag's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison against raw bytes.
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        self.0.ct_eq(other).into()
    }
}

impl From<Vec<u8>> for Tag {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl core::fmt::Debug for Tag {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Tag(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl PartialEq for Tag {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Tag {}

crate::impl_codec_newtype!(Tag(Vec<u8>));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::from(vec![0xde, 0xad]);
        let shown = format!("{s:?}");
        assert!(!shown.contains("de") && !shown.contains("222"));
    }

    #[test]
    fn equality() {
        assert_eq!(Secret::from(vec![1, 2]), Secret::from(vec![1, 2]));
        assert_ne!(Secret::from(vec![1, 2]), Secret::from(vec![1, 3]));
        assert_ne!(Secret::from(vec![1, 2]), Secret::from(vec![1]));
        assert_eq!(Tag::from(vec![9]), Tag::from(vec![9]));
        assert!(!Tag::from(vec![9]).ct_eq_bytes(&[8]));
    }
}
