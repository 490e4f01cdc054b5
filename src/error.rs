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

    // --- Ratchet tree: structure (RFC 9420 §4, §7.7, §12.4.3.3) ---
    /// A `ratchet_tree` has no nodes, or its last node is blank: "the receiver
    /// MUST check that the last node in ratchet_tree is non-blank" (RFC 9420 §12.4.3.3).
    #[error("ratchet tree is empty or ends with a blank node")]
    RatchetTreeTrailingBlank,
    /// A `ratchet_tree` holds more nodes than a tree of 2^31 leaves (RFC 9420 §4.1.1, §12.4.3.3).
    #[error("ratchet tree has too many nodes")]
    RatchetTreeTooLarge,
    /// A leaf node sits at a parent position or a parent node at a leaf position:
    /// leaves are at even array indices, parents at odd ones (RFC 9420 §12.4.3.3, Appendix C).
    #[error("node {0} has the wrong node type for its position")]
    NodeTypeMismatch(u32),
    /// A leaf that should hold a member is blank (RFC 9420 §12.1.2, §12.1.3).
    #[error("leaf {0} is blank")]
    BlankLeaf(u32),
    /// The tree cannot grow past 2^31 leaves (RFC 9420 §7.7).
    #[error("the ratchet tree is full")]
    TreeFull,

    // --- Leaf node validation (RFC 9420 §7.3) ---
    /// The leaf node's `leaf_node_source` is not the one its context requires:
    /// `key_package` in a KeyPackage/Add, `update` in an Update, `commit` in an
    /// UpdatePath (RFC 9420 §7.3).
    #[error("leaf node source {found} where {expected} is required")]
    LeafNodeSourceMismatch {
        /// The required `LeafNodeSource` code point.
        expected: u8,
        /// The code point found.
        found: u8,
    },
    /// The leaf node's signature does not verify with its signature key and
    /// the group binding of its source (RFC 9420 §7.2, §7.3).
    #[error("leaf node signature is invalid")]
    LeafNodeSignatureInvalid,
    /// The leaf's capabilities do not list the group's cipher suite (RFC 9420 §7.3, §10.1).
    #[error("leaf capabilities do not include cipher suite 0x{0:04x}")]
    LeafLacksCipherSuite(u16),
    /// The leaf's capabilities do not list the group's protocol version (RFC 9420 §7.3, §10.1).
    #[error("leaf capabilities do not include protocol version {0}")]
    LeafLacksProtocolVersion(u16),
    /// The leaf's capabilities miss an extension type the group's
    /// `required_capabilities` requires (RFC 9420 §7.3, §11.1).
    #[error("leaf does not support required extension type {0}")]
    LeafLacksRequiredExtension(u16),
    /// The leaf's capabilities miss a proposal type the group's
    /// `required_capabilities` requires (RFC 9420 §7.3, §11.1).
    #[error("leaf does not support required proposal type {0}")]
    LeafLacksRequiredProposal(u16),
    /// The leaf's capabilities miss a credential type the group's
    /// `required_capabilities` requires (RFC 9420 §7.3, §11.1).
    #[error("leaf does not support required credential type {0}")]
    LeafLacksRequiredCredential(u16),
    /// The leaf's capabilities do not list the type of its own credential (RFC 9420 §7.2).
    #[error("leaf capabilities do not include its own credential type {0}")]
    LeafLacksOwnCredentialType(u16),
    /// The leaf's credential type is not supported by every other member (RFC 9420 §7.3).
    #[error("credential type {0} is not supported by every member")]
    CredentialTypeNotSupportedByMembers(u16),
    /// The leaf does not support a credential type another member uses (RFC 9420 §7.3).
    #[error("leaf does not support credential type {0}, which a member uses")]
    LeafLacksCredentialTypeInUse(u16),
    /// A leaf extension's type is not listed in the leaf's own capabilities (RFC 9420 §7.2, §7.3).
    #[error("leaf extension type {0} is not in the leaf's capabilities")]
    LeafExtensionNotInCapabilities(u16),
    /// The current time is outside the leaf's lifetime (RFC 9420 §7.3).
    #[error("leaf lifetime {not_before}..={not_after} does not contain {now}")]
    LeafLifetimeInvalid {
        /// Start of the lifetime.
        not_before: u64,
        /// End of the lifetime.
        not_after: u64,
        /// The time checked.
        now: u64,
    },
    /// The leaf's signature key is already used by another member (RFC 9420 §7.3).
    #[error("signature key already used by leaf {0}")]
    DuplicateSignatureKey(u32),
    /// The encryption key already appears in another node of the tree
    /// (RFC 9420 §7.3 for leaves, §12.4.3.1 for parent nodes).
    #[error("encryption key already used by node {0}")]
    DuplicateEncryptionKey(u32),
    /// An Update's leaf node, or a commit's new leaf node, keeps the encryption
    /// key of the leaf it replaces (RFC 9420 §7.3, §7.5).
    #[error("new leaf node keeps the encryption key it replaces")]
    UpdateKeepsEncryptionKey,

    // --- Whole-tree validation (RFC 9420 §7.8, §7.9.2, §12.4.3.1) ---
    /// The tree hash of the ratchet tree differs from the one the group
    /// agreed on (RFC 9420 §12.4.3.1, §12.4.3.3).
    #[error("tree hash does not match the group's")]
    TreeHashMismatch,
    /// A non-blank parent node is not covered by exactly one parent-hash
    /// chain from below (RFC 9420 §7.9.2).
    #[error("parent node {0} is not parent-hash valid")]
    ParentHashInvalid(u32),
    /// A commit leaf's `parent_hash` differs from the parent hash of its
    /// filtered direct path (RFC 9420 §7.9.2).
    #[error("leaf {0} carries a parent hash that does not match its path")]
    LeafParentHashMismatch(u32),
    /// An `unmerged_leaves` entry names a leaf outside the parent's subtree, a blank
    /// leaf, or a leaf listed twice (RFC 9420 §12.4.3.1).
    #[error("parent node {node} lists invalid unmerged leaf {leaf}")]
    UnmergedLeafInvalid {
        /// The parent node.
        node: u32,
        /// The leaf index listed.
        leaf: u32,
    },
    // --- TreeKEM (RFC 9420 §7.4-§7.6) ---
    /// An UpdatePath does not have one node per node of the sender's filtered
    /// direct path (RFC 9420 §7.6).
    #[error("UpdatePath has {found} nodes for a filtered direct path of {expected}")]
    UpdatePathLengthMismatch {
        /// The length of the filtered direct path.
        expected: u32,
        /// The number of UpdatePath nodes.
        found: u32,
    },
    /// An UpdatePath node does not carry one encrypted path secret per node of
    /// its copath child's resolution, new members excluded (RFC 9420 §7.6).
    #[error(
        "UpdatePath node for node {node} has {found} ciphertexts for a resolution of {expected}"
    )]
    UpdatePathCiphertextCountMismatch {
        /// The direct-path node.
        node: u32,
        /// The size of the resolution.
        expected: u32,
        /// The number of ciphertexts.
        found: u32,
    },
    /// A public key derived from a decrypted path secret differs from the one
    /// in the UpdatePath (RFC 9420 §7.5, step 6 of decrypting).
    #[error("public key derived for node {0} differs from the UpdatePath's")]
    UpdatePathPublicKeyMismatch(u32),
    /// A non-blank node between an unmerged leaf and a parent listing it does not
    /// list the leaf too (RFC 9420 §12.4.3.1).
    #[error("node {node} does not list unmerged leaf {leaf} that an ancestor lists")]
    UnmergedLeafNotListedBelow {
        /// The intermediate node missing the entry.
        node: u32,
        /// The leaf index.
        leaf: u32,
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
