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
//! | [`Error::Storage`] | the store of a [`Client`](crate::client::Client) failed; the operation changed nothing | retry, or fix the store |
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
    /// The store of a [`Client`](crate::client::Client) failed to read or
    /// write; the operation that needed it changed nothing.
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
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
    /// Stored state did not start with the magic bytes of its kind (for
    /// example [`crate::group::Group::from_bytes`] given something else).
    #[error("not a stored {0}: wrong magic bytes")]
    WrongMagic(&'static str),
    /// Stored state in a format version this build cannot read.
    #[error("unsupported stored-state format version {0}")]
    UnsupportedFormatVersion(u16),
}

/// A peer broke a rule of RFC 9420. Each variant names the rule.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum ProtocolError {
    // --- Group: proposal lists (RFC 9420 §12.1, §12.2) ---
    /// A commit covers an Update proposal sent by the committer itself (RFC 9420 §12.2).
    #[error("commit covers an Update from the committer")]
    CommitterUpdate,
    /// A commit covers a Remove of the committer (RFC 9420 §12.2).
    #[error("commit removes the committer")]
    CommitterRemoved,
    /// Two Update/Remove proposals apply to the same leaf (RFC 9420 §12.2).
    #[error("several Update/Remove proposals for leaf {0}")]
    ConflictingLeafProposals(u32),
    /// Two PreSharedKey proposals name the same PSK (RFC 9420 §12.2).
    #[error("duplicate PreSharedKey proposal")]
    DuplicatePsk,
    /// More than one GroupContextExtensions proposal (RFC 9420 §12.2).
    #[error("more than one GroupContextExtensions proposal")]
    MultipleGroupContextExtensions,
    /// A received commit covers a ReInit proposal together with other
    /// proposals (RFC 9420 §12.2). (A commit this member tries to make so
    /// fails with [`ApiError::ReInitNotAlone`] instead.)
    #[error("ReInit proposal combined with other proposals")]
    ReInitNotAlone,
    /// An ExternalInit proposal in a regular commit (RFC 9420 §12.2).
    #[error("ExternalInit proposal in a regular commit")]
    ExternalInitInRegularCommit,
    /// An external commit's proposals break the rules of RFC 9420 §12.2
    /// (exactly one ExternalInit, at most one Remove, PreSharedKeys, nothing else).
    #[error("invalid proposal list for an external commit: {0}")]
    InvalidExternalCommitProposals(&'static str),
    /// A Remove names a blank or absent leaf (RFC 9420 §12.1.3).
    #[error("Remove of blank or absent leaf {0}")]
    RemoveOfBlankLeaf(u32),
    /// A KeyPackage's version or cipher suite differs from the group's (RFC 9420 §10.1).
    #[error("KeyPackage version or cipher suite differs from the group's")]
    KeyPackageMismatch,
    /// A KeyPackage's signature does not verify with its leaf's signature key (RFC 9420 §10.1).
    #[error("KeyPackage signature is invalid")]
    KeyPackageSignatureInvalid,
    /// A KeyPackage's init key equals its leaf's encryption key (RFC 9420 §10.1).
    #[error("KeyPackage init_key equals its encryption_key")]
    KeyPackageInitKeyReused,
    /// A PreSharedKey proposal's nonce is not `KDF.Nh` bytes (RFC 9420 §12.1.4).
    #[error("PSK nonce has the wrong length")]
    PskNonceLength,
    /// A resumption PSK with usage reinit or branch outside those operations (RFC 9420 §12.1.4).
    #[error("resumption PSK usage not allowed here")]
    PskUsageNotAllowed,
    /// A ReInit proposal lowers the protocol version (RFC 9420 §12.1.5).
    #[error("ReInit lowers the protocol version")]
    ReInitVersionDowngrade,
    /// A member does not support an extension or capability the group context
    /// requires (RFC 9420 §11.1, §12.1.7).
    #[error("leaf {0} does not support the group context extensions")]
    UnsupportedGroupContextExtensions(u32),
    /// A proposal type this sender type may not send (RFC 9420 §12.1.8, §12.1.2).
    #[error("proposal type {proposal_type} may not be sent by sender type {sender_type}")]
    ProposalSenderNotAllowed {
        /// The proposal type.
        proposal_type: u16,
        /// The sender type code.
        sender_type: u8,
    },
    /// A commit references a proposal this member has not received in this epoch (RFC 9420 §12.4.2).
    #[error("commit references an unknown proposal")]
    UnknownProposalReference,
    /// The commit has no path although its proposals require one (RFC 9420 §12.4).
    #[error("commit requires a path but has none")]
    PathRequired,
    /// The Welcome has no GroupSecrets for our KeyPackage (RFC 9420 §12.4.3.1).
    #[error("Welcome is not addressed to this KeyPackage")]
    WelcomeNotForUs,
    /// The Welcome's cipher suite or version differs from the KeyPackage's or the GroupInfo's (RFC 9420 §12.4.3.1).
    #[error("Welcome cipher suite or version mismatch")]
    WelcomeCipherSuiteMismatch,
    /// The GroupInfo of a Welcome does not decrypt (RFC 9420 §12.4.3.1).
    #[error("GroupInfo does not decrypt")]
    GroupInfoDecryptFailed,
    /// Neither the GroupInfo nor the caller supplied the ratchet tree (RFC 9420 §12.4.3.1).
    #[error("no ratchet tree in the Welcome and none supplied")]
    RatchetTreeMissing,
    /// The GroupInfo signer is not a member (RFC 9420 §12.4.3.1).
    #[error("GroupInfo signer {0} is not a member")]
    GroupInfoSignerNotMember(u32),
    /// The joiner's own leaf is not in the tree (RFC 9420 §12.4.3.1).
    #[error("own leaf not found in the tree")]
    OwnLeafNotFound,
    /// A key derived from a path secret differs from the tree's public key (RFC 9420 §12.4.3.1, §7.5).
    #[error("path secret does not match the public key of node {0}")]
    PathSecretPublicKeyMismatch(u32),
    /// The confirmation tag does not match (RFC 9420 §6.1, §12.4.2, §12.4.3.1).
    #[error("confirmation tag mismatch")]
    ConfirmationTagMismatch,
    /// A message for another group (RFC 9420 §6).
    #[error("message is for another group")]
    WrongGroup,
    /// A handshake message of another epoch (RFC 9420 §12.4.2).
    #[error("message of epoch {message}, group is in epoch {current}")]
    WrongEpoch {
        /// The message's epoch.
        message: u64,
        /// The group's epoch.
        current: u64,
    },
    /// The group is in epoch 2^64 - 1 and cannot start another (the
    /// `uint64 epoch` of the GroupContext, RFC 9420 §8.1).
    #[error("epoch counter exhausted")]
    EpochExhausted,
    /// A wire format this operation does not accept here (RFC 9420 §6).
    #[error("wire format {0} not accepted here")]
    UnsupportedWireFormat(u16),
    /// The sender's leaf is blank or outside the tree (RFC 9420 §6.1).
    #[error("sender leaf {0} is not a member")]
    SenderNotMember(u32),
    /// An external sender index not in `external_senders` (RFC 9420 §12.1.8.1).
    #[error("unknown external sender {0}")]
    UnknownExternalSender(u32),
    /// A sender type that may not send this content (RFC 9420 §6, §12.1.8).
    #[error("sender type not allowed for this content")]
    InvalidSenderForContent,
    /// Application data in a PublicMessage (RFC 9420 §6.2: it MUST be a PrivateMessage).
    #[error("application data sent as PublicMessage")]
    ApplicationInPublicMessage,
    /// The membership tag of a PublicMessage is missing or wrong (RFC 9420 §6.2).
    #[error("invalid membership tag")]
    InvalidMembershipTag,
    /// A commit from this member's own leaf that is not its pending commit (RFC 9420 §12.4.2).
    #[error("commit by this member that is not its pending commit")]
    OwnCommitNotPending,
    /// An external commit covers a proposal by reference (RFC 9420 §12.4.3.2:
    /// "The Commit MUST NOT include any proposals by reference").
    #[error("external commit covers a proposal by reference")]
    ExternalCommitProposalByReference,
    /// A GroupInfo for an external join has no `external_pub` extension
    /// (RFC 9420 §12.4.3.2).
    #[error("GroupInfo has no external_pub extension")]
    ExternalPubMissing,
    /// The `kem_output` of an ExternalInit is not a valid encapsulation for
    /// the group's external key (RFC 9420 §8.3, §12.1.6).
    #[error("ExternalInit kem_output is not a valid encapsulated key")]
    ExternalInitKemOutputInvalid,
    /// A commit's new leaf keeps the committer's encryption key (RFC 9420 §12.4.2).
    #[error("commit path leaf keeps the old encryption key")]
    CommitLeafKeyNotChanged,
    /// The sender data of a PrivateMessage could not be decrypted with the
    /// sender data key and nonce, or is malformed (RFC 9420 §6.3.2).
    #[error("sender data could not be decrypted")]
    SenderDataInvalid,
    /// An external PSK the commit or Welcome names is not in the store (RFC 9420 §12.4.2).
    #[error("PSK not available")]
    PskNotFound,

    // --- Reinitialization and branching (RFC 9420 §11.2, §11.3, §12.4.3.1) ---
    /// A message of the epoch a ReInit commit started: its members "MUST NOT
    /// use the group to send messages anymore" (RFC 9420 §12.4.2).
    #[error("message sent in a group closed by a ReInit")]
    MessageAfterReInit,
    /// A Welcome names more than one resumption PSK with usage reinit or
    /// branch (RFC 9420 §12.4.3.1: "verify that it is the only such PSK").
    #[error("more than one reinit or branch PSK in a Welcome")]
    ResumptionPskNotUnique,
    /// A group started with a reinit or branch PSK is not in epoch 1
    /// (RFC 9420 §11.2, §11.3, §12.4.3.1).
    #[error("group started by reinit or branch is in epoch {0}, not 1")]
    ResumptionEpochNotOne(u64),
    /// A Welcome's reinit PSK names an epoch that no commit with a ReInit
    /// started (RFC 9420 §12.4.3.1: "verify that the last Commit to the
    /// referenced group contains a ReInit proposal").
    #[error("reinit PSK names an epoch not started by a ReInit commit")]
    ReInitNotCommitted,
    /// The new group's group_id, version, cipher_suite or extensions differ
    /// from the ReInit proposal's (RFC 9420 §11.2, §12.4.3.1); names the field.
    #[error("new group's {0} differs from the ReInit proposal's")]
    ReInitParameterMismatch(&'static str),
    /// A member of the old group is not in the reinitialized group, or the
    /// new group has a member the old one did not (RFC 9420 §11.2, §12.4.3.1).
    #[error("the reinitialized group's members differ from the old group's")]
    ReInitMembersMismatch,
    /// A branched group's version or cipher suite differs from the parent
    /// group's (RFC 9420 §11.3, §12.4.3.1); names the field.
    #[error("branched group's {0} differs from the parent group's")]
    BranchParameterMismatch(&'static str),
    /// A member of a branched group (its leaf index) was not a member of the
    /// parent group in the PSK's epoch (RFC 9420 §11.3, §12.4.3.1).
    #[error("leaf {0} of the branched group was not a member of the parent group")]
    BranchMemberNotInParent(u32),
    /// This member no longer holds the membership of the parent group's
    /// epoch that a branch PSK names (it keeps the trees of the current and
    /// `GroupConfig::max_past_epochs` past epochs), so the subgroup cannot be
    /// checked (RFC 9420 §11.3) and is refused. A member that expects to
    /// join branches of older epochs must keep more past epochs; otherwise
    /// the subgroup's creator must branch again from a recent epoch.
    #[error(
        "membership of epoch {0} of the parent group is no longer kept (older than max_past_epochs)"
    )]
    ResumptionMembersUnavailable(u64),
    /// A Welcome joined as the reinitialization or a branch of a given group
    /// (`Client::join_reinit`, `Client::join_branch`) does not resume that
    /// group with that usage (it names no resumption PSK with usage
    /// `reinit` or `branch`, another group's, or the other usage); names
    /// the usage expected.
    #[error("the Welcome does not resume the expected group with usage {0}")]
    UnexpectedResumption(&'static str),

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

    // --- Application policy, applied alike by every member ---
    /// The application's identity validator rejected a credential that the
    /// message brings into the group or changes (RFC 9420 §5.3.1: "the
    /// application MUST validate" it).
    #[error("credential of {subject} rejected: {reason}")]
    CredentialRejected {
        /// Whose credential.
        subject: CredentialSubject,
        /// The validator's reason.
        reason: String,
    },
    /// A new credential for a leaf (an Update, a committer's path, an
    /// external resync replacing the leaf) does not name the same
    /// participant as the old one, as the identity validator judges it
    /// (RFC 9420 §5.3.1, §12.1.2, §12.4.3.2).
    #[error("leaf {0}: the new credential is not the same participant")]
    CredentialChangesParticipant(u32),
    /// The application's proposal policy does not accept this proposal from
    /// this sender (RFC 9420 §12.1: the application decides which
    /// proposals to accept).
    #[error("proposal type {proposal_type} from sender type {sender_type} not accepted by policy")]
    ProposalNotAccepted {
        /// The proposal type.
        proposal_type: u16,
        /// The sender type code.
        sender_type: u8,
    },
    /// More proposals are cached than the client keeps in one epoch.
    #[error("proposal cache full ({0} proposals)")]
    TooManyCachedProposals(usize),
    /// More messages for later epochs are held than the client keeps.
    #[error("{0} messages for later epochs already held")]
    TooManyHeldMessages(usize),

    // --- Ratchet tree: structure (RFC 9420 §4, §7.7, §12.4.3.3) ---
    /// A `ratchet_tree` has no nodes, or its last node is blank: "the receiver
    /// MUST check that the last node in ratchet_tree is non-blank" (RFC 9420 §12.4.3.3).
    #[error("ratchet tree is empty or ends with a blank node")]
    RatchetTreeTrailingBlank,
    /// A `ratchet_tree` holds more nodes than a tree of 2^31 leaves (RFC 9420 §4.1.1, §12.4.3.3).
    #[error("ratchet tree has too many nodes")]
    RatchetTreeTooLarge,
    /// A ratchet tree (from a Welcome, a GroupInfo or out of band) or a
    /// commit (its Adds, an external joiner) would give the group more leaf
    /// positions than this member accepts
    /// ([`GroupConfig::max_group_size`](crate::group::GroupConfig::max_group_size)).
    /// A tree is refused while it is decoded, as soon as it is too wide.
    #[error("the group would span {leaves} leaves, more than the {max} this member accepts")]
    GroupTooLarge {
        /// The leaves the tree or commit needs (at least).
        leaves: u64,
        /// The configured maximum.
        max: u32,
    },
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
    /// A new leaf (of a KeyPackage, an Update or a commit's path) does not
    /// list a non-default extension type of the GroupContext in its
    /// capabilities (RFC 9420 §13.4: "The capabilities field MUST indicate
    /// support for each extension in the GroupContext").
    #[error("leaf does not support group context extension type {0}")]
    LeafLacksGroupContextExtension(u16),
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
    /// A parent's `unmerged_leaves` are not in increasing order: "The
    /// entries in the unmerged_leaves vector MUST be sorted in increasing
    /// order" (RFC 9420 §7.1).
    #[error("parent node {node} lists unmerged leaf {leaf} after a higher one")]
    UnmergedLeavesNotSorted {
        /// The parent node.
        node: u32,
        /// The first entry lower than the one before it.
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

/// Whose credential [`ProtocolError::CredentialRejected`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialSubject {
    /// The member at this leaf (in the tree the message would produce).
    Leaf(u32),
    /// The external sender at this index of `external_senders` (RFC 9420 §12.1.8.1).
    ExternalSender(u32),
    /// The KeyPackage of a proposed Add, not yet at a leaf.
    KeyPackage,
}

impl core::fmt::Display for CredentialSubject {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Leaf(l) => write!(f, "leaf {l}"),
            Self::ExternalSender(i) => write!(f, "external sender {i}"),
            Self::KeyPackage => write!(f, "a proposed KeyPackage"),
        }
    }
}

/// The caller used the library wrongly.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum ApiError {
    /// Application data was to be sent as a PublicMessage; it MUST be sent as
    /// a PrivateMessage (RFC 9420 §6).
    #[error("application messages must be sent as PrivateMessage")]
    ApplicationMessageMustBePrivate,
    /// A value is too large to be encoded (vectors are limited to 2^30 - 1 bytes, RFC 9420 §2.1.2).
    #[error("value too large to encode: {0} bytes")]
    ValueTooLarge(usize),
    /// An argument was out of its allowed range.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// A configuration value (for example in
    /// [`GroupConfig`](crate::group::GroupConfig)) lies outside the range
    /// the library accepts.
    #[error("configuration value {field} = {value} is outside {min}..={max}")]
    ConfigOutOfRange {
        /// The field, as `struct.field`.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// The client has no group with this id.
    #[error("no such group")]
    UnknownGroup,
    /// The client already has a group with this id (RFC 9420 §12.4.3.1: a
    /// Welcome for a group the client is in is refused).
    #[error("a group with this id already exists")]
    GroupExists,
    /// This member was removed from the group: it can read its history but
    /// not send.
    #[error("this member was removed from the group")]
    GroupInactive,
    /// The group was closed by a ReInit (RFC 9420 §12.4.2: "the client MUST
    /// NOT use the group to send messages anymore"); create or join the new
    /// group instead.
    #[error("the group was reinitialized and no longer sends")]
    GroupReinitialized,
    /// This member tried to commit a ReInit together with other proposals:
    /// a ReInit is committed alone (RFC 9420 §12.2). (A received commit
    /// that does so fails with
    /// [`ProtocolError::ReInitNotAlone`].)
    #[error("a ReInit must be committed alone")]
    ReInitNotAlone,
    /// A staged commit was given to a group state it was not staged from
    /// (another group, epoch, member or history); see
    /// [`crate::group::Group::merge_staged_commit`].
    #[error("the commit was staged from another group state")]
    StagedCommitMismatch,
    /// The signature private key given does not belong to the signature
    /// public key it must sign for (e.g. the KeyPackage leaf's, when joining).
    #[error("the signature private key does not match the signature key")]
    SignatureKeyMismatch,
}

/// A store failed (see [`crate::storage`]). The operation that needed it
/// changed nothing: neither the store nor the client's state in memory.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend failed (I/O, full disk, closed database, ...).
    #[error("store backend failed: {0}")]
    Backend(String),
    /// The store is busy (locked by another writer) and gave up waiting.
    #[error("store busy")]
    Busy,
    /// Stored data is corrupted or not what was written there.
    #[error("stored data corrupted: {0}")]
    Corrupted(String),
    /// The store's encryption key is not the one its data was written with.
    #[error("wrong store key")]
    WrongKey,
    /// The store was written by a newer version of the library, whose
    /// format this one cannot read; nothing was changed.
    #[error("store format {found} is newer than this library's ({supported})")]
    NewerFormat {
        /// The store's format version.
        found: u32,
        /// The newest format this library reads.
        supported: u32,
    },
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
