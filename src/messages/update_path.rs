//! UpdatePath (RFC 9420 §7.6).

use super::LeafNode;
use crate::codec::{Decode, Encode, Reader, write_opaque, write_vec_len};
use crate::crypto::{HpkeCiphertext, HpkePublicKey};
use crate::error::{ApiError, DecodeError};

/// One node of an UpdatePath: a new public key and the path secret encrypted
/// to each node of the copath child's resolution (RFC 9420 §7.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdatePathNode {
    /// The new public key of this direct-path node.
    pub encryption_key: HpkePublicKey,
    /// The path secret, encrypted to each node in the resolution, in order.
    pub encrypted_path_secret: EncryptedPathSecrets,
}
crate::impl_codec_struct!(UpdatePathNode {
    encryption_key,
    encrypted_path_secret
});

/// The new keys a committer sends for its filtered direct path (RFC 9420 §7.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdatePath {
    /// The committer's new leaf node (source `commit`).
    pub leaf_node: LeafNode,
    /// One entry per node of the filtered direct path, leaf to root.
    pub nodes: Vec<UpdatePathNode>,
}

impl UpdatePath {
    /// The length of the body of `nodes<V>` encoded. Summed first, so that
    /// the header goes in front of the body without moving it: the body is
    /// nearly all of a large commit (RFC 9420 §2.1.2).
    fn nodes_len(&self) -> Result<usize, ApiError> {
        self.nodes.iter().try_fold(0usize, |len, n| {
            let key = opaque_len(n.encryption_key.as_bytes().len())?;
            let secrets = opaque_len(n.encrypted_path_secret.bytes.len())?;
            Ok(len + key + secrets)
        })
    }

    /// [`Encode::encode`] into `parts`, the ciphertexts borrowed.
    pub(crate) fn encode_parts<'a>(
        &'a self,
        parts: &mut crate::codec::Parts<'a>,
    ) -> Result<(), ApiError> {
        self.leaf_node.encode(parts.out())?;
        write_vec_len(parts.out(), self.nodes_len()?)?;
        for n in &self.nodes {
            n.encryption_key.encode(parts.out())?;
            write_vec_len(parts.out(), n.encrypted_path_secret.bytes.len())?;
            parts.borrow(&n.encrypted_path_secret.bytes);
        }
        Ok(())
    }
}

impl Encode for UpdatePath {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.leaf_node.encode(out)?;
        let len = self.nodes_len()?;
        write_vec_len(out, len)?;
        out.reserve(len);
        self.nodes.iter().try_for_each(|n| n.encode(out))
    }
}

impl Decode for UpdatePath {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            leaf_node: LeafNode::decode(r)?,
            nodes: Vec::decode(r)?,
        })
    }
}

/// The encoded length of an `opaque<V>` of `len` bytes.
fn opaque_len(len: usize) -> Result<usize, ApiError> {
    let header = match len {
        0..0x40 => 1,
        0x40..0x4000 => 2,
        _ if len <= crate::codec::MAX_VEC_LEN => 4,
        _ => return Err(ApiError::ValueTooLarge(len)),
    };
    Ok(header + len)
}

/// `HPKECiphertext encrypted_path_secret<V>` of an UpdatePath node
/// (RFC 9420 §7.6): the path secret encrypted to each node of a resolution.
///
/// Held as its encoding. In a large group this vector has one entry per
/// member and a receiver decrypts one of them (§7.6), so a received commit
/// is not cut into thousands of small allocations: decoding checks every
/// entry's framing and keeps the bytes, and [`EncryptedPathSecrets::get`]
/// reads the one entry needed.
///
/// ```
/// use tessera::crypto::HpkeCiphertext;
/// use tessera::messages::EncryptedPathSecrets;
///
/// let ct = HpkeCiphertext { kem_output: vec![1; 32], ciphertext: vec![2; 48] };
/// let secrets = EncryptedPathSecrets::try_from_iter([ct.clone(), ct.clone()]).unwrap();
/// assert_eq!(secrets.len(), 2);
/// assert_eq!(secrets.get(1), Some(ct));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptedPathSecrets {
    /// The concatenated encodings of the entries (the vector's body).
    bytes: Vec<u8>,
    /// The number of entries.
    len: usize,
}

impl core::fmt::Debug for EncryptedPathSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl EncryptedPathSecrets {
    /// The vector of `ciphertexts`, in order. Fails if one has a field
    /// longer than a vector can be (2^30 - 1 bytes).
    pub fn try_from_iter(
        ciphertexts: impl IntoIterator<Item = HpkeCiphertext>,
    ) -> Result<Self, ApiError> {
        let mut v = Self::default();
        for ct in ciphertexts {
            v.push(&ct)?;
        }
        Ok(v)
    }

    /// Appends `ciphertext`. Fails, leaving the vector as it was, if one of
    /// its fields is longer than a vector can be.
    pub fn push(&mut self, ciphertext: &HpkeCiphertext) -> Result<(), ApiError> {
        let start = self.bytes.len();
        let r = write_opaque(&mut self.bytes, &ciphertext.kem_output)
            .and_then(|()| write_opaque(&mut self.bytes, &ciphertext.ciphertext));
        match r {
            Ok(()) => {
                self.len += 1;
                Ok(())
            }
            Err(e) => {
                self.bytes.truncate(start);
                Err(e)
            }
        }
    }

    /// The number of ciphertexts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no ciphertexts.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every ciphertext.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.len = 0;
    }

    /// The ciphertext at position `i`, if there is one. The entries before
    /// it are skipped over, not copied.
    pub fn get(&self, i: usize) -> Option<HpkeCiphertext> {
        self.entries().nth(i).map(owned)
    }

    /// The ciphertexts in order.
    pub fn iter(&self) -> impl Iterator<Item = HpkeCiphertext> + '_ {
        self.entries().map(owned)
    }

    /// The entries in order, as `(kem_output, ciphertext)` borrowed.
    fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut r = Reader::new(&self.bytes);
        // The bytes were written by `push` or checked by `decode`, so every
        // entry reads; a failure would only end the iteration early.
        core::iter::from_fn(move || {
            if r.is_empty() {
                return None;
            }
            read_entry(&mut r).ok()
        })
    }

    /// The size of the encoded entries (the vector's body), in bytes.
    pub fn encoded_body_len(&self) -> usize {
        self.bytes.len()
    }
}

/// An entry as an `HpkeCiphertext` of its own.
fn owned((kem_output, ciphertext): (&[u8], &[u8])) -> HpkeCiphertext {
    HpkeCiphertext {
        kem_output: kem_output.to_vec(),
        ciphertext: ciphertext.to_vec(),
    }
}

/// Reads one `HPKECiphertext` (RFC 9420 §7.6): `kem_output` and `ciphertext`.
#[inline(always)]
fn read_entry<'a>(r: &mut Reader<'a>) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
    Ok((read_opaque_short(r)?, read_opaque_short(r)?))
}

/// [`Reader::read_opaque`], with the one-byte header of a field shorter
/// than 64 bytes (an X25519 or X448 `kem_output`, most path-secret
/// ciphertexts) read in line: a large commit has two per member. Any
/// other header, and any error, takes the general path.
#[inline(always)]
fn read_opaque_short<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], DecodeError> {
    let rest = r.peek_rest();
    if let Some(&first) = rest.first() {
        let n = usize::from(first);
        if n < 0x40
            && let Some(body) = rest.get(1..1 + n)
        {
            r.read_bytes(1 + n)?;
            return Ok(body);
        }
    }
    r.read_opaque()
}

impl Encode for EncryptedPathSecrets {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        write_opaque(out, &self.bytes)
    }
}

impl Decode for EncryptedPathSecrets {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let body = r.read_opaque()?;
        let mut entries = Reader::new(body);
        let mut len = 0;
        while !entries.is_empty() {
            read_entry(&mut entries)?;
            len += 1;
        }
        Ok(Self {
            bytes: body.to_vec(),
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(k: u8, n: usize) -> HpkeCiphertext {
        HpkeCiphertext {
            kem_output: vec![k; n],
            ciphertext: vec![k ^ 0xff; n + 16],
        }
    }

    /// The encoding is that of `Vec<HpkeCiphertext>`, both ways, and every
    /// entry reads back.
    #[test]
    fn same_encoding_as_a_vector_of_ciphertexts() {
        for n in [0usize, 1, 3, 70] {
            let cts: Vec<_> = (0..n).map(|i| ct(i as u8, 20 + i)).collect();
            let v = EncryptedPathSecrets::try_from_iter(cts.clone()).unwrap();
            assert_eq!(v.len(), n);
            assert_eq!(v.to_bytes().unwrap(), cts.to_bytes().unwrap());
            let back = EncryptedPathSecrets::decode_exact(&cts.to_bytes().unwrap()).unwrap();
            assert_eq!(back, v);
            assert_eq!(back.iter().collect::<Vec<_>>(), cts);
            assert_eq!(back.get(n), None);
        }
    }

    /// A malformed entry fails decoding as the vector of ciphertexts does.
    #[test]
    fn malformed_entries_fail_to_decode() {
        let good = vec![ct(1, 32), ct(2, 32)].to_bytes().unwrap();
        // Body cut short inside the second entry, with the header fixed up.
        let mut cut = good[..good.len() - 5].to_vec();
        let body_len = ((cut.len() - 2) as u16) | 0x4000;
        cut[0..2].copy_from_slice(&body_len.to_be_bytes());
        assert!(Vec::<HpkeCiphertext>::decode_exact(&cut).is_err());
        assert!(EncryptedPathSecrets::decode_exact(&cut).is_err());
        // A non-minimal length inside an entry.
        let bad = [4u8, 0x40, 0x01, 0xaa, 0x00];
        assert_eq!(
            EncryptedPathSecrets::decode_exact(&bad).unwrap_err(),
            Vec::<HpkeCiphertext>::decode_exact(&bad).unwrap_err()
        );
    }

    /// Every content's encoding in pieces is its encoding.
    #[test]
    fn content_parts_are_the_encoding() {
        use crate::messages::test_support::contents;
        use crate::messages::{FramedContentBody, Sender};
        let mut all = contents(Sender::Member(3));
        all.extend(contents(Sender::NewMemberCommit));
        let mut with_paths = 0;
        for (content, _) in &all {
            let mut parts = crate::codec::Parts::default();
            content.encode_parts(&mut parts).unwrap();
            assert_eq!(parts.slices().concat(), content.to_bytes().unwrap());
            if let FramedContentBody::Commit(c) = &content.content {
                with_paths += usize::from(c.path.is_some());
            }
        }
        assert!(with_paths > 0, "a commit with a path is among the samples");
    }

    /// An UpdatePath encodes as its two fields in order.
    #[test]
    fn update_path_encoding_is_field_by_field() {
        let path = crate::messages::test_support::commit().path.unwrap();
        let mut expected = path.leaf_node.to_bytes().unwrap();
        path.nodes.encode(&mut expected).unwrap();
        let bytes = path.to_bytes().unwrap();
        assert_eq!(bytes, expected);
        assert_eq!(UpdatePath::decode_exact(&bytes).unwrap(), path);
    }
}
