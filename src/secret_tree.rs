//! The secret tree and its sender ratchets (RFC 9420 §9, §9.1, §9.2).
//!
//! The `encryption_secret` of an epoch sits at the root of a tree shaped like
//! the ratchet tree. A parent's secret gives its children's secrets
//! (`ExpandWithLabel(., "tree", "left" | "right", KDF.Nh)`); a leaf's secret
//! starts a handshake and an application ratchet, each of which gives one key
//! and nonce per generation.
//!
//! Everything is derived on demand: a tree for a million members holds only
//! the secrets next to the paths actually used. Deletion follows §9.2:
//!
//! * a node's secret is deleted once its children's secrets are derived;
//! * a leaf's secret is deleted once its two ratchets are started;
//! * a ratchet secret is deleted once the next one is derived;
//! * a key and nonce are deleted when they are handed out, so asking twice
//!   for a generation is refused with [`ProtocolError::KeyAlreadyUsed`];
//! * when the epoch ends, what it can no longer use is deleted
//!   ([`SecretTree::retire`]): a past epoch only decrypts application
//!   messages, so its handshake ratchets go, and so do the secrets of
//!   leaves that cannot send.
//!
//! Keys of generations skipped over (messages that may still arrive out of
//! order) are kept, at most [`SecretTreeConfig::max_retained_keys`] per
//! ratchet, oldest dropped first; a generation more than
//! [`SecretTreeConfig::max_forward_distance`] ahead of a ratchet is refused
//! with [`ProtocolError::GenerationTooFarAhead`] so that a message cannot make
//! a member derive an unbounded number of keys. Both bounds are themselves
//! bounded ([`SecretTreeConfig::validate`]).
//!
//! A receiver takes a key in two steps, so that a message that turns out to
//! be invalid changes nothing: [`SecretTree::stage_key`] returns the key and
//! a [`SecretTreeUpdate`] (what taking it changes: one leaf's ratchet and, the
//! first time that leaf is used, the node secrets derived on the way down to
//! it) without touching the tree, and [`SecretTree::apply`] applies that
//! update once the message is accepted. Both cost O(log N) at most, whatever
//! the number of ratchets already started, and the update is a small record
//! a store can persist as is ([`SecretTreeUpdate::to_bytes`]).

use std::collections::{BTreeMap, HashMap};

use crate::codec::{Decode, Encode, Reader, write_vec_with};
use crate::crypto::labeled::{derive_tree_secret, expand_with_label, nh};
use crate::crypto::{CipherSuite, CipherSuiteProvider, Secret};
use crate::error::{ApiError, DecodeError, Error, ProtocolError, Result};
use crate::key_schedule::{KeyAndNonce, len16};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

/// Bounds on what a [`SecretTree`] will derive and keep for out-of-order messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SecretTreeConfig {
    /// The furthest a requested generation may lie ahead of a ratchet's next
    /// unused generation. Default 1000.
    pub max_forward_distance: u32,
    /// How many keys of skipped generations each ratchet keeps for messages
    /// that arrive out of order; the oldest are deleted first. Default 128.
    pub max_retained_keys: u32,
}

impl SecretTreeConfig {
    /// The largest [`SecretTreeConfig::max_forward_distance`] accepted: a
    /// message may make a receiver derive this many ratchet secrets.
    pub const MAX_FORWARD_DISTANCE: u32 = 1 << 16;
    /// The largest [`SecretTreeConfig::max_retained_keys`] accepted: a
    /// sender that skips generations makes every receiver keep up to this
    /// many keys per ratchet of that sender.
    pub const MAX_RETAINED_KEYS: u32 = 1 << 10;

    /// Fails with [`ApiError::ConfigOutOfRange`] if a bound is above its
    /// limit ([`Self::MAX_FORWARD_DISTANCE`], [`Self::MAX_RETAINED_KEYS`]).
    pub fn validate(&self) -> Result<(), ApiError> {
        let check = |field, value: u32, max: u32| {
            if value <= max {
                Ok(())
            } else {
                Err(ApiError::ConfigOutOfRange {
                    field,
                    value: value.into(),
                    min: 0,
                    max: max.into(),
                })
            }
        };
        check(
            "SecretTreeConfig.max_forward_distance",
            self.max_forward_distance,
            Self::MAX_FORWARD_DISTANCE,
        )?;
        check(
            "SecretTreeConfig.max_retained_keys",
            self.max_retained_keys,
            Self::MAX_RETAINED_KEYS,
        )
    }
}

impl Default for SecretTreeConfig {
    fn default() -> Self {
        Self {
            max_forward_distance: 1000,
            max_retained_keys: 128,
        }
    }
}

/// Which of a leaf's two ratchets (RFC 9420 §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RatchetKind {
    /// Keys for Proposals and Commits.
    Handshake,
    /// Keys for application data.
    Application,
}

/// The key and nonce of one generation of a sender ratchet (RFC 9420 §9.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageKey {
    /// The generation, sent in the `SenderData` of the PrivateMessage (§6.3.2).
    pub generation: u32,
    /// `ratchet_key_[N]_[generation]`, `AEAD.Nk` bytes.
    pub key: Secret,
    /// `ratchet_nonce_[N]_[generation]`, `AEAD.Nn` bytes (before the reuse guard is applied).
    pub nonce: Secret,
}

/// One sender ratchet (RFC 9420 §9.1).
#[derive(Clone, Debug)]
struct Ratchet {
    /// `(j, ratchet_secret_[j])` for the next unused generation `j`; `None`
    /// once generation 2^32 - 1 has been passed.
    next: Option<(u32, Secret)>,
    /// Keys of skipped generations, kept for out-of-order messages.
    retained: BTreeMap<u32, KeyAndNonce>,
}

impl Ratchet {
    fn new(secret: Secret) -> Self {
        Self {
            next: Some((0, secret)),
            retained: BTreeMap::new(),
        }
    }

    /// A ratchet that gives no key: one whose secrets were deleted.
    fn deleted() -> Self {
        Self {
            next: None,
            retained: BTreeMap::new(),
        }
    }

    /// `ratchet_key_[j]` and `ratchet_nonce_[j]` from `ratchet_secret_[j]`.
    fn key_and_nonce(cs: &dyn CipherSuiteProvider, j: u32, secret: &Secret) -> Result<KeyAndNonce> {
        let s = secret.as_bytes();
        Ok(KeyAndNonce {
            key: derive_tree_secret(cs, s, b"key", j, len16(cs.aead_key_len())?)?,
            nonce: derive_tree_secret(cs, s, b"nonce", j, len16(cs.aead_nonce_len())?)?,
        })
    }

    /// The state after generation `j` (whose secret is `secret`) is used:
    /// the next generation and its secret, or `None` after 2^32 - 1.
    fn successor(
        cs: &dyn CipherSuiteProvider,
        j: u32,
        secret: &Secret,
    ) -> Result<Option<(u32, Secret)>> {
        match j.checked_add(1) {
            Some(next_j) => Ok(Some((
                next_j,
                derive_tree_secret(cs, secret.as_bytes(), b"secret", j, nh(cs)?)?,
            ))),
            None => Ok(None),
        }
    }

    /// Moves the ratchet one generation on, deleting the current secret.
    fn advance(&mut self, cs: &dyn CipherSuiteProvider) -> Result<()> {
        if let Some((j, secret)) = &self.next {
            self.next = Self::successor(cs, *j, secret)?;
        }
        Ok(())
    }

    /// The key of the next unused generation, for sending.
    fn next_key(&mut self, cs: &dyn CipherSuiteProvider) -> Result<MessageKey> {
        let (key, next) = self.prepare_next_key(cs)?;
        self.next = next;
        Ok(key)
    }

    /// The key of the next unused generation and the ratchet's state once
    /// it is used, the ratchet unchanged.
    fn prepare_next_key(
        &self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<(MessageKey, Option<(u32, Secret)>)> {
        let Some((j, secret)) = &self.next else {
            return Err(ProtocolError::GenerationExhausted.into());
        };
        let kn = Self::key_and_nonce(cs, *j, secret)?;
        let next = Self::successor(cs, *j, secret)?;
        Ok((
            MessageKey {
                generation: *j,
                key: kn.key,
                nonce: kn.nonce,
            },
            next,
        ))
    }

    /// The key of `generation`, for receiving: a retained one, or one derived
    /// by moving forward (retaining the keys skipped over).
    fn key(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        generation: u32,
        config: &SecretTreeConfig,
    ) -> Result<MessageKey> {
        if let Some(kn) = self.retained.remove(&generation) {
            return Ok(MessageKey {
                generation,
                key: kn.key,
                nonce: kn.nonce,
            });
        }
        let current = match &self.next {
            Some((j, _)) if generation >= *j => *j,
            // Behind the ratchet and not retained: used, or deleted.
            _ => return Err(ProtocolError::KeyAlreadyUsed(generation).into()),
        };
        if generation - current > config.max_forward_distance {
            return Err(ProtocolError::GenerationTooFarAhead {
                requested: generation,
                current,
                bound: config.max_forward_distance,
            }
            .into());
        }
        // Only the last `max_retained_keys` skipped generations would survive
        // the limit below, so the older ones are not even derived.
        let keep_from = generation.saturating_sub(config.max_retained_keys);
        loop {
            let Some((j, secret)) = &self.next else {
                return Err(Error::Internal(
                    "ratchet ended before a reachable generation",
                ));
            };
            let j = *j;
            if j == generation {
                return self.next_key(cs);
            }
            if j >= keep_from {
                let kn = Self::key_and_nonce(cs, j, secret)?;
                self.retained.insert(j, kn);
            }
            self.advance(cs)?;
            while self.retained.len() > config.max_retained_keys as usize {
                self.retained.pop_first();
            }
        }
    }
}

/// The two ratchets of one leaf.
#[derive(Clone, Debug)]
struct LeafRatchets {
    handshake: Ratchet,
    application: Ratchet,
}

impl LeafRatchets {
    fn get(&self, kind: RatchetKind) -> &Ratchet {
        match kind {
            RatchetKind::Handshake => &self.handshake,
            RatchetKind::Application => &self.application,
        }
    }

    fn get_mut(&mut self, kind: RatchetKind) -> &mut Ratchet {
        match kind {
            RatchetKind::Handshake => &mut self.handshake,
            RatchetKind::Application => &mut self.application,
        }
    }

    /// The two ratchets from `touched` (of kind `kind`) and `other`.
    fn from_parts(kind: RatchetKind, touched: Ratchet, other: Ratchet) -> Self {
        let (handshake, application) = match kind {
            RatchetKind::Handshake => (touched, other),
            RatchetKind::Application => (other, touched),
        };
        Self {
            handshake,
            application,
        }
    }
}

/// The secrets met when a leaf's ratchets are started (RFC 9420 §9): the
/// stored ancestor secret consumed and the secrets of the siblings met on
/// the way down, which are kept.
#[derive(Clone, Debug)]
struct LeafStart {
    consumed: NodeIndex,
    derived: Vec<(NodeIndex, Secret)>,
}

/// What taking one received key changes in a [`SecretTree`], computed by
/// [`SecretTree::stage_key`] without changing the tree and applied by
/// [`SecretTree::apply`] once the message is accepted (RFC 9420 §9.2: the
/// key and the secrets it came from are deleted, skipped keys are kept).
///
/// It holds the new state of the one ratchet touched (its next generation
/// and secret, and the keys it keeps for out-of-order messages, at most
/// [`SecretTreeConfig::max_retained_keys`]) and, the first time a leaf is
/// used in the epoch, the node secret consumed, the sibling secrets derived
/// on the way down (at most log2 N) and the leaf's other ratchet. Its size
/// does not grow with the number of ratchets already started. A store can
/// save it as one record per message ([`SecretTreeUpdate::to_bytes`]) and
/// apply the records in order to the tree saved at the start of the epoch.
/// It holds secrets: wiped on drop, redacted in `Debug`.
#[derive(Clone, Debug)]
pub struct SecretTreeUpdate {
    leaf: LeafIndex,
    kind: RatchetKind,
    generation: u32,
    /// The change count of the tree it was staged from (`None` once
    /// decoded: then only structural checks apply).
    base: Option<u64>,
    /// Set when the leaf's ratchets were not started yet: how, and the
    /// other ratchet, fresh.
    start: Option<(LeafStart, Ratchet)>,
    /// The touched ratchet after the key is taken.
    ratchet: Ratchet,
}

impl SecretTreeUpdate {
    /// The sender's leaf.
    pub fn leaf(&self) -> LeafIndex {
        self.leaf
    }

    /// The ratchet the key was taken from.
    pub fn ratchet_kind(&self) -> RatchetKind {
        self.kind
    }

    /// The generation of the key taken.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Drops the node secrets this update would keep for subtrees in which
    /// `keep` finds no leaf that can still send (see [`SecretTree::retire`];
    /// only a retired tree accepts an update without them).
    pub fn retain_node_secrets(&mut self, keep: impl Fn(core::ops::Range<u32>) -> bool) {
        if let Some((start, _)) = &mut self.start {
            start.derived.retain(|(n, _)| keep(n.leaf_range()));
        }
    }
}

/// The secret tree of one epoch (RFC 9420 §9), derived lazily and deleted as
/// it is used (§9.2). See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct SecretTree {
    cipher_suite: CipherSuite,
    size: TreeSize,
    config: SecretTreeConfig,
    /// Node secrets derived (or, for the root, given) and not yet consumed.
    nodes: HashMap<NodeIndex, Secret>,
    /// Ratchets of the leaves whose secrets have been consumed.
    leaves: HashMap<LeafIndex, LeafRatchets>,
    /// Set once the tree's epoch has ended ([`SecretTree::retire`]): only
    /// application keys of possible senders are left.
    retired: bool,
    /// Incremented by every change, so that [`SecretTree::apply`] can refuse
    /// an update staged from an older state (not saved: a fresh count
    /// starts with every value).
    changes: u64,
}

impl SecretTree {
    /// A secret tree over `size` leaves with `encryption_secret` at its root,
    /// consuming the secret (RFC 9420 §9).
    pub fn new(
        cs: &dyn CipherSuiteProvider,
        encryption_secret: Secret,
        size: TreeSize,
        config: SecretTreeConfig,
    ) -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(size.root(), encryption_secret);
        Self {
            cipher_suite: cs.cipher_suite(),
            size,
            config,
            nodes,
            leaves: HashMap::new(),
            retired: false,
            changes: 0,
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// The bounds this tree was made with.
    pub fn config(&self) -> &SecretTreeConfig {
        &self.config
    }

    /// The key and nonce of `generation` of a leaf's ratchet, to decrypt a
    /// received message (RFC 9420 §9.1). The key is deleted from the tree
    /// when it is returned (§9.2): [`SecretTree::stage_key`] then
    /// [`SecretTree::apply`].
    ///
    /// Fails with [`ProtocolError::LeafIndexOutOfRange`],
    /// [`ProtocolError::KeyAlreadyUsed`] (a replay, or a key deleted because
    /// it was too old to keep) or [`ProtocolError::GenerationTooFarAhead`].
    pub fn key(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<MessageKey> {
        let (key, update) = self.stage_key(cs, leaf, kind, generation)?;
        self.apply(update)?;
        Ok(key)
    }

    /// The key and nonce of `generation` of a leaf's ratchet, and the update
    /// that deletes it, leaving the tree unchanged (see
    /// [`SecretTreeUpdate`]). Apply the update with [`SecretTree::apply`]
    /// once the message is accepted; drop it to leave the key in place.
    ///
    /// Costs O(log N) (deriving the leaf's secret, its first time in the
    /// epoch) plus the ratchet steps to `generation`, whatever the number of
    /// ratchets already started. Fails as [`SecretTree::key`] does.
    pub fn stage_key(
        &self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<(MessageKey, SecretTreeUpdate)> {
        self.check_leaf(cs, leaf)?;
        let deleted = ProtocolError::KeyAlreadyUsed(generation);
        if self.retired && kind == RatchetKind::Handshake {
            return Err(deleted.into());
        }
        let (mut ratchet, start) = match self.leaves.get(&leaf) {
            Some(r) => (r.get(kind).clone(), None),
            None => {
                let (start, ratchets) = self.derive_leaf(cs, leaf)?.ok_or(deleted)?;
                let (touched, other) = match kind {
                    RatchetKind::Handshake => (ratchets.handshake, ratchets.application),
                    RatchetKind::Application => (ratchets.application, ratchets.handshake),
                };
                (touched, Some((start, other)))
            }
        };
        let key = ratchet.key(cs, generation, &self.config)?;
        let update = SecretTreeUpdate {
            leaf,
            kind,
            generation,
            base: Some(self.changes),
            start,
            ratchet,
        };
        Ok((key, update))
    }

    /// Applies an update from [`SecretTree::stage_key`] of this tree, or
    /// decoded from a record ([`SecretTreeUpdate::from_bytes`]). O(log N).
    ///
    /// Fails with [`ApiError::InvalidArgument`], changing nothing, if the
    /// update does not fit the tree: staged from a state the tree has since
    /// left (another change came first), or, for a decoded one, naming a
    /// leaf or node secrets that do not match what the tree holds.
    pub fn apply(&mut self, update: SecretTreeUpdate) -> Result<()> {
        let misfit = |why| Err(ApiError::InvalidArgument(why).into());
        if update.base.is_some_and(|b| b != self.changes) {
            return misfit("secret tree update staged from an older state");
        }
        if !self.size.contains_leaf(update.leaf) {
            return misfit("secret tree update for a leaf outside the tree");
        }
        if update.ratchet.retained.len() > self.config.max_retained_keys as usize {
            return misfit("secret tree update keeps more keys than the tree allows");
        }
        if self.retired && update.kind == RatchetKind::Handshake {
            return misfit("handshake keys of an ended epoch are deleted");
        }
        match update.start {
            None => match self.leaves.get_mut(&update.leaf) {
                Some(r) => *r.get_mut(update.kind) = update.ratchet,
                None => return misfit("secret tree update for a leaf not started"),
            },
            Some((start, other)) => {
                // A retired tree keeps no handshake ratchet (see `retire`).
                let other = if self.retired {
                    Ratchet::deleted()
                } else {
                    other
                };
                // The siblings met on the way down, in order; a retired tree
                // may be given only some of them (`retain_node_secrets`).
                let expected = descent_siblings(start.consumed, update.leaf);
                let fits = !self.leaves.contains_key(&update.leaf)
                    && self.nodes.contains_key(&start.consumed)
                    && expected.as_ref().is_some_and(|siblings| {
                        let mut rest = siblings.iter();
                        let in_order = start.derived.iter().all(|(n, _)| rest.any(|s| s == n));
                        in_order && (self.retired || siblings.len() == start.derived.len())
                    });
                if !fits {
                    return misfit("secret tree update does not start the leaf from this tree");
                }
                self.nodes.remove(&start.consumed);
                self.nodes.extend(start.derived);
                self.leaves.insert(
                    update.leaf,
                    LeafRatchets::from_parts(update.kind, update.ratchet, other),
                );
            }
        }
        self.changes = self.changes.wrapping_add(1);
        Ok(())
    }

    /// The key and nonce of the next unused generation of a leaf's ratchet,
    /// to encrypt a message from that leaf (RFC 9420 §9.1). The ratchet moves
    /// on, so no key is ever returned twice.
    ///
    /// Fails with [`ProtocolError::LeafIndexOutOfRange`] or, after generation
    /// 2^32 - 1, [`ProtocolError::GenerationExhausted`].
    pub fn next_key(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
    ) -> Result<MessageKey> {
        let prepared = self.prepare_next_key(cs, leaf, kind)?;
        Ok(self.take_prepared(prepared))
    }

    /// The key [`SecretTree::next_key`] would return, and what returning it
    /// changes, with the tree unchanged: a sender encrypts with the key, then
    /// applies the change with [`SecretTree::take_prepared`] once everything
    /// else has succeeded, so that a failure leaves the tree as it was. Same
    /// errors as `next_key`; a retired tree (of an ended epoch) sends nothing.
    pub(crate) fn prepare_next_key(
        &self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
    ) -> Result<PreparedKey> {
        self.check_leaf(cs, leaf)?;
        if self.retired {
            return Err(ApiError::InvalidArgument("the secret tree's epoch has ended").into());
        }
        let (started, ratchet) = match self.leaves.get(&leaf) {
            Some(r) => (None, r.get(kind).prepare_next_key(cs)?),
            None => {
                let (start, ratchets) = self
                    .derive_leaf(cs, leaf)?
                    .ok_or(Error::Internal("no secret-tree node covers the leaf"))?;
                let prepared = ratchets.get(kind).prepare_next_key(cs)?;
                (Some((start, ratchets)), prepared)
            }
        };
        let (key, next) = ratchet;
        Ok(PreparedKey {
            key,
            leaf,
            kind,
            started,
            next,
        })
    }

    /// Takes a key prepared from this tree, unchanged since (the caller
    /// holds it mutably from preparing to taking): the leaf's ratchet is
    /// started if it was not, and moves past the key's generation, whose key
    /// is deleted (RFC 9420 §9.2). Cannot fail.
    pub(crate) fn take_prepared(&mut self, prepared: PreparedKey) -> MessageKey {
        let PreparedKey {
            key,
            leaf,
            kind,
            started,
            next,
        } = prepared;
        if let Some((start, ratchets)) = started {
            self.nodes.remove(&start.consumed);
            self.nodes.extend(start.derived);
            self.leaves.insert(leaf, ratchets);
        }
        if let Some(r) = self.leaves.get_mut(&leaf) {
            r.get_mut(kind).next = next;
        }
        self.changes = self.changes.wrapping_add(1);
        key
    }

    /// Fails unless `cs` is the tree's suite and `leaf` lies in the tree.
    fn check_leaf(&self, cs: &dyn CipherSuiteProvider, leaf: LeafIndex) -> Result<()> {
        if cs.cipher_suite() != self.cipher_suite {
            return Err(
                ApiError::InvalidArgument("cipher suite differs from the secret tree's").into(),
            );
        }
        if !self.size.contains_leaf(leaf) {
            return Err(ProtocolError::LeafIndexOutOfRange(leaf.0).into());
        }
        Ok(())
    }

    /// Derives a leaf's secret from its nearest stored ancestor, noting the
    /// ancestor consumed and the siblings' secrets met on the way, and the
    /// leaf's two fresh ratchets (RFC 9420 §9, Figures 25 and 26); in a
    /// retired tree the handshake ratchet is not derived. The tree is not
    /// changed. `None` if no stored secret covers the leaf (in a retired
    /// tree, a leaf that cannot send; otherwise a bug).
    fn derive_leaf(
        &self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
    ) -> Result<Option<(LeafStart, LeafRatchets)>> {
        let target = leaf.node();
        let Some(start) = core::iter::once(target)
            .chain(self.size.direct_path(target))
            .find(|n| self.nodes.contains_key(n))
        else {
            return Ok(None);
        };
        let mut node = start;
        let mut secret = self
            .nodes
            .get(&start)
            .cloned()
            .ok_or(Error::Internal("secret-tree node vanished"))?;
        let mut derived = Vec::new();
        let nh = nh(cs)?;
        while node != target {
            let (Some(left), Some(right)) = (node.left(), node.right()) else {
                return Err(Error::Internal("secret-tree descent reached a leaf early"));
            };
            let s = secret.as_bytes();
            let left_secret = expand_with_label(cs, s, b"tree", b"left", nh)?;
            let right_secret = expand_with_label(cs, s, b"tree", b"right", nh)?;
            // Leaves left of `node` have smaller indices.
            let (next, next_secret, other, other_secret) = if target.0 < node.0 {
                (left, left_secret, right, right_secret)
            } else {
                (right, right_secret, left, left_secret)
            };
            derived.push((other, other_secret));
            node = next;
            secret = next_secret;
        }
        let s = secret.as_bytes();
        let handshake = if self.retired {
            Ratchet::deleted()
        } else {
            Ratchet::new(expand_with_label(cs, s, b"handshake", &[], nh)?)
        };
        let ratchets = LeafRatchets {
            handshake,
            application: Ratchet::new(expand_with_label(cs, s, b"application", &[], nh)?),
        };
        Ok(Some((
            LeafStart {
                consumed: start,
                derived,
            },
            ratchets,
        )))
    }

    /// Keeps only what an epoch that has ended can still use (RFC 9420
    /// §9.2, §15.2): a past epoch accepts application messages only, so
    /// every handshake ratchet is deleted, and so are the ratchets of the
    /// leaves that cannot send (`can_send` is false for their one-leaf
    /// range) and the node secrets of subtrees in which no leaf can send.
    /// Afterwards handshake keys, and keys of such leaves, fail with
    /// [`ProtocolError::KeyAlreadyUsed`], a leaf started later gets no
    /// handshake ratchet, and nothing can be sent. Idempotent.
    ///
    /// `can_send(leaves)` tells whether some leaf in the half-open range of
    /// leaf indices may still send an application message of this epoch.
    pub fn retire(&mut self, can_send: impl Fn(core::ops::Range<u32>) -> bool) {
        self.retired = true;
        self.leaves
            .retain(|l, _| can_send(l.0..l.0.saturating_add(1)));
        for r in self.leaves.values_mut() {
            r.handshake = Ratchet::deleted();
        }
        self.nodes.retain(|n, _| can_send(n.leaf_range()));
        self.changes = self.changes.wrapping_add(1);
    }

    /// Whether [`SecretTree::retire`] was called.
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Whether keys of `leaf` can still be had: its ratchets are started,
    /// or the secret of the leaf or of an ancestor is held. O(log N).
    pub(crate) fn covers(&self, leaf: LeafIndex) -> bool {
        if !self.size.contains_leaf(leaf) {
            return false;
        }
        let target = leaf.node();
        self.leaves.contains_key(&leaf)
            || core::iter::once(target)
                .chain(self.size.direct_path(target))
                .any(|n| self.nodes.contains_key(&n))
    }
}

/// The siblings met walking down from `from` to the leaf `leaf`, top-down;
/// `None` unless `from` is the leaf or one of its ancestors.
fn descent_siblings(from: NodeIndex, leaf: LeafIndex) -> Option<Vec<NodeIndex>> {
    if !from.leaf_range().contains(&leaf.0) {
        return None;
    }
    let target = leaf.node();
    let mut node = from;
    let mut siblings = Vec::new();
    while node != target {
        let (left, right) = (node.left()?, node.right()?);
        let (next, other) = if target.0 < node.0 {
            (left, right)
        } else {
            (right, left)
        };
        siblings.push(other);
        node = next;
    }
    Some(siblings)
}

/// A sending key computed from a [`SecretTree`] and not yet taken from it
/// (see [`SecretTree::prepare_next_key`]).
pub(crate) struct PreparedKey {
    /// The key and nonce to encrypt with.
    pub key: MessageKey,
    leaf: LeafIndex,
    kind: RatchetKind,
    /// The leaf's ratchets, if they are started by taking the key.
    started: Option<(LeafStart, LeafRatchets)>,
    /// The ratchet's next generation and secret once the key is taken.
    next: Option<(u32, Secret)>,
}

// --- Persistence -----------------------------------------------------------
//
// The whole state of a tree, for `Group::to_bytes` (see `group::persist`):
//
// ```text
// struct {
//     CipherSuite cipher_suite;
//     uint32 leaf_count;
//     uint32 max_forward_distance;
//     uint32 max_retained_keys;
//     NodeSecret nodes<V>;          // increasing node index
//     LeafRatchets leaves<V>;       // increasing leaf index
// } SecretTreeState;
// struct { uint32 node; opaque secret<V>; } NodeSecret;
// struct { uint32 leaf; RatchetState handshake; RatchetState application; } LeafRatchets;
// struct { optional<NextSecret> next; RetainedKey retained<V>; } RatchetState;
// struct { uint32 generation; opaque secret<V>; } NextSecret;
// struct { uint32 generation; opaque key<V>; opaque nonce<V>; } RetainedKey;  // increasing
// ```
//
// The maps are written sorted, so equal trees give equal bytes. These are
// crate-private methods rather than `Encode`/`Decode` impls so that no public
// `to_bytes()` hands out secret tree state as a plain `Vec<u8>`.

impl Ratchet {
    fn write_state(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.write_next(out)?;
        write_vec_with(out, |out| {
            for (g, kn) in &self.retained {
                g.encode(out)?;
                write_key_and_nonce(kn, out)?;
            }
            Ok(())
        })
    }

    /// Appends `optional<NextSecret> next`.
    fn write_next(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        match &self.next {
            None => out.push(0),
            Some((j, secret)) => {
                out.push(1);
                j.encode(out)?;
                secret.encode(out)?;
            }
        }
        Ok(())
    }

    fn read_state(r: &mut Reader<'_>, config: &SecretTreeConfig) -> Result<Self, DecodeError> {
        let next = read_next(r)?;
        let mut body = r.read_vec_body()?;
        let mut retained = BTreeMap::new();
        while !body.is_empty() {
            let g = u32::decode(&mut body)?;
            if retained
                .last_key_value()
                .is_some_and(|(last, _)| g <= *last)
            {
                return Err(DecodeError::InvalidValue(
                    "secret tree: retained generations not increasing",
                ));
            }
            retained.insert(g, read_key_and_nonce(&mut body)?);
        }
        let ratchet = Self { next, retained };
        ratchet.check(config)?;
        Ok(ratchet)
    }

    /// Checks that the retained keys lie behind the ratchet and are within
    /// the bound.
    fn check(&self, config: &SecretTreeConfig) -> Result<(), DecodeError> {
        if let (Some((j, _)), Some((g, _))) = (&self.next, self.retained.last_key_value())
            && g >= j
        {
            return Err(DecodeError::InvalidValue(
                "secret tree: retained generation not behind its ratchet",
            ));
        }
        if self.retained.len() > config.max_retained_keys as usize {
            return Err(DecodeError::InvalidValue(
                "secret tree: more retained keys than allowed",
            ));
        }
        Ok(())
    }

    /// Whether every secret, key and nonce has the suite's length.
    fn lengths_ok(&self, nh: usize, nk: usize, nn: usize) -> bool {
        self.next.as_ref().is_none_or(|(_, s)| s.len() == nh)
            && self
                .retained
                .values()
                .all(|kn| kn.key.len() == nk && kn.nonce.len() == nn)
    }
}

impl SecretTree {
    /// Appends the tree's whole state (see the format above). The output
    /// holds secrets: the caller must keep it in zeroizing storage.
    pub(crate) fn write_state(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.cipher_suite.encode(out)?;
        self.size.leaf_count().encode(out)?;
        self.config.max_forward_distance.encode(out)?;
        self.config.max_retained_keys.encode(out)?;
        let mut nodes: Vec<_> = self.nodes.iter().collect();
        nodes.sort_unstable_by_key(|(n, _)| **n);
        write_vec_with(out, |out| {
            for (n, secret) in nodes {
                n.0.encode(out)?;
                secret.encode(out)?;
            }
            Ok(())
        })?;
        let mut leaves: Vec<_> = self.leaves.iter().collect();
        leaves.sort_unstable_by_key(|(l, _)| **l);
        write_vec_with(out, |out| {
            for (l, r) in leaves {
                l.0.encode(out)?;
                r.handshake.write_state(out)?;
                r.application.write_state(out)?;
            }
            Ok(())
        })
    }

    /// Reads what [`SecretTree::write_state`] wrote, checking the structure:
    /// a valid size, indices inside the tree and in increasing order, and
    /// every leaf covered exactly once, either by the stored secret of an
    /// ancestor (or of itself) or by its started ratchets. Secret lengths
    /// need the suite: see [`SecretTree::check_suite`].
    ///
    /// A `retired` tree (of a past epoch, see [`SecretTree::retire`]) may
    /// leave leaves uncovered; the caller retires it again to drop anything
    /// a state saved by an older build still holds.
    pub(crate) fn read_state(r: &mut Reader<'_>, retired: bool) -> Result<Self, DecodeError> {
        let (cipher_suite, size, config) = read_header(r)?;
        let mut nodes = HashMap::new();
        let mut body = r.read_vec_body()?;
        let mut last: Option<u32> = None;
        while !body.is_empty() {
            let n = u32::decode(&mut body)?;
            if last.is_some_and(|l| n <= l) {
                return Err(DecodeError::InvalidValue(
                    "secret tree: node indices out of order",
                ));
            }
            last = Some(n);
            nodes.insert(NodeIndex(n), Secret::decode(&mut body)?);
        }

        let mut leaves = HashMap::new();
        let mut body = r.read_vec_body()?;
        let mut last: Option<u32> = None;
        while !body.is_empty() {
            let l = u32::decode(&mut body)?;
            if last.is_some_and(|p| l <= p) {
                return Err(DecodeError::InvalidValue(
                    "secret tree: leaf indices out of order",
                ));
            }
            last = Some(l);
            let handshake = Ratchet::read_state(&mut body, &config)?;
            let application = Ratchet::read_state(&mut body, &config)?;
            leaves.insert(
                LeafIndex(l),
                LeafRatchets {
                    handshake,
                    application,
                },
            );
        }
        Self::assemble(cipher_suite, size, config, nodes, leaves, retired)
    }

    /// A tree from its parts, checking the structure: indices inside the
    /// tree, and every leaf covered exactly once, either by the stored secret
    /// of an ancestor (or of itself) or by its started ratchets (a `retired`
    /// tree may leave leaves uncovered).
    fn assemble(
        cipher_suite: CipherSuite,
        size: TreeSize,
        config: SecretTreeConfig,
        nodes: HashMap<NodeIndex, Secret>,
        leaves: HashMap<LeafIndex, LeafRatchets>,
        retired: bool,
    ) -> Result<Self, DecodeError> {
        // Each entry covers a half-open range of leaves.
        let mut covered: Vec<(u64, u64)> = Vec::with_capacity(nodes.len() + leaves.len());
        for n in nodes.keys() {
            if !size.contains(*n) {
                return Err(DecodeError::InvalidValue(
                    "secret tree: node index outside the tree",
                ));
            }
            let range = n.leaf_range();
            covered.push((u64::from(range.start), u64::from(range.end)));
        }
        for l in leaves.keys() {
            if !size.contains_leaf(*l) {
                return Err(DecodeError::InvalidValue(
                    "secret tree: leaf index outside the tree",
                ));
            }
            covered.push((u64::from(l.0), u64::from(l.0) + 1));
        }
        // Deriving a leaf's secret replaces a node's secret by its children's
        // along the way (§9), so the stored nodes and the started leaves
        // always partition the leaves (a retired tree drops some parts).
        covered.sort_unstable();
        let mut next = 0u64;
        for (start, end) in covered {
            if start < next || (start != next && !retired) {
                return Err(DecodeError::InvalidValue(
                    "secret tree: leaves not covered exactly once",
                ));
            }
            next = end;
        }
        if next > u64::from(size.leaf_count()) || (next != u64::from(size.leaf_count()) && !retired)
        {
            return Err(DecodeError::InvalidValue(
                "secret tree: leaves not covered exactly once",
            ));
        }
        Ok(Self {
            cipher_suite,
            size,
            config,
            nodes,
            leaves,
            retired,
            changes: 0,
        })
    }

    /// Checks that the tree belongs to `cs`'s suite and that every secret,
    /// key and nonce has that suite's length (`KDF.Nh`, `AEAD.Nk`, `AEAD.Nn`).
    pub(crate) fn check_suite(&self, cs: &dyn CipherSuiteProvider) -> Result<(), DecodeError> {
        let (nh, nk, nn) = (cs.kdf_len(), cs.aead_key_len(), cs.aead_nonce_len());
        let ok = self.cipher_suite == cs.cipher_suite()
            && self.nodes.values().all(|s| s.len() == nh)
            && self.leaves.values().all(|r| {
                r.handshake.lengths_ok(nh, nk, nn) && r.application.lengths_ok(nh, nk, nn)
            });
        if ok {
            Ok(())
        } else {
            Err(DecodeError::InvalidValue(
                "secret tree: suite or secret lengths",
            ))
        }
    }
}

/// `read` on all of `bytes`.
fn parse_whole<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let v = read(&mut r)?;
    r.finish()?;
    Ok(v)
}

/// `optional<NextSecret> next`.
fn read_next(r: &mut Reader<'_>) -> Result<Option<(u32, Secret)>, DecodeError> {
    match r.read_u8()? {
        0 => Ok(None),
        1 => Ok(Some((u32::decode(r)?, Secret::decode(r)?))),
        b => Err(DecodeError::InvalidOptional(b)),
    }
}

/// `opaque key<V>; opaque nonce<V>`.
fn write_key_and_nonce(kn: &KeyAndNonce, out: &mut Vec<u8>) -> Result<(), ApiError> {
    kn.key.encode(out)?;
    kn.nonce.encode(out)?;
    Ok(())
}

fn read_key_and_nonce(r: &mut Reader<'_>) -> Result<KeyAndNonce, DecodeError> {
    Ok(KeyAndNonce {
        key: Secret::decode(r)?,
        nonce: Secret::decode(r)?,
    })
}

/// The header of a tree's state: suite, size and bounds.
fn read_header(
    r: &mut Reader<'_>,
) -> Result<(CipherSuite, TreeSize, SecretTreeConfig), DecodeError> {
    let cipher_suite = CipherSuite::decode(r)?;
    let size =
        TreeSize::new(u32::decode(r)?).ok_or(DecodeError::InvalidValue("secret tree: size"))?;
    let config = SecretTreeConfig {
        max_forward_distance: u32::decode(r)?,
        max_retained_keys: u32::decode(r)?,
    };
    Ok((cipher_suite, size, config))
}

// --- Incremental persistence ----------------------------------------------
//
// For `group::incremental`: a tree stored as parts (`TreePart`), each a
// record of its own, after a header (the first four fields of
// `SecretTreeState`), so that a message rewrites only the parts it changed:
//
// ```text
// opaque node_secret[KDF.Nh];                        // TreePart::Node
// optional<NextSecret> next;                         // TreePart::Ratchet
// struct { opaque key<V>; opaque nonce<V>; } Kept;   // TreePart::RetainedKey
// ```
//
// A ratchet is its head (`TreePart::Ratchet`) and one part per key it keeps
// for an out-of-order message, so that a message in order rewrites the head
// only (about 40 bytes), one out of order deletes its key's part and leaves
// the rest, and one that skips generations writes the keys it skips. A
// retired tree has no handshake ratchet parts.

/// A part of a [`SecretTree`] that a store keeps as a record of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TreePart {
    /// A node secret.
    Node(NodeIndex),
    /// The head of a leaf's ratchet: its next generation and secret.
    Ratchet(LeafIndex, RatchetKind),
    /// A key a leaf's ratchet keeps for a message out of order.
    RetainedKey(LeafIndex, RatchetKind, u32),
}

impl RatchetKind {
    /// The other ratchet of a leaf.
    fn other(self) -> Self {
        match self {
            Self::Handshake => Self::Application,
            Self::Application => Self::Handshake,
        }
    }
}

/// The parts of a ratchet (head and kept keys).
fn ratchet_parts(
    leaf: LeafIndex,
    kind: RatchetKind,
    r: &Ratchet,
) -> impl Iterator<Item = TreePart> {
    core::iter::once(TreePart::Ratchet(leaf, kind)).chain(
        r.retained
            .keys()
            .map(move |g| TreePart::RetainedKey(leaf, kind, *g)),
    )
}

/// The generations kept by one ratchet and not the other, and the reverse.
fn retained_changes<'a>(
    before: impl Iterator<Item = &'a u32>,
    after: impl Iterator<Item = &'a u32>,
    mut changed: impl FnMut(u32),
) {
    let (mut a, mut b) = (before.peekable(), after.peekable());
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => return,
            (Some(x), Some(y)) if x == y => {
                a.next();
                b.next();
            }
            (Some(x), Some(y)) if x < y => {
                changed(**x);
                a.next();
            }
            (Some(x), None) => {
                changed(**x);
                a.next();
            }
            (_, Some(y)) => {
                changed(**y);
                b.next();
            }
        }
    }
}

impl SecretTree {
    /// The ratchets a store keeps: both of every started leaf, or in a
    /// retired tree only the application ratchets (the handshake ones are
    /// deleted).
    fn stored_ratchets(&self) -> impl Iterator<Item = (LeafIndex, RatchetKind, &Ratchet)> {
        let retired = self.retired;
        self.leaves.iter().flat_map(move |(l, r)| {
            let handshake = (!retired).then_some((*l, RatchetKind::Handshake, &r.handshake));
            handshake.into_iter().chain(core::iter::once((
                *l,
                RatchetKind::Application,
                &r.application,
            )))
        })
    }

    /// Every part of the tree, unordered.
    pub(crate) fn parts(&self) -> Vec<TreePart> {
        let mut parts: Vec<TreePart> = self.nodes.keys().map(|n| TreePart::Node(*n)).collect();
        for (l, kind, r) in self.stored_ratchets() {
            parts.extend(ratchet_parts(l, kind, r));
        }
        parts
    }

    /// Appends the value of `part`; `false` (nothing written) if the tree
    /// does not hold it. The output holds secrets.
    pub(crate) fn write_part(&self, part: TreePart, out: &mut Vec<u8>) -> Result<bool, ApiError> {
        let ratchet = |l: LeafIndex, kind: RatchetKind| {
            let stored = !(self.retired && kind == RatchetKind::Handshake);
            self.leaves.get(&l).filter(|_| stored).map(|r| r.get(kind))
        };
        match part {
            TreePart::Node(n) => match self.nodes.get(&n) {
                Some(s) => out.extend_from_slice(s.as_bytes()),
                None => return Ok(false),
            },
            TreePart::Ratchet(l, kind) => match ratchet(l, kind) {
                Some(r) => r.write_next(out)?,
                None => return Ok(false),
            },
            TreePart::RetainedKey(l, kind, g) => {
                match ratchet(l, kind).and_then(|r| r.retained.get(&g)) {
                    Some(kn) => write_key_and_nonce(kn, out)?,
                    None => return Ok(false),
                }
            }
        }
        Ok(true)
    }

    /// The node secrets starting `leaf`'s ratchets deletes or adds: the
    /// stored node that covers the leaf (deleted) and the siblings of the
    /// nodes on the way down from it (added). Empty if the leaf is started.
    fn nodes_changed_by_start(&self, leaf: LeafIndex) -> Vec<NodeIndex> {
        if self.leaves.contains_key(&leaf) || !self.size.contains_leaf(leaf) {
            return Vec::new();
        }
        let target = leaf.node();
        let Some(start) = core::iter::once(target)
            .chain(self.size.direct_path(target))
            .find(|n| self.nodes.contains_key(n))
        else {
            return Vec::new();
        };
        let mut nodes = vec![start];
        nodes.extend(descent_siblings(start, leaf).unwrap_or_default());
        nodes
    }

    /// The parts that taking the next key of `leaf`'s `kind` ratchet to
    /// send changes ([`SecretTree::next_key`]): its head, and if the leaf is
    /// not started yet the node secrets on its way and its other ratchet.
    pub(crate) fn parts_changed_by_send(
        &self,
        leaf: LeafIndex,
        kind: RatchetKind,
    ) -> Vec<TreePart> {
        let mut parts: Vec<TreePart> = self
            .nodes_changed_by_start(leaf)
            .into_iter()
            .map(TreePart::Node)
            .collect();
        if !parts.is_empty() {
            parts.push(TreePart::Ratchet(leaf, kind.other()));
        }
        parts.push(TreePart::Ratchet(leaf, kind));
        parts
    }

    /// The parts that applying `update` to this tree changes (written or
    /// deleted): the node secret consumed and those derived, the leaf's
    /// ratchets if it starts now, the touched ratchet's head if it moves, and
    /// each kept key added or dropped. In order, nothing but the head; out of
    /// order, only the key used.
    pub(crate) fn parts_changed_by(&self, update: &SecretTreeUpdate) -> Vec<TreePart> {
        let (leaf, kind) = (update.leaf, update.kind);
        let mut parts = Vec::new();
        let before = match &update.start {
            Some((start, _)) => {
                parts.push(TreePart::Node(start.consumed));
                parts.extend(start.derived.iter().map(|(n, _)| TreePart::Node(*n)));
                if !self.retired {
                    parts.push(TreePart::Ratchet(leaf, kind.other()));
                }
                None
            }
            None => self.leaves.get(&leaf).map(|r| r.get(kind)),
        };
        let head_moves = before.is_none_or(|b| {
            b.next.as_ref().map(|(j, _)| *j) != update.ratchet.next.as_ref().map(|(j, _)| *j)
        });
        if head_moves {
            parts.push(TreePart::Ratchet(leaf, kind));
        }
        let kept_before = before.into_iter().flat_map(|b| b.retained.keys());
        retained_changes(kept_before, update.ratchet.retained.keys(), |g| {
            parts.push(TreePart::RetainedKey(leaf, kind, g))
        });
        parts
    }

    /// [`SecretTree::retire`], returning the parts it deleted.
    pub(crate) fn retire_parts(
        &mut self,
        can_send: impl Fn(core::ops::Range<u32>) -> bool,
    ) -> Vec<TreePart> {
        let mut removed = Vec::new();
        for (l, r) in &self.leaves {
            if !can_send(l.0..l.0.saturating_add(1)) {
                removed.extend(ratchet_parts(*l, RatchetKind::Application, &r.application));
            }
            if !self.retired {
                removed.extend(ratchet_parts(*l, RatchetKind::Handshake, &r.handshake));
            }
        }
        removed.extend(
            self.nodes
                .keys()
                .filter(|n| !can_send(n.leaf_range()))
                .map(|n| TreePart::Node(*n)),
        );
        self.retire(can_send);
        removed
    }

    /// Appends the header: suite, leaf count and bounds.
    pub(crate) fn write_header(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.cipher_suite.encode(out)?;
        self.size.leaf_count().encode(out)?;
        self.config.max_forward_distance.encode(out)?;
        self.config.max_retained_keys.encode(out)
    }

    /// A tree from the header [`SecretTree::write_header`] wrote and the
    /// values [`SecretTree::write_part`] wrote, with the checks of
    /// [`SecretTree::read_state`] (each leaf covered exactly once unless
    /// `retired`, valid indices, kept keys behind their ratchet and within
    /// the bound). `legacy_leaves` are leaves saved whole by earlier builds
    /// (`RatchetState handshake; RatchetState application`), read as parts.
    /// A ratchet's kept key without its head is refused; so is a started
    /// leaf without both heads, or in a retired tree without its
    /// application head (its handshake head, kept by earlier builds, is
    /// accepted: retiring the tree again deletes it).
    pub(crate) fn from_parts(
        header: &[u8],
        parts: Vec<(TreePart, &[u8])>,
        legacy_leaves: Vec<(LeafIndex, &[u8])>,
        retired: bool,
    ) -> Result<Self, DecodeError> {
        let (cipher_suite, size, config) = {
            let mut r = Reader::new(header);
            let h = read_header(&mut r)?;
            r.finish()?;
            h
        };
        let repeated = || DecodeError::InvalidValue("secret tree: part repeated");
        let mut nodes = HashMap::new();
        let mut ratchets: BTreeMap<(LeafIndex, RatchetKind), Ratchet> = BTreeMap::new();
        let mut kept = Vec::new();
        for (part, bytes) in parts {
            match part {
                TreePart::Node(n) => {
                    if nodes.insert(n, Secret::from(bytes.to_vec())).is_some() {
                        return Err(repeated());
                    }
                }
                TreePart::Ratchet(l, kind) => {
                    let next = parse_whole(bytes, |r| {
                        Ok(Ratchet {
                            next: read_next(r)?,
                            retained: BTreeMap::new(),
                        })
                    })?;
                    if ratchets.insert((l, kind), next).is_some() {
                        return Err(repeated());
                    }
                }
                TreePart::RetainedKey(l, kind, g) => kept.push((l, kind, g, bytes)),
            }
        }
        for (l, bytes) in legacy_leaves {
            let (handshake, application) = parse_whole(bytes, |r| {
                let h = Ratchet::read_state(r, &config)?;
                Ok((h, Ratchet::read_state(r, &config)?))
            })?;
            for (kind, ratchet) in [
                (RatchetKind::Handshake, handshake),
                (RatchetKind::Application, application),
            ] {
                if ratchets.insert((l, kind), ratchet).is_some() {
                    return Err(repeated());
                }
            }
        }
        for (l, kind, g, bytes) in kept {
            let kn = parse_whole(bytes, read_key_and_nonce)?;
            let ratchet = ratchets
                .get_mut(&(l, kind))
                .ok_or(DecodeError::InvalidValue(
                    "secret tree: kept key of no ratchet",
                ))?;
            if ratchet.retained.insert(g, kn).is_some() {
                return Err(repeated());
            }
        }
        let mut leaves = HashMap::new();
        let mut ratchets = ratchets.into_iter().peekable();
        while let Some(((l, kind), first)) = ratchets.next() {
            first.check(&config)?;
            let application = match kind {
                RatchetKind::Application => None,
                RatchetKind::Handshake => ratchets.next_if(|((m, _), _)| *m == l).map(|(_, a)| a),
            };
            let r = match (kind, application) {
                (RatchetKind::Handshake, Some(application)) => {
                    application.check(&config)?;
                    LeafRatchets {
                        handshake: first,
                        application,
                    }
                }
                (RatchetKind::Application, _) if retired => LeafRatchets {
                    handshake: Ratchet::deleted(),
                    application: first,
                },
                _ => {
                    return Err(DecodeError::InvalidValue(
                        "secret tree: a started leaf lacks a ratchet",
                    ));
                }
            };
            leaves.insert(l, r);
        }
        Self::assemble(cipher_suite, size, config, nodes, leaves, retired)
    }
}

// A `SecretTreeUpdate` as a record (`SecretTreeUpdate::to_bytes`):
//
// ```text
// struct {
//     uint32 leaf;
//     uint8 ratchet_kind;              // 0 handshake, 1 application
//     uint32 generation;
//     optional<LeafStartState> start;  // the leaf's first key of the epoch
//     RatchetState ratchet;            // the touched ratchet, after
// } SecretTreeUpdateState;
// struct {
//     uint32 consumed;                 // the stored ancestor whose secret is deleted
//     NodeSecret derived<V>;           // the siblings met on the way down, top-down
//     RatchetState other;              // the leaf's other ratchet, fresh
// } LeafStartState;
// ```

impl SecretTreeUpdate {
    /// The update as a small record (see the format in the source), for a
    /// store that persists the secret tree message by message. It holds
    /// secrets: keep it encrypted, like the group state.
    pub fn to_bytes(&self) -> Result<Secret> {
        let mut out = zeroize::Zeroizing::new(Vec::new());
        self.leaf.0.encode(&mut out)?;
        out.push(match self.kind {
            RatchetKind::Handshake => 0,
            RatchetKind::Application => 1,
        });
        self.generation.encode(&mut out)?;
        match &self.start {
            None => out.push(0),
            Some((start, other)) => {
                out.push(1);
                start.consumed.0.encode(&mut out)?;
                write_vec_with(&mut out, |out| {
                    for (n, secret) in &start.derived {
                        n.0.encode(out)?;
                        secret.encode(out)?;
                    }
                    Ok(())
                })?;
                other.write_state(&mut out)?;
            }
        }
        self.ratchet.write_state(&mut out)?;
        Ok(Secret::from(out.to_vec()))
    }

    /// Reads a record written by [`SecretTreeUpdate::to_bytes`], checking
    /// the lengths of its secrets against `cs`'s suite. Whether it fits a
    /// tree is checked by [`SecretTree::apply`].
    pub fn from_bytes(cs: &dyn CipherSuiteProvider, bytes: &[u8]) -> Result<Self, DecodeError> {
        let bound = SecretTreeConfig {
            max_forward_distance: SecretTreeConfig::MAX_FORWARD_DISTANCE,
            max_retained_keys: SecretTreeConfig::MAX_RETAINED_KEYS,
        };
        let mut r = Reader::new(bytes);
        let leaf = LeafIndex(u32::decode(&mut r)?);
        let kind = match r.read_u8()? {
            0 => RatchetKind::Handshake,
            1 => RatchetKind::Application,
            _ => {
                return Err(DecodeError::InvalidValue(
                    "secret tree update: ratchet kind",
                ));
            }
        };
        let generation = u32::decode(&mut r)?;
        let start = match r.read_u8()? {
            0 => None,
            1 => {
                let consumed = NodeIndex(u32::decode(&mut r)?);
                let mut body = r.read_vec_body()?;
                let mut derived = Vec::new();
                while !body.is_empty() {
                    derived.push((
                        NodeIndex(u32::decode(&mut body)?),
                        Secret::decode(&mut body)?,
                    ));
                }
                let other = Ratchet::read_state(&mut r, &bound)?;
                Some((LeafStart { consumed, derived }, other))
            }
            b => return Err(DecodeError::InvalidOptional(b)),
        };
        let ratchet = Ratchet::read_state(&mut r, &bound)?;
        r.finish()?;
        let (nh, nk, nn) = (cs.kdf_len(), cs.aead_key_len(), cs.aead_nonce_len());
        let lengths_ok = ratchet.lengths_ok(nh, nk, nn)
            && start.as_ref().is_none_or(|(start, other)| {
                other.lengths_ok(nh, nk, nn) && start.derived.iter().all(|(_, s)| s.len() == nh)
            });
        if !lengths_ok {
            return Err(DecodeError::InvalidValue(
                "secret tree update: secret lengths",
            ));
        }
        Ok(Self {
            leaf,
            kind,
            generation,
            base: None,
            start,
            ratchet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RustCryptoProvider;

    fn cs() -> impl CipherSuiteProvider {
        RustCryptoProvider::new()
            .suite(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
            .unwrap()
    }

    fn tree(cs: &dyn CipherSuiteProvider, leaves: u32, config: SecretTreeConfig) -> SecretTree {
        SecretTree::new(
            cs,
            Secret::from(vec![7; 32]),
            TreeSize::new(leaves).unwrap(),
            config,
        )
    }

    fn config(max_forward_distance: u32, max_retained_keys: u32) -> SecretTreeConfig {
        SecretTreeConfig {
            max_forward_distance,
            max_retained_keys,
        }
    }

    fn err(r: Result<MessageKey>) -> Error {
        r.unwrap_err()
    }

    /// The first `n` keys of a leaf's application ratchet, in order.
    fn in_order(cs: &dyn CipherSuiteProvider, leaves: u32, leaf: u32, n: u32) -> Vec<MessageKey> {
        let mut t = tree(cs, leaves, SecretTreeConfig::default());
        (0..n)
            .map(|_| {
                t.next_key(cs, LeafIndex(leaf), RatchetKind::Application)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn out_of_order_within_window() {
        let cs = cs();
        let want = in_order(&cs, 4, 2, 8);
        let mut t = tree(&cs, 4, SecretTreeConfig::default());
        for g in [5u32, 3, 7, 0, 6, 1, 2, 4] {
            let k = t
                .key(&cs, LeafIndex(2), RatchetKind::Application, g)
                .unwrap();
            assert_eq!(k, want[g as usize]);
        }
        // The handshake ratchet is separate and gives different keys.
        let h = t.key(&cs, LeafIndex(2), RatchetKind::Handshake, 0).unwrap();
        assert_ne!(h.key, want[0].key);
    }

    #[test]
    fn refuses_generation_beyond_bound() {
        let cs = cs();
        let mut t = tree(&cs, 2, config(10, 5));
        let leaf = LeafIndex(1);
        assert_eq!(
            err(t.key(&cs, leaf, RatchetKind::Application, 11)),
            Error::Protocol(ProtocolError::GenerationTooFarAhead {
                requested: 11,
                current: 0,
                bound: 10
            })
        );
        // Refusing did not move the ratchet: the bound is still counted from 0.
        t.key(&cs, leaf, RatchetKind::Application, 10).unwrap();
        t.key(&cs, leaf, RatchetKind::Application, 21).unwrap();
        assert_eq!(
            err(t.key(&cs, leaf, RatchetKind::Application, 33)),
            Error::Protocol(ProtocolError::GenerationTooFarAhead {
                requested: 33,
                current: 22,
                bound: 10
            })
        );
        assert_eq!(
            err(t.key(&cs, leaf, RatchetKind::Application, u32::MAX)),
            Error::Protocol(ProtocolError::GenerationTooFarAhead {
                requested: u32::MAX,
                current: 22,
                bound: 10
            })
        );
    }

    #[test]
    fn refuses_key_already_used() {
        let cs = cs();
        let mut t = tree(&cs, 2, SecretTreeConfig::default());
        let leaf = LeafIndex(0);
        t.key(&cs, leaf, RatchetKind::Handshake, 0).unwrap();
        assert_eq!(
            err(t.key(&cs, leaf, RatchetKind::Handshake, 0)),
            Error::Protocol(ProtocolError::KeyAlreadyUsed(0))
        );
        // A retained key can be taken once only.
        t.key(&cs, leaf, RatchetKind::Handshake, 3).unwrap();
        t.key(&cs, leaf, RatchetKind::Handshake, 2).unwrap();
        assert_eq!(
            err(t.key(&cs, leaf, RatchetKind::Handshake, 2)),
            Error::Protocol(ProtocolError::KeyAlreadyUsed(2))
        );
        assert_eq!(
            err(t.key(&cs, leaf, RatchetKind::Handshake, 3)),
            Error::Protocol(ProtocolError::KeyAlreadyUsed(3))
        );
        // A key the sender took is gone too.
        let sent = t
            .next_key(&cs, LeafIndex(1), RatchetKind::Application)
            .unwrap();
        assert_eq!(sent.generation, 0);
        assert_eq!(
            err(t.key(&cs, LeafIndex(1), RatchetKind::Application, 0)),
            Error::Protocol(ProtocolError::KeyAlreadyUsed(0))
        );
        assert_eq!(
            t.next_key(&cs, LeafIndex(1), RatchetKind::Application)
                .unwrap()
                .generation,
            1
        );
    }

    #[test]
    fn retained_keys_limit() {
        let cs = cs();
        let want = in_order(&cs, 8, 5, 10);
        let mut t = tree(&cs, 8, config(100, 2));
        let leaf = LeafIndex(5);
        let k = t.key(&cs, leaf, RatchetKind::Application, 5).unwrap();
        assert_eq!(k, want[5]);
        // Only 3 and 4 were kept.
        for g in 0..3 {
            assert_eq!(
                err(t.key(&cs, leaf, RatchetKind::Application, g)),
                Error::Protocol(ProtocolError::KeyAlreadyUsed(g))
            );
        }
        // Skipping 6 and 7 pushes 3 and 4 out.
        assert_eq!(
            t.key(&cs, leaf, RatchetKind::Application, 8).unwrap(),
            want[8]
        );
        assert_eq!(
            err(t.key(&cs, leaf, RatchetKind::Application, 4)),
            Error::Protocol(ProtocolError::KeyAlreadyUsed(4))
        );
        assert_eq!(
            t.key(&cs, leaf, RatchetKind::Application, 7).unwrap(),
            want[7]
        );
        assert_eq!(
            t.key(&cs, leaf, RatchetKind::Application, 6).unwrap(),
            want[6]
        );
        // With no keys retained, skipped generations are simply gone.
        let mut t = tree(&cs, 8, config(100, 0));
        assert_eq!(
            t.key(&cs, leaf, RatchetKind::Application, 9).unwrap(),
            want[9]
        );
        assert_eq!(
            err(t.key(&cs, leaf, RatchetKind::Application, 8)),
            Error::Protocol(ProtocolError::KeyAlreadyUsed(8))
        );
    }

    #[test]
    fn leaf_out_of_range() {
        let cs = cs();
        let mut t = tree(&cs, 4, SecretTreeConfig::default());
        assert_eq!(
            err(t.key(&cs, LeafIndex(4), RatchetKind::Application, 0)),
            Error::Protocol(ProtocolError::LeafIndexOutOfRange(4))
        );
        assert_eq!(
            err(t.next_key(&cs, LeafIndex(u32::MAX), RatchetKind::Handshake)),
            Error::Protocol(ProtocolError::LeafIndexOutOfRange(u32::MAX))
        );
    }

    #[test]
    fn generation_exhausted() {
        let cs = cs();
        let mut r = Ratchet::new(Secret::from(vec![1; 32]));
        r.next = Some((u32::MAX, Secret::from(vec![1; 32])));
        let cfg = SecretTreeConfig::default();
        assert_eq!(r.key(&cs, u32::MAX, &cfg).unwrap().generation, u32::MAX);
        assert_eq!(
            err(r.next_key(&cs)),
            Error::Protocol(ProtocolError::GenerationExhausted)
        );
        assert_eq!(
            err(r.key(&cs, u32::MAX, &cfg)),
            Error::Protocol(ProtocolError::KeyAlreadyUsed(u32::MAX))
        );
    }

    #[test]
    fn derives_lazily_and_deletes_consumed_node_secrets() {
        let cs = cs();
        let leaves = 1 << 20;
        let mut t = tree(&cs, leaves, SecretTreeConfig::default());
        t.key(&cs, LeafIndex(12345), RatchetKind::Application, 0)
            .unwrap();
        // Only the 20 copath secrets of the leaf are held; the root and the
        // path secrets are deleted.
        assert_eq!(t.nodes.len(), 20);
        assert!(!t.nodes.contains_key(&t.size.root()));
        assert!(!t.nodes.contains_key(&LeafIndex(12345).node()));
        // Using every leaf of a small tree consumes every node secret.
        let mut t = tree(&cs, 8, SecretTreeConfig::default());
        for l in 0..8 {
            t.next_key(&cs, LeafIndex(l), RatchetKind::Handshake)
                .unwrap();
        }
        assert!(t.nodes.is_empty());
        assert_eq!(t.leaves.len(), 8);
    }

    #[test]
    fn lazy_order_does_not_matter() {
        let cs = cs();
        let mut a = tree(&cs, 16, SecretTreeConfig::default());
        let mut b = tree(&cs, 16, SecretTreeConfig::default());
        let forward: Vec<_> = (0..16)
            .map(|l| {
                a.next_key(&cs, LeafIndex(l), RatchetKind::Application)
                    .unwrap()
            })
            .collect();
        for l in (0..16).rev() {
            let k = b
                .next_key(&cs, LeafIndex(l), RatchetKind::Application)
                .unwrap();
            assert_eq!(k, forward[l as usize]);
        }
    }

    #[test]
    fn rejects_other_cipher_suite() {
        let cs = cs();
        let other = RustCryptoProvider::new()
            .suite(CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384)
            .unwrap();
        let mut t = tree(&cs, 2, SecretTreeConfig::default());
        assert!(matches!(
            err(t.next_key(&other, LeafIndex(0), RatchetKind::Handshake)),
            Error::Api(ApiError::InvalidArgument(_))
        ));
    }

    /// The tree's saved state, to compare trees.
    fn state(t: &SecretTree) -> Vec<u8> {
        let mut out = Vec::new();
        t.write_state(&mut out).unwrap();
        out
    }

    /// A copy of `t` (through its saved state).
    fn copy(t: &SecretTree) -> SecretTree {
        SecretTree::read_state(&mut Reader::new(&state(t)), t.retired).unwrap()
    }

    /// Issue 11, item 8: staging a key changes nothing; applying the update
    /// gives exactly the tree `key` gives, for a leaf's first key (node
    /// secrets derived), an in-order key, a skip ahead (keys retained) and a
    /// retained key.
    #[test]
    fn item8_stage_then_apply_is_key() {
        let cs = cs();
        let mut a = tree(&cs, 64, config(100, 8));
        let mut b = copy(&a);
        for (leaf, kind, generation) in [
            (5, RatchetKind::Application, 0),
            (5, RatchetKind::Application, 1),
            (5, RatchetKind::Application, 9),
            (5, RatchetKind::Application, 4),
            (40, RatchetKind::Handshake, 3),
            (41, RatchetKind::Application, 0),
            (40, RatchetKind::Handshake, 0),
        ] {
            let before = state(&b);
            let (key, update) = b.stage_key(&cs, LeafIndex(leaf), kind, generation).unwrap();
            assert_eq!(state(&b), before, "staging changed the tree");
            assert_eq!(
                (update.leaf(), update.ratchet_kind()),
                (LeafIndex(leaf), kind)
            );
            assert_eq!(update.generation(), generation);
            b.apply(update).unwrap();
            assert_eq!(key, a.key(&cs, LeafIndex(leaf), kind, generation).unwrap());
            assert_eq!(state(&b), state(&a));
        }
        // A failed stage changes nothing either.
        let before = state(&b);
        assert!(
            b.stage_key(&cs, LeafIndex(5), RatchetKind::Application, 1)
                .is_err()
        );
        assert!(
            b.stage_key(&cs, LeafIndex(7), RatchetKind::Application, 101)
                .is_err()
        );
        assert_eq!(state(&b), before);
    }

    /// Two updates staged from the same state: the second would bring back
    /// the key the first deleted (a replay), so it is refused.
    #[test]
    fn item8_stale_update_refused() {
        let cs = cs();
        let mut t = tree(&cs, 8, SecretTreeConfig::default());
        t.key(&cs, LeafIndex(2), RatchetKind::Application, 3)
            .unwrap();
        let (_, first) = t
            .stage_key(&cs, LeafIndex(2), RatchetKind::Application, 1)
            .unwrap();
        let (_, second) = t
            .stage_key(&cs, LeafIndex(2), RatchetKind::Application, 2)
            .unwrap();
        let (_, third) = t
            .stage_key(&cs, LeafIndex(6), RatchetKind::Application, 0)
            .unwrap();
        t.apply(first).unwrap();
        let before = state(&t);
        for stale in [second, third] {
            assert!(matches!(
                t.apply(stale),
                Err(Error::Api(ApiError::InvalidArgument(_)))
            ));
        }
        // A key sent in between makes staged updates stale too.
        let (_, staged) = t
            .stage_key(&cs, LeafIndex(2), RatchetKind::Application, 2)
            .unwrap();
        t.next_key(&cs, LeafIndex(3), RatchetKind::Handshake)
            .unwrap();
        let after_send = state(&t);
        assert!(t.apply(staged).is_err());
        assert_eq!(state(&t), after_send);
        assert_ne!(after_send, before);
    }

    /// The update is small whatever the number of ratchets started: one
    /// ratchet, plus at most log2 N node secrets for a leaf's first key.
    #[test]
    fn item8_update_size_independent_of_started_ratchets() {
        let cs = cs();
        let n = 1 << 12;
        let mut t = tree(&cs, n, SecretTreeConfig::default());
        let (_, first) = t
            .stage_key(&cs, LeafIndex(7), RatchetKind::Application, 0)
            .unwrap();
        let first_len = first.to_bytes().unwrap().as_bytes().len();
        // 12 sibling secrets (32 bytes each, with index and length), a
        // fresh other ratchet and the touched one.
        assert!(first_len < 12 * 40 + 200, "{first_len}");
        t.apply(first).unwrap();
        let (_, again) = t
            .stage_key(&cs, LeafIndex(7), RatchetKind::Application, 1)
            .unwrap();
        let small = again.to_bytes().unwrap().as_bytes().len();
        for l in 0..n {
            t.next_key(&cs, LeafIndex(l), RatchetKind::Application)
                .unwrap();
        }
        assert_eq!(t.leaves.len(), n as usize);
        let (_, update) = t
            .stage_key(&cs, LeafIndex(9), RatchetKind::Application, 1)
            .unwrap();
        assert!(update.start.is_none());
        assert_eq!(update.to_bytes().unwrap().as_bytes().len(), small);
        assert!(small < 64, "{small}");
    }

    /// A record read back applies like the update itself, on a copy of the
    /// tree saved before it; records that do not fit are refused.
    #[test]
    fn item8_update_records_round_trip() {
        let cs = cs();
        let mut live = tree(&cs, 32, config(50, 4));
        live.key(&cs, LeafIndex(1), RatchetKind::Application, 0)
            .unwrap();
        let mut saved = copy(&live);
        let mut records = Vec::new();
        for (leaf, generation) in [(1, 6), (1, 3), (20, 2), (21, 0), (1, 12)] {
            let (_, u) = live
                .stage_key(&cs, LeafIndex(leaf), RatchetKind::Application, generation)
                .unwrap();
            records.push(u.to_bytes().unwrap());
            live.apply(u).unwrap();
        }
        for r in &records {
            let u = SecretTreeUpdate::from_bytes(&cs, r.as_bytes()).unwrap();
            assert_eq!(u.to_bytes().unwrap(), *r);
            saved.apply(u).unwrap();
        }
        assert_eq!(state(&saved), state(&live));
        // The first-key record of leaf 20 applied again: the leaf is started.
        let again = SecretTreeUpdate::from_bytes(&cs, records[2].as_bytes()).unwrap();
        assert!(saved.apply(again).is_err());
        // On a tree where leaf 20's secret comes from elsewhere: refused.
        let mut other = tree(&cs, 32, config(50, 4));
        other
            .key(&cs, LeafIndex(16), RatchetKind::Handshake, 0)
            .unwrap();
        let misfit = SecretTreeUpdate::from_bytes(&cs, records[2].as_bytes()).unwrap();
        let before = state(&other);
        assert!(other.apply(misfit).is_err());
        assert_eq!(state(&other), before);
        // A record for a leaf not started, without its start: refused.
        let mut fresh = tree(&cs, 32, config(50, 4));
        let plain = SecretTreeUpdate::from_bytes(&cs, records[0].as_bytes()).unwrap();
        assert!(fresh.apply(plain).is_err());
        // Truncated or with trailing bytes, or for another suite: refused.
        let r = records[2].as_bytes();
        assert!(SecretTreeUpdate::from_bytes(&cs, &r[..r.len() - 1]).is_err());
        assert!(SecretTreeUpdate::from_bytes(&cs, &[r, &[0]].concat()).is_err());
        let p384 = RustCryptoProvider::new()
            .suite(CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384)
            .unwrap();
        assert!(SecretTreeUpdate::from_bytes(&p384, r).is_err());
    }

    /// Issue 11, item 8: the bounds are bounded.
    #[test]
    fn item8_config_bounds_validated() {
        assert_eq!(SecretTreeConfig::default().validate(), Ok(()));
        let max = config(
            SecretTreeConfig::MAX_FORWARD_DISTANCE,
            SecretTreeConfig::MAX_RETAINED_KEYS,
        );
        assert_eq!(max.validate(), Ok(()));
        assert_eq!(
            config(SecretTreeConfig::MAX_FORWARD_DISTANCE + 1, 0).validate(),
            Err(ApiError::ConfigOutOfRange {
                field: "SecretTreeConfig.max_forward_distance",
                value: u64::from(SecretTreeConfig::MAX_FORWARD_DISTANCE) + 1,
                min: 0,
                max: SecretTreeConfig::MAX_FORWARD_DISTANCE.into(),
            })
        );
        assert_eq!(
            config(10, u32::MAX).validate(),
            Err(ApiError::ConfigOutOfRange {
                field: "SecretTreeConfig.max_retained_keys",
                value: u32::MAX.into(),
                min: 0,
                max: SecretTreeConfig::MAX_RETAINED_KEYS.into(),
            })
        );
    }

    /// Issue 11, item 9: a retired tree keeps the application keys of the
    /// leaves that can send, started or not, and nothing else.
    #[test]
    fn item9_retired_tree_keeps_application_keys_of_senders_only() {
        let cs = cs();
        let senders = [1u32, 2, 3, 5, 9];
        let can_send = |r: core::ops::Range<u32>| senders.iter().any(|s| r.contains(s));
        let mut full = tree(&cs, 16, config(20, 4));
        for (leaf, kind, g) in [
            (0, RatchetKind::Application, 0),
            (1, RatchetKind::Handshake, 2),
            (1, RatchetKind::Application, 3),
            (5, RatchetKind::Application, 0),
            (12, RatchetKind::Handshake, 0),
        ] {
            full.key(&cs, LeafIndex(leaf), kind, g).unwrap();
        }
        let mut past = copy(&full);
        past.retire(can_send);
        assert!(past.is_retired());
        // What is left: the senders' started leaves, without handshake
        // ratchets, and node secrets over senders only.
        let mut started: Vec<u32> = past.leaves.keys().map(|l| l.0).collect();
        started.sort_unstable();
        assert_eq!(started, [1, 5]);
        for r in past.leaves.values() {
            assert!(r.handshake.next.is_none() && r.handshake.retained.is_empty());
        }
        assert!(!past.nodes.is_empty());
        for n in past.nodes.keys() {
            assert!(can_send(n.leaf_range()), "node {n:?}");
        }
        assert!(past.nodes.len() < full.nodes.len());
        // Application keys of senders are those of the full tree: retained,
        // next, and of leaves not started yet (keeping only the node
        // secrets over senders, as a past epoch does).
        for (leaf, g) in [(1, 1), (1, 4), (5, 2), (2, 0), (3, 7), (9, 1)] {
            let want = full.key(&cs, LeafIndex(leaf), RatchetKind::Application, g);
            let (got, mut update) = past
                .stage_key(&cs, LeafIndex(leaf), RatchetKind::Application, g)
                .unwrap();
            update.retain_node_secrets(can_send);
            past.apply(update).unwrap();
            assert_eq!(got, want.unwrap(), "leaf {leaf} generation {g}");
        }
        for n in past.nodes.keys() {
            assert!(can_send(n.leaf_range()), "node {n:?}");
        }
        // A sender started in the retired tree gets no handshake ratchet.
        assert!(past.leaves[&LeafIndex(9)].handshake.next.is_none());
        // Everything else is deleted.
        for (leaf, kind, g) in [
            (1, RatchetKind::Handshake, 3),
            (2, RatchetKind::Handshake, 0),
            (0, RatchetKind::Application, 1),
            (12, RatchetKind::Application, 0),
            (15, RatchetKind::Application, 0),
        ] {
            assert_eq!(
                err(past.key(&cs, LeafIndex(leaf), kind, g)),
                Error::Protocol(ProtocolError::KeyAlreadyUsed(g)),
                "leaf {leaf} {kind:?}"
            );
        }
        assert!(matches!(
            err(past.next_key(&cs, LeafIndex(1), RatchetKind::Application)),
            Error::Api(_)
        ));
        // Saved and read back as retired; retiring again changes nothing.
        let saved = state(&past);
        assert_eq!(state(&copy(&past)), saved);
        assert!(SecretTree::read_state(&mut Reader::new(&saved), false).is_err());
        past.retire(can_send);
        assert_eq!(state(&past), saved);
        // A staged handshake update cannot be applied to a retired tree.
        let (_, u) = full
            .stage_key(&cs, LeafIndex(3), RatchetKind::Handshake, 0)
            .unwrap();
        let u = SecretTreeUpdate::from_bytes(&cs, u.to_bytes().unwrap().as_bytes()).unwrap();
        assert!(past.apply(u).is_err());
    }
}
