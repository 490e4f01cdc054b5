//! Validation of leaf nodes (RFC 9420 §7.3) and of a whole tree when joining
//! (§12.4.3.1).
//!
//! Each rule fails with its own [`ProtocolError`] variant. The checks that
//! only read the leaf and the tree's indexes come first; the signature, the
//! only expensive check, comes last. Credential validation (§5.3.1) is the
//! application's (its Authentication Service) and is not done here.

use std::collections::HashSet;

use super::RatchetTree;
use super::index::{leaf_supports, supported_credentials};
use crate::crypto::CipherSuiteProvider;
use crate::crypto::labeled::{SignatureCheck, SignatureChecks};
use crate::error::{CryptoError, Error, ProtocolError, Result};
use crate::messages::{
    Capabilities, Extension, ExtensionList, ExtensionType, GroupContext, LeafNode,
    LeafNodeGroupBinding, LeafNodeSource, ProtocolVersion, RequiredCapabilities,
};
use crate::tree_math::{LeafIndex, NodeIndex};

/// Whether and when to check the lifetime of `key_package` leaf nodes (RFC 9420 §7.3).
///
/// For leaf nodes a client sends, checking is mandatory; for ones it
/// receives it is RECOMMENDED, since a leaf may expire in transit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifetimeCheck {
    /// Check that this time (seconds since the Unix epoch) lies within the lifetime.
    At(u64),
    /// Do not check lifetimes.
    Skip,
}

/// The group parameters a leaf node is validated against (RFC 9420 §7.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafValidationContext {
    /// The group's ID: the context of `update` and `commit` leaf signatures (§7.2).
    pub group_id: Vec<u8>,
    /// The group's protocol version, which every leaf must support.
    pub version: ProtocolVersion,
    /// The group's `required_capabilities` extension, if it has one (§11.1).
    pub required_capabilities: Option<RequiredCapabilities>,
    /// The types of the GroupContext extensions. A new leaf (in a
    /// KeyPackage, an Update or a commit) must support each non-default one
    /// (§13.4); leaves already in a tree are not held to it.
    pub extension_types: Vec<ExtensionType>,
    /// Whether to check `key_package` lifetimes, and against what time.
    pub lifetime: LifetimeCheck,
}

impl LeafValidationContext {
    /// A context for group `group_id` under MLS 1.0 with no required capabilities.
    pub fn new(group_id: impl Into<Vec<u8>>, lifetime: LifetimeCheck) -> Self {
        Self {
            group_id: group_id.into(),
            version: ProtocolVersion::MLS10,
            required_capabilities: None,
            extension_types: Vec::new(),
            lifetime,
        }
    }

    /// The context of a group in the state `gc` (its group ID, version and
    /// extensions). Fails if its `required_capabilities` is malformed.
    pub fn from_group_context(gc: &GroupContext, lifetime: LifetimeCheck) -> Result<Self> {
        let mut ctx = Self::new(gc.group_id.clone(), lifetime);
        ctx.version = gc.version;
        ctx.set_extensions(&gc.extensions)?;
        Ok(ctx)
    }

    /// Takes the group's requirements from the GroupContext extensions
    /// `extensions` (e.g. a GroupContextExtensions proposal's, §12.3): the
    /// `required_capabilities` and the extension types. Fails if
    /// `required_capabilities` is malformed.
    pub fn set_extensions(&mut self, extensions: &[Extension]) -> Result<()> {
        self.required_capabilities = extensions.parse::<RequiredCapabilities>()?;
        self.extension_types = extensions.iter().map(|e| e.extension_type).collect();
        Ok(())
    }

    /// §13.4: fails with [`ProtocolError::LeafLacksGroupContextExtension`]
    /// unless `caps` lists every non-default GroupContext extension type, as
    /// a new member's leaf must.
    pub fn check_extension_support(&self, caps: &Capabilities) -> Result<()> {
        match self
            .extension_types
            .iter()
            .find(|t| !t.is_default() && !caps.extensions.contains(t))
        {
            Some(t) => Err(ProtocolError::LeafLacksGroupContextExtension(t.0).into()),
            None => Ok(()),
        }
    }
}

/// Where a leaf node to validate was found; this fixes its required source
/// (RFC 9420 §7.3), the group binding of its signature (§7.2) and which leaf,
/// if any, it replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafNodeOrigin {
    /// In a KeyPackage, e.g. of an Add: the source must be `key_package`.
    KeyPackage,
    /// In an Update proposal from this member: the source must be `update`.
    Update(LeafIndex),
    /// In the UpdatePath of a commit by this member: the source must be `commit`.
    Commit(LeafIndex),
    /// Already in the tree at this leaf (joining, §12.4.3.1): any source.
    Tree(LeafIndex),
}

impl LeafNodeOrigin {
    /// The leaf the node replaces or occupies, if any.
    fn leaf(self) -> Option<LeafIndex> {
        match self {
            Self::KeyPackage => None,
            Self::Update(l) | Self::Commit(l) | Self::Tree(l) => Some(l),
        }
    }

    /// The required `LeafNodeSource` code point, if one is required.
    fn required_source(self) -> Option<u8> {
        match self {
            Self::KeyPackage => Some(1),
            Self::Update(_) => Some(2),
            Self::Commit(_) => Some(3),
            Self::Tree(_) => None,
        }
    }
}

impl RatchetTree {
    /// Validates `leaf` as a leaf node found at `origin` (RFC 9420 §7.3):
    ///
    /// 1. its source is the one `origin` requires;
    /// 2. its capabilities list everything `required_capabilities` requires
    ///    (non-default types) and, for a new leaf (any origin but
    ///    [`LeafNodeOrigin::Tree`]), every non-default GroupContext
    ///    extension type (§13.4); the group's cipher suite and version need
    ///    not be listed (§7.3 does not ask it);
    /// 3. its capabilities list its own credential type and the type of each
    ///    of its non-default extensions, which appear once each (§7.2, §13.4);
    /// 4. every other member supports its credential type, and it supports
    ///    every credential type other members use;
    /// 5. a `key_package` lifetime contains the time in `ctx.lifetime`;
    /// 6. its signature key and encryption key are used by no other member or
    ///    node, and an Update or commit changes the encryption key;
    /// 7. its signature verifies, bound to the group and leaf index for the
    ///    `update` and `commit` sources.
    pub fn validate_leaf_node(
        &self,
        cs: &dyn CipherSuiteProvider,
        ctx: &LeafValidationContext,
        leaf: &LeafNode,
        origin: LeafNodeOrigin,
    ) -> Result<()> {
        self.check_suite(cs)?;
        let replaced = match origin.leaf() {
            Some(l) => {
                self.check_leaf_in_range(l)?;
                self.leaf(l)
            }
            None => None,
        };
        check_source(leaf, origin)?;
        check_group_support(leaf, ctx, origin)?;
        check_own_support(leaf)?;
        self.check_credential_compatibility(leaf, replaced)?;
        check_lifetime(leaf, ctx.lifetime)?;
        self.check_keys_unique(leaf, origin, replaced)?;
        verify_leaf_signature(cs, leaf, &ctx.group_id, origin)
    }

    /// [`RatchetTree::validate_leaf_node`] with the signature check (rule 7)
    /// added to `checks` instead of done here, so that many leaves' signatures
    /// can be verified together.
    pub(crate) fn validate_leaf_node_deferred<'a>(
        &self,
        cs: &dyn CipherSuiteProvider,
        ctx: &LeafValidationContext,
        leaf: &'a LeafNode,
        origin: LeafNodeOrigin,
        checks: &mut SignatureChecks<'a>,
    ) -> Result<()> {
        self.check_suite(cs)?;
        let replaced = match origin.leaf() {
            Some(l) => {
                self.check_leaf_in_range(l)?;
                self.leaf(l)
            }
            None => None,
        };
        check_source(leaf, origin)?;
        check_group_support(leaf, ctx, origin)?;
        check_own_support(leaf)?;
        self.check_credential_compatibility(leaf, replaced)?;
        check_lifetime(leaf, ctx.lifetime)?;
        self.check_keys_unique(leaf, origin, replaced)?;
        let binding = leaf_binding(leaf, &ctx.group_id, origin)?;
        leaf.queue_signature_check(
            checks,
            binding,
            ProtocolError::LeafNodeSignatureInvalid.into(),
        )
    }

    /// The rules of [`RatchetTree::validate_leaf_node`] but the signature
    /// for the leaf at `index` of this tree, and its signature check,
    /// prepared (the part of validating a whole tree that can run on any
    /// thread).
    fn check_tree_leaf<'a>(
        &self,
        ctx: &LeafValidationContext,
        index: LeafIndex,
        leaf: &'a LeafNode,
    ) -> Result<SignatureCheck<'a>> {
        let origin = LeafNodeOrigin::Tree(index);
        self.check_leaf_in_range(index)?;
        let replaced = self.leaf(index);
        check_source(leaf, origin)?;
        check_group_support(leaf, ctx, origin)?;
        check_own_support(leaf)?;
        self.check_credential_compatibility(leaf, replaced)?;
        check_lifetime(leaf, ctx.lifetime)?;
        // Rule 6 holds for every leaf of a tree: its keys were checked
        // unique across all nodes when the tree was built (`from_nodes`)
        // and every change keeps them so.
        let binding = leaf_binding(leaf, &ctx.group_id, origin)?;
        leaf.signature_check(binding, ProtocolError::LeafNodeSignatureInvalid.into())
    }

    /// Validates the whole tree as a new member must before using it
    /// (RFC 9420 §12.4.3.1):
    ///
    /// * every `unmerged_leaves` entry names a non-blank leaf below its node,
    ///   listed by every non-blank node in between;
    /// * the tree hash equals `tree_hash` (the GroupInfo's);
    /// * every non-blank parent node is parent-hash valid (§7.9.2);
    /// * every leaf node is valid (§7.3) at its position.
    ///
    /// The uniqueness of encryption keys across all nodes is an invariant of
    /// every [`RatchetTree`] and was checked when the tree was built.
    pub fn validate(
        &self,
        cs: &dyn CipherSuiteProvider,
        ctx: &LeafValidationContext,
        tree_hash: &[u8],
    ) -> Result<()> {
        self.check_suite(cs)?;
        self.check_unmerged_leaves()?;
        // The hashes on one side, the leaves on the other (in parallel with
        // the crate feature `parallel`). Both are checked to the end and the
        // error reported is the one the sequential order gives: tree hash,
        // parent hashes, then the leaves' rules, then their signatures.
        let (hashes, leaves) = crate::parallel::join(
            || -> Result<()> {
                self.warm_hashes(cs, self.size.root())?;
                if self.tree_hash(cs)? != tree_hash {
                    return Err(ProtocolError::TreeHashMismatch.into());
                }
                self.verify_parent_hashes(cs)
            },
            || self.validate_leaves(cs, ctx),
        );
        hashes?;
        leaves
    }

    /// Every leaf node is valid at its position (§7.3): every rule but the
    /// signatures, leaf by leaf (in parallel), the first failure in leaf
    /// order reported; then all N signatures at once (each on its own, in
    /// parallel: the bulk of a join's work).
    fn validate_leaves(
        &self,
        cs: &dyn CipherSuiteProvider,
        ctx: &LeafValidationContext,
    ) -> Result<()> {
        let members: Vec<(LeafIndex, &LeafNode)> = self.members().collect();
        let prepared = crate::parallel::map(&members, |&(index, leaf)| {
            self.check_tree_leaf(ctx, index, leaf)
        });
        let mut checks = SignatureChecks::with_capacity(prepared.len());
        for check in prepared {
            checks.push_prepared(check?);
        }
        checks.verify(cs)
    }

    /// Checks the `unmerged_leaves` rules of RFC 9420 §12.4.3.1 for every
    /// parent, in O(U log N) for U entries: each entry is a non-blank leaf
    /// (that it lies below its node is a tree invariant), and the non-blank
    /// ancestors of a leaf that list it are exactly the lowest ones: once a
    /// non-blank ancestor does not list it, no higher one may.
    pub fn check_unmerged_leaves(&self) -> Result<()> {
        let mut listed: HashSet<(u32, u32)> = HashSet::new();
        let mut leaves: Vec<u32> = Vec::new();
        for p in self.occupancy.occupied_parents() {
            for &leaf in self.parent_node(p).map_or(&[][..], |n| &n.unmerged_leaves) {
                if self.leaf(LeafIndex(leaf)).is_none() {
                    return Err(ProtocolError::UnmergedLeafInvalid { node: p.0, leaf }.into());
                }
                listed.insert((p.0, leaf));
                leaves.push(leaf);
            }
        }
        leaves.sort_unstable();
        leaves.dedup();
        for leaf in leaves {
            let mut gap: Option<NodeIndex> = None;
            for a in self.size.direct_path(LeafIndex(leaf).node()) {
                if self.is_blank(a) {
                    continue;
                }
                match (listed.contains(&(a.0, leaf)), gap) {
                    (true, Some(missing)) => {
                        return Err(ProtocolError::UnmergedLeafNotListedBelow {
                            node: missing.0,
                            leaf,
                        }
                        .into());
                    }
                    (false, None) => gap = Some(a),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// §7.3: the new leaf's credential type is supported by every other member,
    /// and it supports every credential type another member uses.
    fn check_credential_compatibility(
        &self,
        leaf: &LeafNode,
        replaced: Option<&LeafNode>,
    ) -> Result<()> {
        let others = self
            .index
            .member_count()
            .saturating_sub(u32::from(replaced.is_some()));
        let own = leaf.credential.credential_type();
        let replaced_supports = replaced.is_some_and(|r| leaf_supports(r, own));
        if self
            .index
            .supporters(own)
            .saturating_sub(u32::from(replaced_supports))
            != others
        {
            return Err(ProtocolError::CredentialTypeNotSupportedByMembers(own.0).into());
        }
        let supported = supported_credentials(&leaf.capabilities);
        for (t, users) in self.index.credential_types_in_use() {
            let replaced_uses = replaced.is_some_and(|r| r.credential.credential_type() == t);
            if users.saturating_sub(u32::from(replaced_uses)) > 0
                && supported.binary_search(&t).is_err()
            {
                return Err(ProtocolError::LeafLacksCredentialTypeInUse(t.0).into());
            }
        }
        Ok(())
    }

    /// §7.3: signature and encryption keys unique among members and nodes;
    /// an Update (and a commit, §7.5) must change the encryption key.
    fn check_keys_unique(
        &self,
        leaf: &LeafNode,
        origin: LeafNodeOrigin,
        replaced: Option<&LeafNode>,
    ) -> Result<()> {
        // §7.5: a commit's new leaf "MUST adhere to the same restrictions as
        // LeafNodes used in Update proposals".
        if let (LeafNodeOrigin::Update(_) | LeafNodeOrigin::Commit(_), Some(old)) =
            (origin, replaced)
            && old.encryption_key == leaf.encryption_key
        {
            return Err(ProtocolError::UpdateKeepsEncryptionKey.into());
        }
        // A KeyPackage leaf replaces nothing: compare with every node.
        let at = origin.leaf().map_or(NodeIndex(u32::MAX), LeafIndex::node);
        if let Some(other) = self
            .index
            .leaf_by_signature_key(&self.nodes, leaf.signature_key.as_bytes())
            && other.node() != at
        {
            return Err(ProtocolError::DuplicateSignatureKey(other.0).into());
        }
        if let Some(other) = self
            .index
            .node_by_encryption_key(&self.nodes, leaf.encryption_key.as_bytes())
            && other != at
        {
            return Err(ProtocolError::DuplicateEncryptionKey(other.0).into());
        }
        Ok(())
    }
}

/// §7.3: the source the origin requires.
fn check_source(leaf: &LeafNode, origin: LeafNodeOrigin) -> Result<()> {
    let found = leaf.leaf_node_source.code();
    match origin.required_source() {
        Some(expected) if expected != found => {
            Err(ProtocolError::LeafNodeSourceMismatch { expected, found }.into())
        }
        _ => Ok(()),
    }
}

/// §7.3, §11.1, §13.4: the leaf supports what the group requires of it.
///
/// RFC 9420 §7.3 asks only that the types `required_capabilities` lists
/// appear in the leaf's capabilities. It does not ask that the capabilities
/// list the group's cipher suite or protocol version (other implementations
/// create groups whose leaves do not), so neither is checked. A new leaf (of
/// a KeyPackage, an Update or a commit) must also support every non-default
/// extension type in the GroupContext (§13.4, §12.1.7).
fn check_group_support(
    leaf: &LeafNode,
    ctx: &LeafValidationContext,
    origin: LeafNodeOrigin,
) -> Result<()> {
    let caps = &leaf.capabilities;
    if !matches!(origin, LeafNodeOrigin::Tree(_)) {
        ctx.check_extension_support(caps)?;
    }
    let Some(req) = &ctx.required_capabilities else {
        return Ok(());
    };
    // Default extension and proposal types are implemented by every client
    // and are never listed (§7.2, §11.1); credential types have no defaults.
    if let Some(t) = req
        .extension_types
        .iter()
        .find(|t| !t.is_default() && !caps.extensions.contains(t))
    {
        return Err(ProtocolError::LeafLacksRequiredExtension(t.0).into());
    }
    if let Some(t) = req
        .proposal_types
        .iter()
        .find(|t| !t.is_default() && !caps.proposals.contains(t))
    {
        return Err(ProtocolError::LeafLacksRequiredProposal(t.0).into());
    }
    if let Some(t) = req
        .credential_types
        .iter()
        .find(|t| !caps.credentials.contains(t))
    {
        return Err(ProtocolError::LeafLacksRequiredCredential(t.0).into());
    }
    Ok(())
}

/// §7.2, §7.3, §13.4: the leaf lists its own credential type and its
/// non-default extensions, and no extension type appears twice.
fn check_own_support(leaf: &LeafNode) -> Result<()> {
    let caps = &leaf.capabilities;
    let own = leaf.credential.credential_type();
    if !caps.credentials.contains(&own) {
        return Err(ProtocolError::LeafLacksOwnCredentialType(own.0).into());
    }
    leaf.extensions.check_unique()?;
    if let Some(e) = leaf
        .extensions
        .iter()
        .find(|e| !e.extension_type.is_default() && !caps.extensions.contains(&e.extension_type))
    {
        return Err(ProtocolError::LeafExtensionNotInCapabilities(e.extension_type.0).into());
    }
    Ok(())
}

/// §7.3: the current time lies within a `key_package` leaf's lifetime.
fn check_lifetime(leaf: &LeafNode, check: LifetimeCheck) -> Result<()> {
    match (&leaf.leaf_node_source, check) {
        (LeafNodeSource::KeyPackage(l), LifetimeCheck::At(now)) if !l.contains(now) => {
            Err(ProtocolError::LeafLifetimeInvalid {
                not_before: l.not_before,
                not_after: l.not_after,
                now,
            }
            .into())
        }
        _ => Ok(()),
    }
}

/// §7.2, §7.3: the signature over `LeafNodeTBS`, with the group binding for
/// the `update` and `commit` sources. A signature that does not hold is
/// [`ProtocolError::LeafNodeSignatureInvalid`]; other failures (a malformed
/// key, say) keep their crypto error.
fn verify_leaf_signature(
    cs: &dyn CipherSuiteProvider,
    leaf: &LeafNode,
    group_id: &[u8],
    origin: LeafNodeOrigin,
) -> Result<()> {
    let binding = leaf_binding(leaf, group_id, origin)?;
    match leaf.verify_signature(cs, binding) {
        Err(Error::Crypto(CryptoError::InvalidSignature)) => {
            Err(ProtocolError::LeafNodeSignatureInvalid.into())
        }
        other => other,
    }
}

/// §7.2: the group binding of a leaf's signature: none for the
/// `key_package` source, the group ID and leaf index for the others.
fn leaf_binding<'a>(
    leaf: &LeafNode,
    group_id: &'a [u8],
    origin: LeafNodeOrigin,
) -> Result<Option<LeafNodeGroupBinding<'a>>> {
    match (&leaf.leaf_node_source, origin.leaf()) {
        (LeafNodeSource::KeyPackage(_), _) => Ok(None),
        (_, Some(leaf_index)) => Ok(Some(LeafNodeGroupBinding {
            group_id,
            leaf_index,
        })),
        // An update or commit leaf outside the tree: check_source refused it already.
        (_, None) => Err(ProtocolError::LeafNodeSourceMismatch {
            expected: 1,
            found: leaf.leaf_node_source.code(),
        }
        .into()),
    }
}
