//! The one error type of Tessera.
//!
//! Every fallible operation returns [`Error`], whose variants are *categories*
//! that tell the caller what to do about it:
//!
//! | variant | meaning | what to do |
//! |---|---|---|
//! | [`Error::Decode`] | the bytes are not a well-formed encoding | drop the message |
//! | [`Error::Protocol`] | a peer broke a rule of RFC 9420 | drop it, maybe report the sender |
//! | [`Error::Api`] | the caller misused the library | fix the calling code |
//! | [`Error::Crypto`] | a primitive failed (bad key, failed decryption, bad signature) | drop the message |
//! | [`Error::Internal`] | a bug in Tessera | report it |

use thiserror::Error as ThisError;

/// Convenience alias for results whose error is [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Any error Tessera can return. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a well-formed encoding (RFC 9420 §2.1).
    #[error("decode error: {0}")]
    Decode(#[from] DecodeError),
    /// A peer broke a rule of RFC 9420.
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
    /// The caller used the library wrongly.
    #[error("API misuse: {0}")]
    Api(#[from] ApiError),
    /// A cryptographic primitive failed.
    #[error("crypto error: {0}")]
    Crypto(#[from] CryptoError),
    /// A bug in Tessera: an invariant did not hold.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// Malformed bytes (RFC 9420 §2.1). The message should be dropped.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value was complete.
    #[error("input ended early")]
    Truncated,
    /// A top-level value was followed by extra bytes.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// A variable-length header started with the reserved prefix `0b11` (RFC 9420 §2.1.2).
    #[error("variable-length header with reserved prefix 0b11")]
    InvalidVarintPrefix,
    /// A variable-length header did not use the minimal encoding (RFC 9420 §2.1.2).
    #[error("variable-length header is not minimally encoded")]
    NonMinimalVarint,
    /// A declared length is longer than the input that is left.
    #[error("declared length {declared} exceeds the {available} bytes left")]
    LengthExceedsInput {
        /// The length the header declared.
        declared: usize,
        /// The bytes actually left in the input.
        available: usize,
    },
    /// An `optional<T>` presence octet was neither 0 nor 1 (RFC 9420 §2.1.1).
    #[error("optional presence octet {0} is neither 0 nor 1")]
    InvalidOptional(u8),
    /// A field held a value the RFC does not allow there.
    #[error("invalid value for {0}")]
    InvalidValue(&'static str),
    /// The padding of a `PrivateMessageContent` held a non-zero byte (RFC 9420 §6.3.1).
    #[error("non-zero byte in PrivateMessageContent padding")]
    NonZeroPadding,
}

/// A peer broke a rule of RFC 9420. Each variant names the rule.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A leaf index is outside the tree (RFC 9420 §9).
    #[error("leaf index {0} is outside the tree")]
    LeafIndexOutOfRange(u32),
    /// A ratchet generation lies further ahead than the configured bound (RFC 9420 §9.2).
    #[error("generation {requested} is too far ahead of {current} (bound {bound})")]
    GenerationTooFarAhead {
        /// The generation the message asked for.
        requested: u32,
        /// The generation the ratchet is at.
        current: u32,
        /// The configured maximum forward distance.
        bound: u32,
    },
    /// The key for this generation was already used or deleted: a replay (RFC 9420 §9.2).
    #[error("key for generation {0} was already used or deleted")]
    KeyAlreadyUsed(u32),
    /// An extension list holds the same extension type twice (RFC 9420 §13.4).
    #[error("extension type {0} appears more than once")]
    DuplicateExtension(u16),
    /// A ratchet generation would pass 2^32 - 1 (RFC 9420 §9.1).
    #[error("ratchet generation exhausted")]
    GenerationExhausted,
    /// More PSKs than `PSKLabel.count` (a `uint16`) can count (RFC 9420 §8.4).
    #[error("{0} PSKs exceed the 65535 a PSKLabel can count")]
    TooManyPsks(usize),
    /// A PublicMessage from a member carries a membership tag that is not
    /// `MAC(membership_key, AuthenticatedContentTBM)` (RFC 9420 §6.2).
    #[error("invalid membership tag")]
    InvalidMembershipTag,
    /// Application data arrived in a PublicMessage: applications MUST use
    /// PrivateMessage for application messages (RFC 9420 §6).
    #[error("application message sent as PublicMessage")]
    ApplicationMessageNotPrivate,
    /// The content type is not one this kind of sender may send (RFC 9420 §6.1):
    /// external senders send proposals, `new_member_proposal` senders Add
    /// proposals and `new_member_commit` senders commits.
    #[error("content not allowed for this sender type")]
    InvalidContentForSender,
    /// The sender data of a PrivateMessage could not be decrypted with the
    /// sender data key and nonce, or is malformed (RFC 9420 §6.3.2).
    #[error("sender data could not be decrypted")]
    SenderDataInvalid,
    /// A message names a group other than the one it is processed in (RFC 9420 §6).
    #[error("message is for another group")]
    GroupIdMismatch,
    /// A message names an epoch other than the one whose keys are used (RFC 9420 §6).
    #[error("message epoch {got} differs from the expected epoch {expected}")]
    EpochMismatch {
        /// The epoch whose keys and context were supplied.
        expected: u64,
        /// The epoch the message names.
        got: u64,
    },
    /// A confirmation tag is not `MAC(confirmation_key, confirmed_transcript_hash)`
    /// (RFC 9420 §6.1, §8.2).
    #[error("confirmation tag does not match")]
    ConfirmationTagMismatch,
    /// A Welcome has no `EncryptedGroupSecrets` for our KeyPackage (RFC 9420 §12.4.3.1).
    #[error("Welcome has no secrets for this KeyPackage")]
    WelcomeNotForKeyPackage,
    /// A Welcome's cipher suite differs from the KeyPackage's (RFC 9420 §12.4.3.1).
    #[error(
        "Welcome cipher suite 0x{welcome:04x} differs from the KeyPackage's 0x{key_package:04x}"
    )]
    WelcomeCipherSuiteMismatch {
        /// The Welcome's cipher suite.
        welcome: u16,
        /// The KeyPackage's cipher suite.
        key_package: u16,
    },
}

/// The caller used the library wrongly.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum ApiError {
    /// A value is too large to be encoded (vectors are limited to 2^30 - 1 bytes, RFC 9420 §2.1.2).
    #[error("value too large to encode: {0} bytes")]
    ValueTooLarge(usize),
    /// An argument was out of its allowed range.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// Application data was to be sent as a PublicMessage; it MUST be sent as
    /// a PrivateMessage (RFC 9420 §6).
    #[error("application messages must be sent as PrivateMessage")]
    ApplicationMessageMustBePrivate,
}

/// A cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum CryptoError {
    /// The cipher suite is not supported by the provider.
    #[error("unsupported cipher suite 0x{0:04x}")]
    UnsupportedCipherSuite(u16),
    /// A public key is malformed or not on the curve.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A private key is malformed.
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// A signature did not verify.
    #[error("signature verification failed")]
    InvalidSignature,
    /// AEAD decryption failed (wrong key, nonce, AAD, or tampered ciphertext).
    #[error("AEAD decryption failed")]
    AeadOpenFailed,
    /// HPKE decryption failed.
    #[error("HPKE decryption failed")]
    HpkeOpenFailed,
    /// A KDF was asked for more output than it can give.
    #[error("KDF output length {0} too large")]
    KdfOutputTooLong(usize),
    /// A key or nonce had the wrong length.
    #[error("wrong length for {0}")]
    InvalidLength(&'static str),
    /// The random number generator failed.
    #[error("randomness unavailable")]
    Rng,
    /// Any other failure inside a primitive.
    #[error("crypto failure: {0}")]
    Other(&'static str),
}
