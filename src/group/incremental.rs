//! Saving a member's group state in pieces, and writing only the pieces that
//! changed: see [`StatePiece`] and [`Group::take_state_changes`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::epoch::{EpochKeys, PastEpoch};
use super::own_messages::{DIGEST_LEN, OwnMessages, SentMessage};
use super::persist::{
    ensure, parse, read_config, read_list, read_pending_commit, read_tree, write_config,
    write_list, write_pending_commit,
};
use super::process::StagedFrom;
use super::{CachedProposal, Group};
use crate::codec::{Decode, Encode, Reader, write_opaque};
use crate::crypto::{CryptoProvider, Secret, SignaturePrivateKey, Tag};
use crate::error::{DecodeError, Error, Result};
use crate::key_schedule::{ExporterSecret, ExternalSecret, InitSecret, SenderDataSecret};
use crate::messages::{GroupContext, Proposal, ProposalRef, ReInit, Sender};
use crate::secret_tree::{RatchetKind, SecretTree, TreePart};
use crate::tree::{RatchetTree, TreePrivateKeys};
use crate::tree_math::{LeafIndex, NodeIndex};

/// The format version of the epoch piece: 2 since the config holds
/// `max_group_size` (version 1, without it, is still read).
const EPOCH_PIECE_VERSION: u16 = 2;

/// One piece of a member's group state, saved and written on its own.
///
/// [`Group::to_bytes`] writes the whole state: at 10,000 members several
/// megabytes, mostly ratchet trees, to be written again after every message
/// to keep forward secrecy on disk. Here the same state is cut into
/// [`StatePiece`]s, each written when it changes and deleted when it is gone:
///
/// | piece | holds | written | deleted |
/// |---|---|---|---|
/// | [`StatePiece::Epoch`] | config, group context, transcript hashes, own leaf, signature key, path keys, epoch secrets, resumption PSKs, the list of kept past epochs | once per epoch | with the group |
/// | [`StatePiece::Tree`] | the ratchet tree of an epoch (public) | when the epoch starts | when the epoch is no longer kept |
/// | [`StatePiece::PastEpoch`] | a kept past epoch: its context and sender-data secret | when the epoch ends | when it ages out |
/// | [`StatePiece::SecretTreeNode`] | one node secret of an epoch's secret tree (RFC 9420 §9) | when derived | when consumed (§9.2) |
/// | [`StatePiece::SenderRatchet`] | the head of one of a leaf's two sender ratchets (its next generation and secret) | when the ratchet starts or moves on | when its epoch is no longer kept, or its epoch ends (handshake ratchets, ratchets of leaves that cannot send) |
/// | [`StatePiece::RetainedKey`] | one key a sender ratchet keeps for a message out of order | when a message skips its generation | when used, dropped (the oldest beyond [`SecretTreeConfig::max_retained_keys`](crate::secret_tree::SecretTreeConfig)) or its ratchet is |
/// | [`StatePiece::Proposal`] | a cached proposal | when received or sent | when the epoch ends or it is dropped |
/// | [`StatePiece::PendingCommit`] | this member's commit awaiting merge | when committing | on merge or discard |
/// | [`StatePiece::SentMessage`] | the digest of a PrivateMessage this member sent | when sent | when it leaves the window or its epoch is no longer kept |
///
/// A received application message in order changes one
/// [`StatePiece::SenderRatchet`] (about 40 bytes); one out of order deletes
/// the [`StatePiece::RetainedKey`] it used and writes nothing; one that
/// skips generations also writes a [`StatePiece::RetainedKey`] per key it
/// skips (at most
/// [`SecretTreeConfig::max_retained_keys`](crate::secret_tree::SecretTreeConfig))
/// and deletes those that fall out. The sender's first message in the epoch
/// also writes its other ratchet and the few node secrets on its path (at
/// most 2 log2 N). Nothing grows with the group's size, and the key a
/// message used is deleted on disk in the same write (RFC 9420 §9.2).
///
/// [`StatePiece::LegacySenderRatchets`] pieces, written by earlier builds,
/// are read by [`Group::from_pieces`] and replaced by the pieces above in
/// the next [`Group::take_state_changes`]; so are epoch pieces of version 1.
///
/// [`Group::take_state_changes`] returns the pieces written and deleted since
/// it was last called; the application (or [`crate::client`]) writes them
/// in one atomic batch. [`Group::state_pieces`] returns all pieces and
/// [`Group::from_pieces`] rebuilds the group from them, with the checks of
/// [`Group::from_bytes`]. A group rebuilt from its pieces serializes with
/// [`Group::to_bytes`] to the same bytes as the group that wrote them.
///
/// Every value is encoded like the rest of MLS (RFC 9420 §2.1); the epoch
/// piece starts with a `uint16` format version (2).
///
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatePiece {
    /// The state of the current epoch, except the pieces below.
    Epoch,
    /// The ratchet tree of an epoch (the current one or a kept past one).
    Tree {
        /// The epoch.
        epoch: u64,
    },
    /// What is kept of a past epoch besides its tree and secret tree.
    PastEpoch {
        /// The epoch.
        epoch: u64,
    },
    /// A node secret of an epoch's secret tree.
    SecretTreeNode {
        /// The epoch.
        epoch: u64,
        /// The node.
        node: NodeIndex,
    },
    /// The head of one of a leaf's sender ratchets in an epoch's secret
    /// tree.
    SenderRatchet {
        /// The epoch.
        epoch: u64,
        /// The leaf.
        leaf: LeafIndex,
        /// Which of its ratchets.
        ratchet: RatchetKind,
    },
    /// A key a leaf's sender ratchet keeps for a message out of order.
    RetainedKey {
        /// The epoch.
        epoch: u64,
        /// The leaf.
        leaf: LeafIndex,
        /// Which of its ratchets.
        ratchet: RatchetKind,
        /// The key's generation.
        generation: u32,
    },
    /// A leaf's two sender ratchets with their kept keys, as earlier builds
    /// saved them: read, never written (replaced by
    /// [`StatePiece::SenderRatchet`] and [`StatePiece::RetainedKey`] pieces
    /// in the next changes).
    LegacySenderRatchets {
        /// The epoch.
        epoch: u64,
        /// The leaf.
        leaf: LeafIndex,
    },
    /// A proposal cached for the next commit.
    Proposal(ProposalRef),
    /// This member's commit awaiting merge.
    PendingCommit,
    /// A PrivateMessage this member sent lately, by its epoch and digest, to
    /// recognise its echo (see [`OWN_MESSAGE_WINDOW`](super::OWN_MESSAGE_WINDOW)).
    SentMessage {
        /// The epoch it was sent in.
        epoch: u64,
        /// The digest of the message.
        digest: [u8; DIGEST_LEN],
    },
}

/// The kinds of [`StatePiece`]: what a store keeps apart (a table, say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PieceKind {
    /// [`StatePiece::Epoch`].
    Epoch,
    /// [`StatePiece::Tree`].
    Tree,
    /// [`StatePiece::PastEpoch`].
    PastEpoch,
    /// [`StatePiece::SecretTreeNode`].
    SecretTreeNode,
    /// [`StatePiece::SenderRatchet`].
    SenderRatchet,
    /// [`StatePiece::RetainedKey`].
    RetainedKey,
    /// [`StatePiece::LegacySenderRatchets`] (read, never written).
    LegacySenderRatchets,
    /// [`StatePiece::Proposal`].
    Proposal,
    /// [`StatePiece::PendingCommit`].
    PendingCommit,
    /// [`StatePiece::SentMessage`].
    SentMessage,
}

impl PieceKind {
    /// Every kind.
    pub const ALL: [PieceKind; 10] = [
        PieceKind::Epoch,
        PieceKind::Tree,
        PieceKind::PastEpoch,
        PieceKind::SecretTreeNode,
        PieceKind::SenderRatchet,
        PieceKind::RetainedKey,
        PieceKind::LegacySenderRatchets,
        PieceKind::Proposal,
        PieceKind::PendingCommit,
        PieceKind::SentMessage,
    ];
}

impl StatePiece {
    /// The piece's kind.
    pub fn kind(&self) -> PieceKind {
        match self {
            Self::Epoch => PieceKind::Epoch,
            Self::Tree { .. } => PieceKind::Tree,
            Self::PastEpoch { .. } => PieceKind::PastEpoch,
            Self::SecretTreeNode { .. } => PieceKind::SecretTreeNode,
            Self::SenderRatchet { .. } => PieceKind::SenderRatchet,
            Self::RetainedKey { .. } => PieceKind::RetainedKey,
            Self::LegacySenderRatchets { .. } => PieceKind::LegacySenderRatchets,
            Self::Proposal(_) => PieceKind::Proposal,
            Self::PendingCommit => PieceKind::PendingCommit,
            Self::SentMessage { .. } => PieceKind::SentMessage,
        }
    }

    /// The piece's key within its kind: empty for the epoch and the pending
    /// commit, the big-endian epoch, then the big-endian node or leaf index
    /// (then for a ratchet a byte, 0 handshake or 1 application, and for a
    /// kept key its big-endian generation), the digest of a sent message, or
    /// the proposal reference. Keys of one epoch sort together.
    ///
    /// ```
    /// use tessera::group::StatePiece;
    /// use tessera::secret_tree::RatchetKind;
    /// use tessera::tree_math::LeafIndex;
    /// let piece = StatePiece::SenderRatchet {
    ///     epoch: 7,
    ///     leaf: LeafIndex(2),
    ///     ratchet: RatchetKind::Application,
    /// };
    /// assert_eq!(piece.key(), [0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 1]);
    /// assert_eq!(StatePiece::from_key(piece.kind(), &piece.key()).unwrap(), piece);
    /// ```
    pub fn key(&self) -> Vec<u8> {
        let with_index = |epoch: u64, index: u32| {
            let mut k = epoch.to_be_bytes().to_vec();
            k.extend_from_slice(&index.to_be_bytes());
            k
        };
        match self {
            Self::Epoch | Self::PendingCommit => Vec::new(),
            Self::Tree { epoch } | Self::PastEpoch { epoch } => epoch.to_be_bytes().to_vec(),
            Self::SecretTreeNode { epoch, node } => with_index(*epoch, node.0),
            Self::SenderRatchet {
                epoch,
                leaf,
                ratchet,
            } => {
                let mut k = with_index(*epoch, leaf.0);
                k.push(ratchet_code(*ratchet));
                k
            }
            Self::RetainedKey {
                epoch,
                leaf,
                ratchet,
                generation,
            } => {
                let mut k = with_index(*epoch, leaf.0);
                k.push(ratchet_code(*ratchet));
                k.extend_from_slice(&generation.to_be_bytes());
                k
            }
            Self::LegacySenderRatchets { epoch, leaf } => with_index(*epoch, leaf.0),
            Self::Proposal(r) => r.0.clone(),
            Self::SentMessage { epoch, digest } => {
                let mut k = epoch.to_be_bytes().to_vec();
                k.extend_from_slice(digest);
                k
            }
        }
    }

    /// The piece of kind `kind` with key `key` (see [`StatePiece::key`]).
    pub fn from_key(kind: PieceKind, key: &[u8]) -> Result<Self, DecodeError> {
        let bad = DecodeError::InvalidValue("state piece key");
        let epoch = |k: &[u8]| -> Result<u64, DecodeError> {
            let b: [u8; 8] = k
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(bad.clone())?;
            Ok(u64::from_be_bytes(b))
        };
        let epoch_index = |k: &[u8]| -> Result<(u64, u32), DecodeError> {
            if k.len() != 12 {
                return Err(bad.clone());
            }
            let i: [u8; 4] = k
                .get(8..)
                .and_then(|b| b.try_into().ok())
                .ok_or(bad.clone())?;
            Ok((epoch(k)?, u32::from_be_bytes(i)))
        };
        let only_epoch = |k: &[u8]| {
            if k.len() == 8 {
                epoch(k)
            } else {
                Err(bad.clone())
            }
        };
        Ok(match kind {
            PieceKind::Epoch if key.is_empty() => Self::Epoch,
            PieceKind::PendingCommit if key.is_empty() => Self::PendingCommit,
            PieceKind::Epoch | PieceKind::PendingCommit => return Err(bad),
            PieceKind::Tree => Self::Tree {
                epoch: only_epoch(key)?,
            },
            PieceKind::PastEpoch => Self::PastEpoch {
                epoch: only_epoch(key)?,
            },
            PieceKind::SecretTreeNode => {
                let (epoch, n) = epoch_index(key)?;
                Self::SecretTreeNode {
                    epoch,
                    node: NodeIndex(n),
                }
            }
            PieceKind::SenderRatchet => {
                let (head, code) = key.split_at_checked(12).ok_or(bad.clone())?;
                let (epoch, l) = epoch_index(head)?;
                let ratchet = match code {
                    [c] => ratchet_kind(*c).ok_or(bad.clone())?,
                    _ => return Err(bad),
                };
                Self::SenderRatchet {
                    epoch,
                    leaf: LeafIndex(l),
                    ratchet,
                }
            }
            PieceKind::RetainedKey => {
                let (head, rest) = key.split_at_checked(12).ok_or(bad.clone())?;
                let (epoch, l) = epoch_index(head)?;
                let (ratchet, generation) = match rest {
                    [c, g @ ..] => (
                        ratchet_kind(*c).ok_or(bad.clone())?,
                        <[u8; 4]>::try_from(g).map_err(|_| bad.clone())?,
                    ),
                    _ => return Err(bad),
                };
                Self::RetainedKey {
                    epoch,
                    leaf: LeafIndex(l),
                    ratchet,
                    generation: u32::from_be_bytes(generation),
                }
            }
            PieceKind::LegacySenderRatchets => {
                let (epoch, l) = epoch_index(key)?;
                Self::LegacySenderRatchets {
                    epoch,
                    leaf: LeafIndex(l),
                }
            }
            PieceKind::Proposal => Self::Proposal(ProposalRef(key.to_vec())),
            PieceKind::SentMessage => {
                let digest = key
                    .get(8..)
                    .and_then(|d| <[u8; DIGEST_LEN]>::try_from(d).ok())
                    .ok_or(bad.clone())?;
                Self::SentMessage {
                    epoch: epoch(key)?,
                    digest,
                }
            }
        })
    }

    /// The epoch this piece belongs to, for the per-epoch pieces.
    fn epoch(&self) -> Option<u64> {
        match self {
            Self::Tree { epoch }
            | Self::PastEpoch { epoch }
            | Self::SecretTreeNode { epoch, .. }
            | Self::SenderRatchet { epoch, .. }
            | Self::RetainedKey { epoch, .. }
            | Self::LegacySenderRatchets { epoch, .. }
            | Self::SentMessage { epoch, .. } => Some(*epoch),
            _ => None,
        }
    }
}

/// The pieces written and deleted since the last call of
/// [`Group::take_state_changes`]: to be applied to the store in one atomic
/// write. The values hold secrets and are wiped when dropped.
#[derive(Debug, Default)]
pub struct StateChanges {
    /// Pieces to write (insert or replace), with their values.
    pub written: Vec<(StatePiece, Secret)>,
    /// Pieces to delete.
    pub deleted: Vec<StatePiece>,
}

impl StateChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.deleted.is_empty()
    }
}

/// Which pieces changed since the state was last taken (see
/// [`Group::take_state_changes`]), and the order of the cached proposals.
#[derive(Clone, Debug, Default)]
pub(crate) struct Journal {
    /// Every piece must be written: the store holds none of this group.
    all: bool,
    /// Pieces that may have changed: written if they exist, else deleted.
    dirty: BTreeSet<StatePiece>,
    /// The order in which cached proposals and sent messages came (their
    /// pieces carry it).
    seqs: HashMap<StatePiece, u64>,
    next_seq: u64,
}

impl Journal {
    /// The journal of a group no store holds yet.
    pub fn new_group() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }

    /// Marks a piece as changed.
    pub fn mark(&mut self, piece: StatePiece) {
        if !self.all {
            self.dirty.insert(piece);
        }
    }

    /// Marks the pieces of parts of `epoch`'s secret tree that changed (as
    /// [`SecretTree::parts_changed_by`] and the like list them).
    pub fn secret_tree_parts(&mut self, epoch: u64, parts: impl IntoIterator<Item = TreePart>) {
        if self.all {
            return;
        }
        self.dirty
            .extend(parts.into_iter().map(|part| part_piece(epoch, part)));
    }

    /// Marks every piece of `epoch`'s secret tree (and the epoch's tree and
    /// past-epoch pieces): when the epoch starts or is no longer kept.
    pub fn whole_epoch(&mut self, epoch: u64, tree: &SecretTree) {
        if self.all {
            return;
        }
        self.dirty.insert(StatePiece::Tree { epoch });
        self.dirty.insert(StatePiece::PastEpoch { epoch });
        self.secret_tree_parts(epoch, tree.parts());
    }

    /// A proposal entered the cache.
    pub fn proposal_added(&mut self, reference: &ProposalRef) {
        self.ordered_added(StatePiece::Proposal(reference.clone()));
    }

    /// A proposal left the cache.
    pub fn proposal_removed(&mut self, reference: &ProposalRef) {
        self.ordered_removed(StatePiece::Proposal(reference.clone()));
    }

    /// A piece of an ordered list (proposals, sent messages) was appended.
    pub fn ordered_added(&mut self, piece: StatePiece) {
        self.seqs.insert(piece.clone(), self.next_seq);
        self.next_seq = self.next_seq.saturating_add(1);
        self.mark(piece);
    }

    /// A piece of an ordered list was removed.
    pub fn ordered_removed(&mut self, piece: StatePiece) {
        self.seqs.remove(&piece);
        self.mark(piece);
    }

    /// Numbers the pieces of the ordered lists of a group read whole (from
    /// [`Group::from_bytes`]), in their order.
    pub fn number(&mut self, pieces: impl IntoIterator<Item = StatePiece>) {
        for piece in pieces {
            self.seqs.insert(piece, self.next_seq);
            self.next_seq = self.next_seq.saturating_add(1);
        }
    }
}

impl Group {
    /// The pieces of this member's state that changed since the last call
    /// (for a group just created, joined or restored with
    /// [`Group::from_bytes`]: all of them), and forgets them. See the
    /// [`StatePiece`] for the pieces.
    ///
    /// Write them in one atomic batch: written pieces replace stored ones,
    /// deleted ones are removed. If the write fails, the stored state is
    /// behind this group; drop the group and restore it from the store.
    ///
    /// ```
    /// # use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
    /// # use tessera::group::{Group, GroupConfig, Identity, KeyPackageOptions, StatePiece};
    /// # use tessera::messages::Credential;
    /// # use std::collections::BTreeMap;
    /// # let provider = RustCryptoProvider::new();
    /// # let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    /// # let cs = provider.cipher_suite_provider(suite).unwrap();
    /// # let id = Identity::generate(&*cs, Credential::basic("a")).unwrap();
    /// let mut group = Group::create(&provider, GroupConfig::default(), suite, b"g".to_vec(),
    ///     &id, KeyPackageOptions::valid_for(0, u64::MAX), vec![]).unwrap();
    /// let mut store = BTreeMap::new();
    /// let mut save = |group: &mut Group| {
    ///     let changes = group.take_state_changes().unwrap();
    ///     for piece in changes.deleted { store.remove(&piece); }
    ///     for (piece, value) in changes.written { store.insert(piece, value); }
    /// };
    /// save(&mut group);
    /// group.encrypt_application(b"hi", b"").unwrap();
    /// save(&mut group); // one small piece: this member's ratchets
    /// # drop(save);
    /// let pieces: Vec<_> = store.iter().map(|(p, v)| (p.clone(), v.as_bytes())).collect();
    /// let restored = Group::from_pieces(&provider, pieces).unwrap();
    /// assert_eq!(restored.to_bytes().unwrap(), group.to_bytes().unwrap());
    /// ```
    pub fn take_state_changes(&mut self) -> Result<StateChanges> {
        let mut changes = StateChanges::default();
        if self.journal.all {
            changes.written = self.state_pieces()?;
        } else {
            for piece in &self.journal.dirty {
                match self.piece_value(piece)? {
                    Some(v) => changes.written.push((piece.clone(), v)),
                    None => changes.deleted.push(piece.clone()),
                }
            }
        }
        self.journal.all = false;
        self.journal.dirty.clear();
        Ok(changes)
    }

    /// Whether some piece changed since [`Group::take_state_changes`] was
    /// last called (or the group is new to the store).
    pub fn has_state_changes(&self) -> bool {
        self.journal.all || !self.journal.dirty.is_empty()
    }

    /// Every piece of this member's state, with its value.
    pub fn state_pieces(&self) -> Result<Vec<(StatePiece, Secret)>> {
        let mut pieces = vec![StatePiece::Epoch];
        let epochs = core::iter::once((self.context.epoch, &self.keys.secret_tree))
            .chain(self.past_epochs.iter().map(|p| (p.epoch, &p.secret_tree)));
        for (epoch, tree) in epochs {
            pieces.push(StatePiece::Tree { epoch });
            if epoch != self.context.epoch {
                pieces.push(StatePiece::PastEpoch { epoch });
            }
            pieces.extend(tree.parts().into_iter().map(|p| part_piece(epoch, p)));
        }
        pieces.extend(
            self.proposals
                .iter()
                .map(|p| StatePiece::Proposal(p.reference.clone())),
        );
        if self.pending_commit.is_some() {
            pieces.push(StatePiece::PendingCommit);
        }
        pieces.extend(self.own_messages.sent.iter().map(sent_piece));
        pieces.sort_unstable();
        pieces
            .into_iter()
            .map(|p| {
                let v = self
                    .piece_value(&p)?
                    .ok_or(Error::Internal("listed state piece has no value"))?;
                Ok((p, v))
            })
            .collect()
    }

    /// The current value of a piece, `None` if it does not exist.
    fn piece_value(&self, piece: &StatePiece) -> Result<Option<Secret>> {
        let mut out = Zeroizing::new(Vec::new());
        let found = match piece {
            StatePiece::Epoch => {
                self.write_epoch_piece(&mut out)?;
                true
            }
            StatePiece::Tree { epoch } => match self.tree_of(*epoch) {
                Some(tree) => {
                    tree.to_nodes().encode(&mut out)?;
                    true
                }
                None => false,
            },
            StatePiece::PastEpoch { epoch } => {
                match self.past_epochs.iter().find(|p| p.epoch == *epoch) {
                    Some(p) => {
                        p.context.encode(&mut out)?;
                        p.sender_data_secret.as_secret().encode(&mut out)?;
                        let mut header = Zeroizing::new(Vec::new());
                        p.secret_tree.write_header(&mut header)?;
                        write_opaque(&mut out, &header)?;
                        true
                    }
                    None => false,
                }
            }
            StatePiece::SecretTreeNode { .. }
            | StatePiece::SenderRatchet { .. }
            | StatePiece::RetainedKey { .. } => match piece_part(piece) {
                Some((epoch, part)) => match self.secret_tree_of(epoch) {
                    Some(t) => t.write_part(part, &mut out)?,
                    None => false,
                },
                None => false,
            },
            // Never written: read from earlier builds' stores, then deleted.
            StatePiece::LegacySenderRatchets { .. } => false,
            StatePiece::Proposal(r) => match self.proposals.iter().find(|p| p.reference == *r) {
                Some(p) => {
                    let seq = self.journal.seqs.get(piece).copied().unwrap_or(u64::MAX);
                    seq.encode(&mut out)?;
                    p.sender.encode(&mut out)?;
                    p.proposal.encode(&mut out)?;
                    true
                }
                None => false,
            },
            StatePiece::PendingCommit => match &self.pending_commit {
                Some(p) => {
                    write_pending_commit(p, &mut out)?;
                    true
                }
                None => false,
            },
            StatePiece::SentMessage { epoch, digest } => {
                let sent = self.own_messages.sent.iter();
                if sent
                    .into_iter()
                    .any(|s| s.epoch == *epoch && s.digest == *digest)
                {
                    let seq = self.journal.seqs.get(piece).copied().unwrap_or(u64::MAX);
                    seq.encode(&mut out)?;
                    true
                } else {
                    false
                }
            }
        };
        Ok(found.then(|| Secret::from(core::mem::take(&mut *out))))
    }

    /// The ratchet tree of the current or a kept past epoch.
    fn tree_of(&self, epoch: u64) -> Option<&RatchetTree> {
        if epoch == self.context.epoch {
            return Some(&self.tree);
        }
        self.past_epochs
            .iter()
            .find(|p| p.epoch == epoch)
            .map(|p| &*p.tree)
    }

    /// The secret tree of the current or a kept past epoch.
    fn secret_tree_of(&self, epoch: u64) -> Option<&SecretTree> {
        if epoch == self.context.epoch {
            return Some(&self.keys.secret_tree);
        }
        self.past_epochs
            .iter()
            .find(|p| p.epoch == epoch)
            .map(|p| &p.secret_tree)
    }

    // struct {
    //     uint16 version = 2;
    //     GroupConfigState config;            // as in `persist` (version 1:
    //                                         // without max_group_size)
    //     GroupContext context;
    //     opaque interim_transcript_hash<V>;
    //     opaque confirmation_tag<V>;
    //     uint32 own_leaf;
    //     opaque signer<V>;
    //     TreePrivateKeysState path_keys;
    //     opaque secrets<V>[7];               // sender data, exporter, external,
    //                                         // membership, resumption PSK,
    //                                         // epoch authenticator, init
    //     opaque secret_tree_header<V>;
    //     {uint64 epoch; opaque psk<V>} resumption_psks<V>;
    //     uint64 past_epochs<V>;
    //     optional<ReInit> reinit;           // the ReInit that closed the group
    //                                         // (version 1: may be absent)
    // } EpochPiece;
    fn write_epoch_piece(&self, out: &mut Vec<u8>) -> Result<()> {
        // Every field, so that a new one cannot be forgotten here: it goes
        // in this piece or gets a piece of its own.
        let Group {
            cs: _,
            config,
            context,
            tree: _, // StatePiece::Tree
            interim_transcript_hash,
            confirmation_tag,
            own_leaf,
            signer,
            path_keys,
            keys: k,     // its secret tree: SecretTreeNode, SenderRatchets
            past_epochs, // StatePiece::PastEpoch (listed here)
            resumption_psks,
            proposals: _,      // StatePiece::Proposal
            pending_commit: _, // StatePiece::PendingCommit
            own_messages: _,   // StatePiece::SentMessage
            journal: _,
            reinit,
        } = self;
        EPOCH_PIECE_VERSION.encode(out)?;
        write_config(config, out)?;
        context.encode(out)?;
        interim_transcript_hash.encode(out)?;
        confirmation_tag.encode(out)?;
        own_leaf.0.encode(out)?;
        write_opaque(out, signer.as_bytes())?;
        path_keys.write_state(out)?;
        for s in [
            k.sender_data_secret.as_secret(),
            k.exporter_secret.as_secret(),
            k.external_secret.as_secret(),
            &k.membership_key,
            &k.resumption_psk,
            &k.epoch_authenticator,
            k.init_secret.as_secret(),
        ] {
            s.encode(out)?;
        }
        let mut header = Zeroizing::new(Vec::new());
        k.secret_tree.write_header(&mut header)?;
        write_opaque(out, &header)?;
        write_list(out, resumption_psks, |(epoch, psk), out| {
            epoch.encode(out)?;
            Ok(psk.encode(out)?)
        })?;
        write_list(out, past_epochs, |p, out| Ok(p.epoch.encode(out)?))?;
        Ok(reinit.encode(out)?)
    }

    /// Rebuilds a group from all its pieces (as [`Group::state_pieces`]
    /// returned them, or as a store holds them after applying every
    /// [`Group::take_state_changes`]), with `provider` for its cipher suite.
    ///
    /// Fails with [`Error::Decode`] if a piece is malformed, missing (the
    /// epoch, a tree, a kept past epoch), repeated, or left over (a piece of
    /// an epoch the group does not keep), or if the state does not fit
    /// together (the checks of [`Group::from_bytes`]). Never panics.
    pub fn from_pieces<'a>(
        provider: &dyn CryptoProvider,
        pieces: impl IntoIterator<Item = (StatePiece, &'a [u8])>,
    ) -> Result<Group> {
        let mut by_piece: BTreeMap<StatePiece, &'a [u8]> = BTreeMap::new();
        for (piece, value) in pieces {
            ensure(
                by_piece.insert(piece, value).is_none(),
                "state piece repeated",
            )?;
        }
        let epoch_piece = by_piece
            .remove(&StatePiece::Epoch)
            .ok_or(DecodeError::InvalidValue("epoch state piece missing"))?;
        let e = parse(epoch_piece, read_epoch_piece)?;
        let suite = e.context.cipher_suite;
        let current = e.context.epoch;

        // Split the per-epoch pieces by epoch; anything else left is stale.
        let mut trees: BTreeMap<u64, &[u8]> = BTreeMap::new();
        let mut metas: BTreeMap<u64, &[u8]> = BTreeMap::new();
        let mut parts: BTreeMap<u64, Vec<(TreePart, &[u8])>> = BTreeMap::new();
        let mut legacy: BTreeMap<u64, Vec<(LeafIndex, &[u8])>> = BTreeMap::new();
        let mut proposals = Vec::new();
        let mut sent = Vec::new();
        let mut pending = None;
        for (piece, value) in by_piece {
            if let Some(epoch) = piece.epoch() {
                ensure(
                    epoch == current || e.past_epochs.contains(&epoch),
                    "state piece of an epoch the group does not keep",
                )?;
            }
            match piece {
                StatePiece::Tree { epoch } => {
                    trees.insert(epoch, value);
                }
                StatePiece::PastEpoch { epoch } => {
                    ensure(epoch != current, "past-epoch piece of the current epoch")?;
                    metas.insert(epoch, value);
                }
                StatePiece::SecretTreeNode { .. }
                | StatePiece::SenderRatchet { .. }
                | StatePiece::RetainedKey { .. } => {
                    let (epoch, part) = piece_part(&piece)
                        .ok_or(Error::Internal("secret-tree piece without a part"))?;
                    parts.entry(epoch).or_default().push((part, value));
                }
                StatePiece::LegacySenderRatchets { epoch, leaf } => {
                    legacy.entry(epoch).or_default().push((leaf, value));
                }
                StatePiece::Proposal(reference) => {
                    let (seq, sender, proposal) = parse(value, |r| {
                        Ok((u64::decode(r)?, Sender::decode(r)?, Proposal::decode(r)?))
                    })?;
                    proposals.push((seq, reference, sender, proposal));
                }
                StatePiece::PendingCommit => pending = Some(value),
                StatePiece::SentMessage { epoch, digest } => {
                    let seq = parse(value, |r| Ok(u64::decode(r)?))?;
                    sent.push((seq, SentMessage { epoch, digest }));
                }
                StatePiece::Epoch => return Err(Error::Internal("epoch piece seen twice")),
            }
        }
        let mut tree_of = |epoch: u64| -> Result<RatchetTree> {
            let bytes = trees
                .remove(&epoch)
                .ok_or(DecodeError::InvalidValue("tree piece missing"))?;
            parse(bytes, |r| read_tree(r, suite))
        };
        // What the store holds in an older layout is rewritten by the next
        // changes: the epoch piece of version 1, leaves saved whole, and the
        // parts of past epochs' secret trees that retiring them drops.
        let mut journal = Journal::default();
        if e.version != EPOCH_PIECE_VERSION {
            journal.mark(StatePiece::Epoch);
        }
        let mut secret_tree_of = |epoch: u64, header: &[u8], past: bool| -> Result<SecretTree> {
            let legacy = legacy.remove(&epoch).unwrap_or_default();
            for (leaf, _) in &legacy {
                journal.mark(StatePiece::LegacySenderRatchets { epoch, leaf: *leaf });
            }
            let legacy_leaves: BTreeSet<LeafIndex> = legacy.iter().map(|(l, _)| *l).collect();
            let tree = SecretTree::from_parts(
                header,
                parts.remove(&epoch).unwrap_or_default(),
                legacy,
                past,
            )?;
            journal.secret_tree_parts(
                epoch,
                tree.parts()
                    .into_iter()
                    .filter(|p| leaf_of(*p).is_some_and(|l| legacy_leaves.contains(&l))),
            );
            Ok(tree)
        };

        let tree = tree_of(current)?;
        let secret_tree = secret_tree_of(current, &e.secret_tree_header, false)?;
        let mut past_epochs = Vec::with_capacity(e.past_epochs.len());
        let mut past_parts_dropped = Vec::new();
        for epoch in &e.past_epochs {
            let meta = metas
                .remove(epoch)
                .ok_or(DecodeError::InvalidValue("past-epoch piece missing"))?;
            let (context, sender_data_secret, header) = parse(meta, |r| {
                Ok((
                    GroupContext::decode(r)?,
                    SenderDataSecret::from_secret(Secret::decode(r)?),
                    Zeroizing::new(Vec::<u8>::decode(r)?),
                ))
            })?;
            // Sharing what it has in common with the current tree, as it did
            // before it was stored.
            let mut past = PastEpoch {
                epoch: *epoch,
                context,
                sender_data_secret,
                secret_tree: secret_tree_of(*epoch, &header, true)?,
                tree: Arc::new(tree_of(*epoch)?.shared_with(&tree)),
            };
            // Earlier builds kept past epochs' secret trees whole.
            let dropped = past.retire(e.own_leaf);
            past_parts_dropped.push((*epoch, dropped));
            past_epochs.push(past);
        }
        for (epoch, dropped) in past_parts_dropped {
            journal.secret_tree_parts(epoch, dropped);
        }
        ensure(metas.is_empty(), "past-epoch piece of an epoch not kept")?;

        proposals.sort_by_key(|(seq, ..)| *seq);
        sent.sort_by_key(|(seq, _)| *seq);
        let ordered = proposals
            .iter()
            .map(|(seq, r, ..)| (*seq, StatePiece::Proposal(r.clone())))
            .chain(sent.iter().map(|(seq, s)| (*seq, sent_piece(s))));
        for (seq, piece) in ordered {
            journal.seqs.insert(piece, seq);
            journal.next_seq = journal.next_seq.max(seq.saturating_add(1));
        }
        let proposals = proposals
            .into_iter()
            .map(|(_, reference, sender, proposal)| CachedProposal {
                reference,
                proposal,
                sender,
            })
            .collect();

        let EpochPiece {
            version: _,
            config,
            context,
            interim_transcript_hash,
            confirmation_tag,
            own_leaf,
            signer,
            path_keys,
            sender_data_secret,
            exporter_secret,
            external_secret,
            membership_key,
            resumption_psk,
            epoch_authenticator,
            init_secret,
            secret_tree_header: _,
            resumption_psks,
            past_epochs: _,
            reinit,
        } = e;
        let state = StagedFrom {
            group_id: context.group_id.clone(),
            epoch: context.epoch,
            own_leaf,
            interim_transcript_hash: interim_transcript_hash.clone(),
        };
        let pending_commit = pending
            .map(|value| parse(value, |r| read_pending_commit(r, suite, &state)))
            .transpose()?;
        let group = Group {
            cs: provider.cipher_suite_provider(suite)?,
            config,
            context,
            tree: Arc::new(tree),
            interim_transcript_hash,
            confirmation_tag,
            own_leaf,
            signer,
            path_keys,
            keys: EpochKeys {
                sender_data_secret,
                exporter_secret,
                external_secret,
                membership_key,
                resumption_psk,
                epoch_authenticator,
                init_secret,
                secret_tree,
            },
            past_epochs: past_epochs.into(),
            resumption_psks: resumption_psks.into(),
            proposals,
            pending_commit,
            own_messages: OwnMessages {
                sent: sent.into_iter().map(|(_, s)| s).collect(),
            },
            journal,
            reinit,
        };
        group.check_restored()?;
        Ok(group)
    }
}

/// The epoch piece, read.
struct EpochPiece {
    version: u16,
    config: super::GroupConfig,
    context: GroupContext,
    interim_transcript_hash: Vec<u8>,
    confirmation_tag: Tag,
    own_leaf: LeafIndex,
    signer: SignaturePrivateKey,
    path_keys: TreePrivateKeys,
    /// The seven epoch secrets, in the order of [`EpochKeys`].
    sender_data_secret: SenderDataSecret,
    exporter_secret: ExporterSecret,
    external_secret: ExternalSecret,
    membership_key: Secret,
    resumption_psk: Secret,
    epoch_authenticator: Secret,
    init_secret: InitSecret,
    secret_tree_header: Zeroizing<Vec<u8>>,
    resumption_psks: Vec<(u64, Secret)>,
    past_epochs: Vec<u64>,
    reinit: Option<ReInit>,
}

fn read_epoch_piece(r: &mut Reader<'_>) -> Result<EpochPiece> {
    let version = u16::decode(r)?;
    if !(1..=EPOCH_PIECE_VERSION).contains(&version) {
        return Err(DecodeError::UnsupportedFormatVersion(version).into());
    }
    // Version 1 has no `max_group_size`.
    let config = read_config(r, |_| version >= 2)?;
    let context = GroupContext::decode(r)?;
    let interim_transcript_hash = Vec::<u8>::decode(r)?;
    let confirmation_tag = Tag::decode(r)?;
    let own_leaf = LeafIndex(u32::decode(r)?);
    let signer = SignaturePrivateKey::new(Vec::<u8>::decode(r)?);
    let path_keys = TreePrivateKeys::read_state(r)?;
    let sender_data_secret = SenderDataSecret::from_secret(Secret::decode(r)?);
    let exporter_secret = ExporterSecret::from_secret(Secret::decode(r)?);
    let external_secret = ExternalSecret::from_secret(Secret::decode(r)?);
    let membership_key = Secret::decode(r)?;
    let resumption_psk = Secret::decode(r)?;
    let epoch_authenticator = Secret::decode(r)?;
    let init_secret = InitSecret::from_secret(Secret::decode(r)?);
    let secret_tree_header = Zeroizing::new(Vec::<u8>::decode(r)?);
    let resumption_psks = read_list(r, |r| Ok((u64::decode(r)?, Secret::decode(r)?)))?;
    let past_epochs = read_list(r, |r| Ok(u64::decode(r)?))?;
    // Version 1 pieces were written both without it (before ReInit) and
    // with it; without it, the group was not closed by a ReInit.
    let reinit = if version == 1 && r.is_empty() {
        None
    } else {
        Option::<ReInit>::decode(r)?
    };
    Ok(EpochPiece {
        version,
        config,
        context,
        interim_transcript_hash,
        confirmation_tag,
        own_leaf,
        signer,
        path_keys,
        sender_data_secret,
        exporter_secret,
        external_secret,
        membership_key,
        resumption_psk,
        epoch_authenticator,
        init_secret,
        secret_tree_header,
        resumption_psks,
        past_epochs,
        reinit,
    })
}

/// The code of a ratchet kind in piece keys.
fn ratchet_code(kind: RatchetKind) -> u8 {
    match kind {
        RatchetKind::Handshake => 0,
        RatchetKind::Application => 1,
    }
}

fn ratchet_kind(code: u8) -> Option<RatchetKind> {
    match code {
        0 => Some(RatchetKind::Handshake),
        1 => Some(RatchetKind::Application),
        _ => None,
    }
}

/// The piece of a part of `epoch`'s secret tree.
fn part_piece(epoch: u64, part: TreePart) -> StatePiece {
    match part {
        TreePart::Node(node) => StatePiece::SecretTreeNode { epoch, node },
        TreePart::Ratchet(leaf, ratchet) => StatePiece::SenderRatchet {
            epoch,
            leaf,
            ratchet,
        },
        TreePart::RetainedKey(leaf, ratchet, generation) => StatePiece::RetainedKey {
            epoch,
            leaf,
            ratchet,
            generation,
        },
    }
}

/// The epoch and secret-tree part of a piece, if it is one.
fn piece_part(piece: &StatePiece) -> Option<(u64, TreePart)> {
    Some(match *piece {
        StatePiece::SecretTreeNode { epoch, node } => (epoch, TreePart::Node(node)),
        StatePiece::SenderRatchet {
            epoch,
            leaf,
            ratchet,
        } => (epoch, TreePart::Ratchet(leaf, ratchet)),
        StatePiece::RetainedKey {
            epoch,
            leaf,
            ratchet,
            generation,
        } => (epoch, TreePart::RetainedKey(leaf, ratchet, generation)),
        _ => return None,
    })
}

/// The leaf a secret-tree part belongs to, if any.
fn leaf_of(part: TreePart) -> Option<LeafIndex> {
    match part {
        TreePart::Node(_) => None,
        TreePart::Ratchet(l, _) | TreePart::RetainedKey(l, ..) => Some(l),
    }
}

/// The piece of a sent message.
pub(super) fn sent_piece(s: &SentMessage) -> StatePiece {
    StatePiece::SentMessage {
        epoch: s.epoch,
        digest: s.digest,
    }
}
