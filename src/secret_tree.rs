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
//!   for a generation is refused with [`ProtocolError::KeyAlreadyUsed`].
//!
//! Keys of generations skipped over (messages that may still arrive out of
//! order) are kept, at most [`SecretTreeConfig::max_retained_keys`] per
//! ratchet, oldest dropped first; a generation more than
//! [`SecretTreeConfig::max_forward_distance`] ahead of a ratchet is refused
//! with [`ProtocolError::GenerationTooFarAhead`] so that a message cannot make
//! a member derive an unbounded number of keys.

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

impl Default for SecretTreeConfig {
    fn default() -> Self {
        Self {
            max_forward_distance: 1000,
            max_retained_keys: 128,
        }
    }
}

/// Which of a leaf's two ratchets (RFC 9420 §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Starts both ratchets from the leaf's secret (RFC 9420 §9).
    fn start(cs: &dyn CipherSuiteProvider, leaf_secret: &Secret) -> Result<Self> {
        Ok(Self {
            handshake: Ratchet::new(Self::ratchet_secret(
                cs,
                leaf_secret,
                RatchetKind::Handshake,
            )?),
            application: Ratchet::new(Self::ratchet_secret(
                cs,
                leaf_secret,
                RatchetKind::Application,
            )?),
        })
    }

    /// `ExpandWithLabel(leaf_secret, "handshake" | "application", "", KDF.Nh)`.
    fn ratchet_secret(
        cs: &dyn CipherSuiteProvider,
        leaf_secret: &Secret,
        kind: RatchetKind,
    ) -> Result<Secret> {
        let label: &[u8] = match kind {
            RatchetKind::Handshake => b"handshake",
            RatchetKind::Application => b"application",
        };
        expand_with_label(cs, leaf_secret.as_bytes(), label, &[], nh(cs)?)
    }

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
    /// when it is returned (§9.2).
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
        let config = self.config;
        self.ratchet(cs, leaf, kind)?.key(cs, generation, &config)
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
    /// errors as `next_key`.
    pub(crate) fn prepare_next_key(
        &self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
    ) -> Result<PreparedKey> {
        self.check_leaf(cs, leaf)?;
        let (started, ratchet) = match self.leaves.get(&leaf) {
            Some(r) => (None, r.get(kind).prepare_next_key(cs)?),
            None => {
                let (descent, leaf_secret) = self.descend(cs, leaf)?;
                let ratchets = LeafRatchets::start(cs, &leaf_secret)?;
                let prepared = ratchets.get(kind).prepare_next_key(cs)?;
                (Some((descent, ratchets)), prepared)
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
        if let Some((descent, ratchets)) = started {
            self.nodes.remove(&descent.start);
            self.nodes.extend(descent.siblings);
            self.leaves.insert(leaf, ratchets);
        }
        if let Some(r) = self.leaves.get_mut(&leaf) {
            r.get_mut(kind).next = next;
        }
        key
    }

    /// Fails unless `cs` is this tree's suite and `leaf` is in the tree.
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

    /// The ratchet of a leaf, started from the leaf's secret if need be.
    fn ratchet(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
    ) -> Result<&mut Ratchet> {
        self.check_leaf(cs, leaf)?;
        if !self.leaves.contains_key(&leaf) {
            let ratchets = self.start_ratchets(cs, leaf)?;
            self.leaves.insert(leaf, ratchets);
        }
        self.leaves
            .get_mut(&leaf)
            .map(|r| r.get_mut(kind))
            .ok_or(Error::Internal("leaf ratchets missing after start"))
    }

    /// Derives a leaf's secret from its nearest stored ancestor, keeping the
    /// siblings met on the way and deleting every secret consumed, then
    /// starts the leaf's ratchets (RFC 9420 §9, Figures 25 and 26).
    fn start_ratchets(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
    ) -> Result<LeafRatchets> {
        let (descent, leaf_secret) = self.descend(cs, leaf)?;
        let ratchets = LeafRatchets::start(cs, &leaf_secret)?;
        self.nodes.remove(&descent.start);
        self.nodes.extend(descent.siblings);
        Ok(ratchets)
    }

    /// The descent from a leaf's nearest stored ancestor to the leaf, without
    /// changing the tree: the secrets of the siblings met on the way (which
    /// the tree keeps once the ancestor's secret is consumed) and the leaf's
    /// secret.
    fn descend(&self, cs: &dyn CipherSuiteProvider, leaf: LeafIndex) -> Result<(Descent, Secret)> {
        let target = leaf.node();
        let start = core::iter::once(target)
            .chain(self.size.direct_path(target))
            .find(|n| self.nodes.contains_key(n))
            .ok_or(Error::Internal("no secret-tree node covers the leaf"))?;
        let mut node = start;
        let mut secret = self
            .nodes
            .get(&start)
            .cloned()
            .ok_or(Error::Internal("secret-tree node vanished"))?;
        let mut siblings = Vec::new();
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
            siblings.push((other, other_secret));
            node = next;
            secret = next_secret;
        }
        Ok((Descent { start, siblings }, secret))
    }
}

// --- Incremental persistence ----------------------------------------------
//
// For `group::incremental`: the tree stored as pieces, one per node secret
// and one per started leaf (its two ratchets, `RatchetState handshake;
// RatchetState application`), after a header (`SecretTreeHeader`: the first
// four fields of `SecretTreeState` below). Reading the pieces back assembles
// a `SecretTreeState` and reads it with `read_state`, so the same checks run.

impl SecretTree {
    /// Whether the ratchets of `leaf` have been started.
    pub(crate) fn is_started(&self, leaf: LeafIndex) -> bool {
        self.leaves.contains_key(&leaf)
    }

    /// The node secrets starting `leaf`'s ratchets would delete or add: the
    /// stored node that covers the leaf (deleted) and the siblings of the
    /// nodes on the way down from it (added). Empty if the leaf is started.
    pub(crate) fn nodes_changed_by_start(&self, leaf: LeafIndex) -> Vec<NodeIndex> {
        if self.is_started(leaf) || !self.size.contains_leaf(leaf) {
            return Vec::new();
        }
        let target = leaf.node();
        let mut below = Vec::new();
        for n in core::iter::once(target).chain(self.size.direct_path(target)) {
            if self.nodes.contains_key(&n) {
                below.push(n);
                return below;
            }
            below.extend(self.size.sibling(n));
        }
        Vec::new()
    }

    /// The indices of the node secrets held.
    pub(crate) fn node_indices(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.nodes.keys().copied()
    }

    /// The leaves whose ratchets are started.
    pub(crate) fn started_leaves(&self) -> impl Iterator<Item = LeafIndex> + '_ {
        self.leaves.keys().copied()
    }

    /// The secret of node `n`, if held.
    pub(crate) fn node_secret(&self, n: NodeIndex) -> Option<&Secret> {
        self.nodes.get(&n)
    }

    /// Appends the state of `leaf`'s two ratchets; `false` (nothing
    /// written) if they are not started. The output holds secrets.
    pub(crate) fn write_leaf_state(
        &self,
        leaf: LeafIndex,
        out: &mut Vec<u8>,
    ) -> Result<bool, ApiError> {
        let Some(r) = self.leaves.get(&leaf) else {
            return Ok(false);
        };
        r.handshake.write_state(out)?;
        r.application.write_state(out)?;
        Ok(true)
    }

    /// Appends the header: suite, leaf count and bounds.
    pub(crate) fn write_header(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.cipher_suite.encode(out)?;
        self.size.leaf_count().encode(out)?;
        self.config.max_forward_distance.encode(out)?;
        self.config.max_retained_keys.encode(out)
    }

    /// A tree from the header [`SecretTree::write_header`] wrote, its node
    /// secrets and the states [`SecretTree::write_leaf_state`] wrote, with
    /// the checks of [`SecretTree::read_state`] (each leaf covered exactly
    /// once, valid indices, bounds).
    pub(crate) fn from_pieces(
        header: &[u8],
        mut nodes: Vec<(NodeIndex, &[u8])>,
        mut leaves: Vec<(LeafIndex, &[u8])>,
    ) -> Result<Self, DecodeError> {
        nodes.sort_unstable_by_key(|(n, _)| *n);
        leaves.sort_unstable_by_key(|(l, _)| *l);
        // Each leaf's piece must be exactly its two ratchets, so that one
        // piece cannot stand for others once the pieces are assembled.
        let mut r = Reader::new(header);
        let _ = CipherSuite::decode(&mut r)?;
        let _ = u32::decode(&mut r)?;
        let config = SecretTreeConfig {
            max_forward_distance: u32::decode(&mut r)?,
            max_retained_keys: u32::decode(&mut r)?,
        };
        r.finish()?;
        for (_, body) in &leaves {
            let mut r = Reader::new(body);
            Ratchet::read_state(&mut r, &config)?;
            Ratchet::read_state(&mut r, &config)?;
            r.finish()?;
        }
        let too_large = |_| DecodeError::InvalidValue("secret tree: too large");
        let mut state = zeroize::Zeroizing::new(header.to_vec());
        write_vec_with(&mut state, |out| {
            for (n, secret) in &nodes {
                n.0.encode(out)?;
                crate::codec::write_opaque(out, secret)?;
            }
            Ok(())
        })
        .map_err(too_large)?;
        write_vec_with(&mut state, |out| {
            for (l, body) in &leaves {
                l.0.encode(out)?;
                out.extend_from_slice(body);
            }
            Ok(())
        })
        .map_err(too_large)?;
        let mut r = Reader::new(&state);
        let tree = Self::read_state(&mut r)?;
        r.finish()?;
        Ok(tree)
    }
}

/// What deriving a leaf's secret changes in the tree: the ancestor whose
/// secret it consumes, and the siblings' secrets it keeps.
struct Descent {
    start: NodeIndex,
    siblings: Vec<(NodeIndex, Secret)>,
}

/// A sending key computed from a [`SecretTree`] and not yet taken from it
/// (see [`SecretTree::prepare_next_key`]).
pub(crate) struct PreparedKey {
    /// The key and nonce to encrypt with.
    pub key: MessageKey,
    leaf: LeafIndex,
    kind: RatchetKind,
    /// The leaf's ratchets, if they are started by taking the key.
    started: Option<(Descent, LeafRatchets)>,
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
        match &self.next {
            None => out.push(0),
            Some((j, secret)) => {
                out.push(1);
                j.encode(out)?;
                secret.encode(out)?;
            }
        }
        write_vec_with(out, |out| {
            for (g, kn) in &self.retained {
                g.encode(out)?;
                kn.key.encode(out)?;
                kn.nonce.encode(out)?;
            }
            Ok(())
        })
    }

    fn read_state(r: &mut Reader<'_>, config: &SecretTreeConfig) -> Result<Self, DecodeError> {
        let next = match r.read_u8()? {
            0 => None,
            1 => Some((u32::decode(r)?, Secret::decode(r)?)),
            b => return Err(DecodeError::InvalidOptional(b)),
        };
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
            if matches!(&next, Some((j, _)) if g >= *j) {
                return Err(DecodeError::InvalidValue(
                    "secret tree: retained generation not behind its ratchet",
                ));
            }
            let key = Secret::decode(&mut body)?;
            let nonce = Secret::decode(&mut body)?;
            retained.insert(g, KeyAndNonce { key, nonce });
        }
        if retained.len() > config.max_retained_keys as usize {
            return Err(DecodeError::InvalidValue(
                "secret tree: more retained keys than allowed",
            ));
        }
        Ok(Self { next, retained })
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
    pub(crate) fn read_state(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let cipher_suite = CipherSuite::decode(r)?;
        let size =
            TreeSize::new(u32::decode(r)?).ok_or(DecodeError::InvalidValue("secret tree: size"))?;
        let config = SecretTreeConfig {
            max_forward_distance: u32::decode(r)?,
            max_retained_keys: u32::decode(r)?,
        };
        // Each entry covers a half-open range of leaves; checked below.
        let mut covered: Vec<(u64, u64)> = Vec::new();

        let mut nodes = HashMap::new();
        let mut body = r.read_vec_body()?;
        let mut last: Option<u32> = None;
        while !body.is_empty() {
            let n = u32::decode(&mut body)?;
            if last.is_some_and(|l| n <= l) || !size.contains(NodeIndex(n)) {
                return Err(DecodeError::InvalidValue(
                    "secret tree: node index out of order or outside the tree",
                ));
            }
            last = Some(n);
            let range = NodeIndex(n).leaf_range();
            covered.push((u64::from(range.start), u64::from(range.end)));
            nodes.insert(NodeIndex(n), Secret::decode(&mut body)?);
        }

        let mut leaves = HashMap::new();
        let mut body = r.read_vec_body()?;
        let mut last: Option<u32> = None;
        while !body.is_empty() {
            let l = u32::decode(&mut body)?;
            if last.is_some_and(|p| l <= p) || !size.contains_leaf(LeafIndex(l)) {
                return Err(DecodeError::InvalidValue(
                    "secret tree: leaf index out of order or outside the tree",
                ));
            }
            last = Some(l);
            covered.push((u64::from(l), u64::from(l) + 1));
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

        // Deriving a leaf's secret replaces a node's secret by its children's
        // along the way (§9), so the stored nodes and the started leaves
        // always partition the leaves.
        covered.sort_unstable();
        let mut next = 0u64;
        for (start, end) in covered {
            if start != next {
                return Err(DecodeError::InvalidValue(
                    "secret tree: leaves not covered exactly once",
                ));
            }
            next = end;
        }
        if next != u64::from(size.leaf_count()) {
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
}
