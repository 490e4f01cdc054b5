//! The TLS presentation language as RFC 9420 uses it (§2.1).
//!
//! This is where attacker-controlled bytes enter the library, so it is small,
//! has no MLS meaning, and never trusts a length before checking it against
//! the input that is actually there:
//!
//! * integers are big-endian (`uint8` .. `uint64`);
//! * vectors (`opaque<V>`, `T<V>`) carry a variable-length header
//!   (RFC 9420 §2.1.2): two prefix bits select a 1-, 2- or 4-byte length, the
//!   prefix `0b11` is rejected, and a length that could have been written in
//!   fewer bytes is rejected as malformed;
//! * `optional<T>` is a presence octet, 0 or 1, then the value (§2.1.1).
//!
//! Byte vectors are `Vec<u8>` (encoded as `opaque<V>`); vectors of structures
//! are `Vec<T>`. A vector's elements are decoded from a sub-slice of exactly
//! the declared length, so nothing is allocated from a declared length before
//! the bytes are known to be present.
//!
//! ```
//! use tessera::codec::{Decode, Encode};
//! let v: Vec<Vec<u8>> = vec![b"ab".to_vec(), vec![]];
//! let bytes = v.to_bytes().unwrap();
//! assert_eq!(bytes, [4, 2, b'a', b'b', 0]);
//! assert_eq!(Vec::<Vec<u8>>::decode_exact(&bytes).unwrap(), v);
//! ```

use crate::error::{ApiError, DecodeError};

/// The largest length a variable-length header can carry: 2^30 - 1 (RFC 9420 §2.1.2).
pub const MAX_VEC_LEN: usize = (1 << 30) - 1;

/// A value that can be written in the TLS presentation language.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    ///
    /// Fails only if a vector inside is longer than [`MAX_VEC_LEN`].
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError>;

    /// The encoding of `self` as a new byte vector.
    fn to_bytes(&self) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// A value that can be read from the TLS presentation language.
pub trait Decode: Sized {
    /// Reads one value from the front of `r`.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Reads one value that must span exactly `bytes`; trailing bytes are an error.
    fn decode_exact(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

/// A cursor over input bytes. Every read checks the bytes are there first.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The number of bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not yet read, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    /// Takes the next `n` bytes.
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes the next `N` bytes as an array.
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.read_bytes(N)?);
        Ok(a)
    }

    /// Reads a `uint8`.
    pub fn read_u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.read_array::<1>()?[0])
    }

    /// Reads a big-endian `uint16`.
    pub fn read_u16(&mut self) -> Result<u16, DecodeError> {
        self.read_array().map(u16::from_be_bytes)
    }

    /// Reads a big-endian `uint32`.
    pub fn read_u32(&mut self) -> Result<u32, DecodeError> {
        self.read_array().map(u32::from_be_bytes)
    }

    /// Reads a big-endian `uint64`.
    pub fn read_u64(&mut self) -> Result<u64, DecodeError> {
        self.read_array().map(u64::from_be_bytes)
    }

    /// Reads a variable-length vector header (RFC 9420 §2.1.2) and checks the
    /// declared length against the input left.
    pub fn read_vec_len(&mut self) -> Result<usize, DecodeError> {
        let first = self.read_u8()?;
        let len = match first >> 6 {
            0 => usize::from(first & 0x3f),
            1 => {
                let v = (usize::from(first & 0x3f) << 8) | usize::from(self.read_u8()?);
                if v < 1 << 6 {
                    return Err(DecodeError::NonMinimalVarint);
                }
                v
            }
            2 => {
                let rest = self.read_array::<3>()?;
                let v = (usize::from(first & 0x3f) << 24)
                    | (usize::from(rest[0]) << 16)
                    | (usize::from(rest[1]) << 8)
                    | usize::from(rest[2]);
                if v < 1 << 14 {
                    return Err(DecodeError::NonMinimalVarint);
                }
                v
            }
            _ => return Err(DecodeError::InvalidVarintPrefix),
        };
        if len > self.buf.len() {
            return Err(DecodeError::LengthExceedsInput {
                declared: len,
                available: self.buf.len(),
            });
        }
        Ok(len)
    }

    /// Reads an `opaque<V>`: a header, then that many bytes, borrowed.
    pub fn read_opaque(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.read_vec_len()?;
        self.read_bytes(n)
    }

    /// Reads a vector header and returns a reader over exactly its body.
    pub fn read_vec_body(&mut self) -> Result<Reader<'a>, DecodeError> {
        self.read_opaque().map(Reader::new)
    }
}

/// Appends a variable-length header for `len` (RFC 9420 §2.1.2), in its minimal form.
pub fn write_vec_len(out: &mut Vec<u8>, len: usize) -> Result<(), ApiError> {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&((len as u16) | 0x4000).to_be_bytes());
    } else if len <= MAX_VEC_LEN {
        out.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes());
    } else {
        return Err(ApiError::ValueTooLarge(len));
    }
    Ok(())
}

/// Appends `bytes` as an `opaque<V>`.
pub fn write_opaque(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), ApiError> {
    write_vec_len(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// Appends a vector whose body is written by `body`, with its header in front.
///
/// The body is written in place and the header inserted afterwards, so the
/// length never has to be computed twice.
pub fn write_vec_with(
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let start = out.len();
    body(out)?;
    let len = out.len() - start;
    let mut header = Vec::with_capacity(4);
    write_vec_len(&mut header, len)?;
    out.splice(start..start, header);
    Ok(())
}

macro_rules! impl_uint {
    ($($t:ty => $read:ident),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
                out.extend_from_slice(&self.to_be_bytes());
                Ok(())
            }
        }
        impl Decode for $t {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.$read()
            }
        }
    )*};
}
// `u8` deliberately has no impl: `Vec<u8>` is `opaque<V>`, and a single
// `uint8` field is always a typed enum in RFC 9420.
impl_uint!(u16 => read_u16, u32 => read_u32, u64 => read_u64);

impl Encode for [u8] {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        write_opaque(out, self)
    }
}

impl Encode for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        write_opaque(out, self)
    }
}

impl Decode for Vec<u8> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_opaque().map(<[u8]>::to_vec)
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        write_vec_with(out, |out| self.iter().try_for_each(|x| x.encode(out)))
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.as_slice().encode(out)
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut body = r.read_vec_body()?;
        let mut v = Vec::new();
        while !body.is_empty() {
            v.push(T::decode(&mut body)?);
        }
        Ok(v)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        match self {
            None => {
                out.push(0);
                Ok(())
            }
            Some(v) => {
                out.push(1);
                v.encode(out)
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.read_u8()? {
            0 => Ok(None),
            1 => T::decode(r).map(Some),
            b => Err(DecodeError::InvalidOptional(b)),
        }
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        (**self).encode(out)
    }
}

impl<T: Encode + ?Sized> Encode for Box<T> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        (**self).encode(out)
    }
}

impl<T: Decode> Decode for Box<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        T::decode(r).map(Box::new)
    }
}

impl<T: Encode + ?Sized> Encode for std::sync::Arc<T> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        (**self).encode(out)
    }
}

impl<T: Decode> Decode for std::sync::Arc<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        T::decode(r).map(std::sync::Arc::new)
    }
}

/// An encoding held in pieces: bytes written here, and byte strings
/// borrowed from the value encoded, in order. A large field (an UpdatePath's
/// ciphertexts) is borrowed rather than copied, and the pieces are hashed
/// one after the other ([`crate::crypto::CipherSuiteProvider::hash_parts`]).
#[derive(Debug, Default)]
pub(crate) struct Parts<'a> {
    written: Vec<u8>,
    pieces: Vec<Piece<'a>>,
    /// Where the written bytes not yet in `pieces` start.
    run: usize,
}

#[derive(Debug)]
enum Piece<'a> {
    Written(core::ops::Range<usize>),
    Borrowed(&'a [u8]),
}

impl<'a> Parts<'a> {
    /// The buffer the next written bytes go to.
    pub(crate) fn out(&mut self) -> &mut Vec<u8> {
        &mut self.written
    }

    /// Appends `bytes`, borrowed.
    pub(crate) fn borrow(&mut self, bytes: &'a [u8]) {
        self.close_run();
        self.pieces.push(Piece::Borrowed(bytes));
    }

    fn close_run(&mut self) {
        if self.written.len() > self.run {
            self.pieces
                .push(Piece::Written(self.run..self.written.len()));
            self.run = self.written.len();
        }
    }

    /// The pieces in order; their concatenation is the encoding.
    pub(crate) fn slices(&mut self) -> Vec<&[u8]> {
        self.close_run();
        let written = &self.written;
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Written(r) => written.get(r.clone()).unwrap_or_default(),
                Piece::Borrowed(b) => *b,
            })
            .collect()
    }
}

/// Implements [`Encode`] and [`Decode`] for a struct whose fields are
/// encoded one after another, in the order given (the usual TLS `struct`).
///
/// ```
/// use tessera::codec::{Decode, Encode};
/// #[derive(Debug, PartialEq)]
/// struct Pair { a: u16, b: Vec<u8> }
/// tessera::impl_codec_struct!(Pair { a, b });
/// let p = Pair { a: 7, b: vec![1, 2] };
/// assert_eq!(Pair::decode_exact(&p.to_bytes().unwrap()).unwrap(), p);
/// ```
#[macro_export]
macro_rules! impl_codec_struct {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl $crate::codec::Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), $crate::error::ApiError> {
                $( $crate::codec::Encode::encode(&self.$field, out)?; )*
                Ok(())
            }
        }
        impl $crate::codec::Decode for $name {
            fn decode(r: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::error::DecodeError> {
                Ok(Self { $( $field: $crate::codec::Decode::decode(r)?, )* })
            }
        }
    };
}

/// Implements [`Encode`] and [`Decode`] for a one-field tuple struct by
/// delegating to its field (for example `struct CipherSuite(u16)`).
#[macro_export]
macro_rules! impl_codec_newtype {
    ($name:ident($inner:ty)) => {
        impl $crate::codec::Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), $crate::error::ApiError> {
                $crate::codec::Encode::encode(&self.0, out)
            }
        }
        impl $crate::codec::Decode for $name {
            fn decode(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::error::DecodeError> {
                <$inner as $crate::codec::Decode>::decode(r).map(Self)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        write_vec_len(&mut v, len).unwrap();
        v
    }

    #[test]
    fn header_forms_match_rfc_table() {
        // RFC 9420 §2.1.2: 1 byte up to 63, 2 up to 16383, 4 up to 2^30 - 1.
        assert_eq!(header(0), [0x00]);
        assert_eq!(header(63), [0x3f]);
        assert_eq!(header(64), [0x40, 0x40]);
        assert_eq!(header(16383), [0x7f, 0xff]);
        assert_eq!(header(16384), [0x80, 0x00, 0x40, 0x00]);
        assert_eq!(header(MAX_VEC_LEN), [0xbf, 0xff, 0xff, 0xff]);
        assert_eq!(
            write_vec_len(&mut Vec::new(), MAX_VEC_LEN + 1),
            Err(ApiError::ValueTooLarge(MAX_VEC_LEN + 1))
        );
    }

    #[test]
    fn rejects_reserved_prefix() {
        let input = [0xc0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(
            Vec::<u8>::decode_exact(&input),
            Err(DecodeError::InvalidVarintPrefix)
        );
    }

    #[test]
    fn rejects_non_minimal_headers() {
        // 5 in two bytes, and 63 and 16383 in four bytes.
        assert_eq!(
            Vec::<u8>::decode_exact(&[0x40, 0x05, 1, 2, 3, 4, 5]),
            Err(DecodeError::NonMinimalVarint)
        );
        let mut four = vec![0x80, 0x00, 0x00, 0x3f];
        four.extend([0u8; 63]);
        assert_eq!(
            Vec::<u8>::decode_exact(&four),
            Err(DecodeError::NonMinimalVarint)
        );
        let mut four = vec![0x80, 0x00, 0x3f, 0xff];
        four.extend(vec![0u8; 16383]);
        assert_eq!(
            Vec::<u8>::decode_exact(&four),
            Err(DecodeError::NonMinimalVarint)
        );
    }

    #[test]
    fn rejects_lengths_beyond_input_without_allocating() {
        // Declares 2^30 - 1 bytes with only 3 present: refused before any allocation.
        assert_eq!(
            Vec::<u8>::decode_exact(&[0xbf, 0xff, 0xff, 0xff, 1, 2, 3]),
            Err(DecodeError::LengthExceedsInput {
                declared: MAX_VEC_LEN,
                available: 3
            })
        );
        assert_eq!(
            Vec::<Vec<u8>>::decode_exact(&[0xbf, 0xff, 0xff, 0xff]),
            Err(DecodeError::LengthExceedsInput {
                declared: MAX_VEC_LEN,
                available: 0
            })
        );
    }

    #[test]
    fn rejects_truncation_and_trailing_bytes() {
        assert_eq!(Vec::<u8>::decode_exact(&[]), Err(DecodeError::Truncated));
        assert_eq!(
            Vec::<u8>::decode_exact(&[0x40]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(u32::decode_exact(&[1, 2, 3]), Err(DecodeError::Truncated));
        assert_eq!(
            Vec::<u8>::decode_exact(&[1, 9, 9]),
            Err(DecodeError::TrailingBytes(1))
        );
        // An element that runs past the end of its vector is truncation, not overflow.
        assert_eq!(
            Vec::<u32>::decode_exact(&[3, 0, 0, 1]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn optional_presence_octet() {
        assert_eq!(Option::<u16>::decode_exact(&[0]), Ok(None));
        assert_eq!(Option::<u16>::decode_exact(&[1, 0, 7]), Ok(Some(7)));
        assert_eq!(
            Option::<u16>::decode_exact(&[2, 0, 7]),
            Err(DecodeError::InvalidOptional(2))
        );
    }

    fn len_strategy() -> impl Strategy<Value = usize> {
        prop_oneof![0usize..64, 64usize..16384, 16384usize..70000]
    }

    proptest! {
        #[test]
        fn header_round_trip_every_class(len in prop_oneof![0usize..64, 64usize..16384, 16384usize..=MAX_VEC_LEN]) {
            let h = header(len);
            let expected_size = if len < 64 { 1 } else if len < 16384 { 2 } else { 4 };
            prop_assert_eq!(h.len(), expected_size);
            let mut input = h.clone();
            // Only headers whose body fits are decodable; pad the short ones.
            if len <= 70000 {
                input.resize(h.len() + len, 0xaa);
                let mut r = Reader::new(&input);
                prop_assert_eq!(r.read_vec_len().unwrap(), len);
            } else {
                let mut r = Reader::new(&input);
                let err = r.read_vec_len().unwrap_err();
                prop_assert_eq!(err, DecodeError::LengthExceedsInput { declared: len, available: 0 });
            }
        }

        #[test]
        fn opaque_round_trip(len in len_strategy(), byte in any::<u8>()) {
            let v = vec![byte; len];
            let bytes = v.to_bytes().unwrap();
            prop_assert_eq!(Vec::<u8>::decode_exact(&bytes).unwrap(), v);
        }

        #[test]
        fn nested_round_trip(v in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..50),
                             o in proptest::option::of(any::<u64>())) {
            let bytes = v.to_bytes().unwrap();
            prop_assert_eq!(Vec::<Vec<u8>>::decode_exact(&bytes).unwrap(), v);
            let bytes = o.to_bytes().unwrap();
            prop_assert_eq!(Option::<u64>::decode_exact(&bytes).unwrap(), o);
        }

        #[test]
        fn non_minimal_headers_rejected(len in 0usize..16384, four in any::<bool>()) {
            // Re-encode `len` in a longer form than needed.
            let mut input = if four || len >= 64 {
                if !four && len >= 64 { return Ok(()); }
                ((len as u32) | 0x8000_0000).to_be_bytes().to_vec()
            } else {
                ((len as u16) | 0x4000).to_be_bytes().to_vec()
            };
            input.resize(input.len() + len, 0);
            prop_assert_eq!(Vec::<u8>::decode_exact(&input), Err(DecodeError::NonMinimalVarint));
        }

        #[test]
        fn truncated_input_is_an_error(v in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..20), cut in any::<proptest::sample::Index>()) {
            let bytes = v.to_bytes().unwrap();
            let cut = cut.index(bytes.len());
            prop_assert!(Vec::<Vec<u8>>::decode_exact(&bytes[..cut]).is_err());
        }

        #[test]
        fn trailing_bytes_are_an_error(v in proptest::collection::vec(any::<u8>(), 0..300), extra in proptest::collection::vec(any::<u8>(), 1..10)) {
            let mut bytes = v.to_bytes().unwrap();
            bytes.extend_from_slice(&extra);
            prop_assert_eq!(Vec::<u8>::decode_exact(&bytes), Err(DecodeError::TrailingBytes(extra.len())));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Vec::<Vec<u8>>::decode_exact(&bytes);
            let _ = Vec::<Option<Vec<u32>>>::decode_exact(&bytes);
        }

        #[test]
        fn huge_declared_lengths_rejected(len in 1usize..=MAX_VEC_LEN, have in 0usize..64) {
            prop_assume!(have < len);
            let mut input = header(len);
            input.resize(input.len() + have, 0);
            prop_assert_eq!(
                Vec::<Vec<u8>>::decode_exact(&input),
                Err(DecodeError::LengthExceedsInput { declared: len, available: have })
            );
        }
    }
}
