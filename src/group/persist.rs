//! Saving one member's group state to bytes and restoring it.
//!
//! [`Group::to_bytes`] writes everything the member needs to carry on as if
//! it had never stopped, including a commit it sent and has not merged yet;
//! [`Group::from_bytes`] reads it back, checks it and rebuilds the group.
//! The bytes hold the member's secrets (epoch secrets, secret tree, private
//! tree keys, the signature key), so they are returned as a [`Secret`]: the
//! application must store them encrypted and delete old copies. Each part is
//! encoded into its own zeroizing buffer and the result is assembled in one
//! allocation of its final size; as with any `Vec`, the bytes a buffer leaves
//! behind when it grows while a part is encoded are not wiped.
//!
//! # Format, version 1
//!
//! In the TLS presentation language (RFC 9420 §2.1) like the rest of the crate:
//!
//! ```text
//! struct {
//!     opaque magic[4] = "TSGS";        // Tessera group state
//!     uint16 format_version = 1;
//!     Section sections[rest of input];  // strictly increasing tags
//! } GroupState;
//! struct { uint16 tag; opaque value<V>; } Section;
//! ```
//!
//! One section per field of [`Group`]:
//!
//! | tag | field | value |
//! |---|---|---|
//! | 1 | config | `GroupConfig`: `uint8 handshake_format` (0 public, 1 private), `uint8 padding_kind` (0 none, 1 multiple of, 2 power of two, 3 fixed) and `uint64 padding_value` (0 for none), `uint64 max_past_epochs`, `uint64 max_resumption_psks`, `uint32 max_forward_distance`, `uint32 max_retained_keys`, `uint32 max_group_size` (absent in states saved before it existed: the default; older builds refuse states that have it) |
//! | 2 | context | `GroupContext` (§8.1) |
//! | 3 | tree | `optional<Node> ratchet_tree<V>`, as the `ratchet_tree` extension (§12.4.3.3) |
//! | 4 | interim transcript hash | `opaque<V>` |
//! | 5 | confirmation tag | `opaque<V>` |
//! | 6 | own leaf | `uint32` |
//! | 7 | signer | `opaque<V>`: the signature private key |
//! | 8 | path keys | `TreePrivateKeysState` (`uint32 leaf; {uint32 node; opaque key<V>} keys<V>`) |
//! | 9 | epoch keys | seven `opaque<V>` secrets (sender data, exporter, external, membership key, resumption PSK, epoch authenticator, init), then `SecretTreeState` (see `secret_tree`) |
//! | 10 | past epochs | `{uint64 epoch; GroupContext context; opaque sender_data_secret<V>; SecretTreeState; optional<Node> tree<V>} <V>`; the secret tree holds only what late application messages can use (`SecretTree::retire`: no handshake ratchet, nothing of leaves that cannot send), so it need not cover every leaf; an older state that holds more is reduced when read |
//! | 11 | resumption PSKs | `{uint64 epoch; opaque psk<V>} <V>` |
//! | 12 | cached proposals | `{ProposalRef reference; Sender sender; Proposal proposal} <V>` |
//! | 13 | pending commit | `MLSMessage sent; CommitSummaryState; uint64 from_epoch; NextEpochState` (see below) |
//! | 14 | own messages | `{uint64 epoch; opaque digest[16]} <V>`: the digests of the PrivateMessages this member sent lately, oldest first (see `own_messages`) |
//! | 15 | reinit | `ReInit` (§12.1.5): the ReInit that closed the group |
//!
//! Every section is required except 13, which is present exactly when a
//! commit is pending, 14, which is present exactly when the member
//! remembers a message it sent (absent, there is none), and 15, present
//! exactly when a ReInit was merged. A repeated, out-of-order or unknown section is an
//! error, as are trailing bytes: an unknown section may hold state that this
//! build would silently lose. Maps are written in key order, so the same
//! state always gives the same bytes.
//!
//! After decoding, [`Group::from_bytes`] checks what it can cheaply: the tree
//! hash against the context, the own leaf (non-blank, matching the signature
//! key), the private tree keys against the tree, the interim transcript hash
//! against the confirmed one and the confirmation tag, the lengths of all
//! secrets, the structure of every secret tree, the order and bounds of past
//! epochs and resumption PSKs, and the same for the pending commit's next
//! epoch, whose confirmation tag is also verified with its confirmation key
//! (the current epoch's confirmation key is deleted once the epoch starts).
//! It does not re-verify leaf signatures, nor the tree hashes of past
//! epochs' trees (kept only to find the signature keys of late senders).
//!
//! # Adding a field
//!
//! A new field of [`Group`] gets the next free tag. Readers of older builds
//! refuse states that have it (they could not keep it); a newer reader treats
//! its absence as the field's default (read it with `SectionReader::take`
//! instead of `require`), so states already stored stay readable without a
//! new format version. The version changes only when the encoding of an
//! existing section changes. The writers below destructure every struct they
//! save, so adding a field anywhere in the saved state fails to compile until
//! it is saved.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::commit::PendingCommit;
use super::epoch::{EpochKeys, PastEpoch};
use super::own_messages::{DIGEST_LEN, OWN_MESSAGE_WINDOW, OwnMessages, SentMessage};
use super::process::{CommitSummary, NextEpoch, StagedCommit, StagedFrom};
use super::{CachedProposal, Group, GroupConfig, HandshakeFormat};
use crate::codec::{Decode, Encode, Reader, write_opaque, write_vec_with};
use crate::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, Secret, SignaturePrivateKey, Tag,
};
use crate::error::{ApiError, DecodeError, Error, Result};
use crate::framing::PaddingPolicy;
use crate::key_schedule::{
    EpochSecrets, ExporterSecret, ExternalSecret, InitSecret, SenderDataSecret,
};
use crate::messages::{
    ContentType, Credential, Extension, FramedContentBody, GroupContext, MlsMessage,
    PreSharedKeyId, Proposal, ProposalRef, RatchetTreeExtension, ReInit, Sender,
};
use crate::secret_tree::{SecretTree, SecretTreeConfig};
use crate::transcript::{interim_transcript_hash, verify_confirmation_tag};
use crate::tree::{RatchetTree, TreePrivateKeys};
use crate::tree_math::LeafIndex;

const MAGIC: [u8; 4] = *b"TSGS";

/// Section tags (see the module documentation). Never reuse a number.
mod tag {
    pub const CONFIG: u16 = 1;
    pub const CONTEXT: u16 = 2;
    pub const TREE: u16 = 3;
    pub const INTERIM_TRANSCRIPT_HASH: u16 = 4;
    pub const CONFIRMATION_TAG: u16 = 5;
    pub const OWN_LEAF: u16 = 6;
    pub const SIGNER: u16 = 7;
    pub const PATH_KEYS: u16 = 8;
    pub const KEYS: u16 = 9;
    pub const PAST_EPOCHS: u16 = 10;
    pub const RESUMPTION_PSKS: u16 = 11;
    pub const PROPOSALS: u16 = 12;
    pub const PENDING_COMMIT: u16 = 13;
    pub const OWN_MESSAGES: u16 = 14;
    pub const REINIT: u16 = 15;
}

impl Group {
    /// The version of the format [`Group::to_bytes`] writes.
    pub const STATE_FORMAT_VERSION: u16 = 1;

    /// The whole state of this member in the group, to store and later
    /// restore with [`Group::from_bytes`].
    ///
    /// The format is versioned: the magic bytes `"TSGS"`, the `uint16`
    /// [`Group::STATE_FORMAT_VERSION`], then one tagged section per part of
    /// the state (configuration, group context, ratchet tree, transcript
    /// hashes, own leaf and keys, epoch secrets and secret tree, past epochs,
    /// resumption PSKs, cached proposals, and a pending commit if there is
    /// one), encoded like the rest of MLS (RFC 9420 §2.1). The source of the
    /// `group::persist` module describes it field by field.
    ///
    /// The bytes contain the member's secrets and private keys: they are
    /// returned as a [`Secret`] (wiped when dropped; read with
    /// [`Secret::as_bytes`]) and must be stored encrypted. Serializing the
    /// same state twice gives the same bytes. The work is linear in the size
    /// of the state.
    ///
    /// ```
    /// use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
    /// use tessera::group::{Group, GroupConfig, Identity, KeyPackageOptions};
    /// use tessera::messages::Credential;
    /// let provider = RustCryptoProvider::new();
    /// let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    /// let cs = provider.cipher_suite_provider(suite).unwrap();
    /// let alice = Identity::generate(&*cs, Credential::basic("alice")).unwrap();
    /// let group = Group::create(&provider, GroupConfig::default(), suite, b"g".to_vec(),
    ///     &alice, KeyPackageOptions::valid_for(0, u64::MAX), vec![]).unwrap();
    /// let saved = group.to_bytes().unwrap();
    /// let restored = Group::from_bytes(&provider, saved.as_bytes()).unwrap();
    /// assert_eq!(restored.epoch_authenticator(), group.epoch_authenticator());
    /// assert_eq!(restored.to_bytes().unwrap(), saved);
    /// ```
    pub fn to_bytes(&self) -> Result<Secret> {
        // Every field, so that a new one cannot be forgotten here.
        let Group {
            cs: _,
            config,
            context,
            tree,
            interim_transcript_hash,
            confirmation_tag,
            own_leaf,
            signer,
            path_keys,
            keys,
            past_epochs,
            resumption_psks,
            proposals,
            pending_commit,
            journal: _,
            own_messages,
            reinit,
        } = self;
        let mut s = Sections::default();
        s.add(tag::CONFIG, |out| write_config(config, out))?;
        s.add(tag::CONTEXT, |out| Ok(context.encode(out)?))?;
        s.add(tag::TREE, |out| Ok(tree.to_nodes().encode(out)?))?;
        s.add(tag::INTERIM_TRANSCRIPT_HASH, |out| {
            Ok(interim_transcript_hash.encode(out)?)
        })?;
        s.add(tag::CONFIRMATION_TAG, |out| {
            Ok(confirmation_tag.encode(out)?)
        })?;
        s.add(tag::OWN_LEAF, |out| Ok(own_leaf.0.encode(out)?))?;
        s.add(tag::SIGNER, |out| Ok(write_opaque(out, signer.as_bytes())?))?;
        s.add(tag::PATH_KEYS, |out| Ok(path_keys.write_state(out)?))?;
        s.add(tag::KEYS, |out| write_epoch_keys(keys, out))?;
        s.add(tag::PAST_EPOCHS, |out| {
            write_list(out, past_epochs, write_past_epoch)
        })?;
        s.add(tag::RESUMPTION_PSKS, |out| {
            write_list(out, resumption_psks, |(epoch, psk), out| {
                epoch.encode(out)?;
                Ok(psk.encode(out)?)
            })
        })?;
        s.add(tag::PROPOSALS, |out| {
            write_list(out, proposals, |p, out| {
                let CachedProposal {
                    reference,
                    proposal,
                    sender,
                } = p;
                reference.encode(out)?;
                sender.encode(out)?;
                Ok(proposal.encode(out)?)
            })
        })?;
        if let Some(p) = pending_commit {
            s.add(tag::PENDING_COMMIT, |out| write_pending_commit(p, out))?;
        }
        let OwnMessages { sent } = own_messages;
        if !sent.is_empty() {
            s.add(tag::OWN_MESSAGES, |out| {
                write_list(out, sent, |m, out| {
                    let SentMessage { epoch, digest } = m;
                    epoch.encode(out)?;
                    out.extend_from_slice(digest);
                    Ok(())
                })
            })?;
        }
        if let Some(r) = reinit {
            s.add(tag::REINIT, |out| Ok(r.encode(out)?))?;
        }
        s.finish()
    }

    /// Restores a group saved by [`Group::to_bytes`], with `provider` for
    /// its cipher suite.
    ///
    /// Fails with [`DecodeError::WrongMagic`] if `bytes` is not a group state,
    /// [`DecodeError::UnsupportedFormatVersion`] if it is of a version this
    /// build cannot read, another [`Error::Decode`] if it is malformed or its
    /// parts do not fit together (the tree hash, the own leaf and its keys,
    /// the confirmation tag and transcript hash, secret lengths and the
    /// secret trees are checked; leaf signatures are not re-verified), and
    /// [`crate::error::CryptoError::UnsupportedCipherSuite`]
    /// if `provider` lacks the group's suite. Never panics, whatever the input.
    pub fn from_bytes(provider: &dyn CryptoProvider, bytes: &[u8]) -> Result<Group> {
        let mut r = Reader::new(bytes);
        if r.read_bytes(MAGIC.len()).ok() != Some(MAGIC.as_slice()) {
            return Err(DecodeError::WrongMagic("group state").into());
        }
        let version = r.read_u16()?;
        if version != Self::STATE_FORMAT_VERSION {
            return Err(DecodeError::UnsupportedFormatVersion(version).into());
        }
        let mut s = SectionReader { r, peeked: None };
        // `max_group_size` is absent from states saved before it existed.
        let config = parse(s.require(tag::CONFIG)?, |r| {
            read_config(r, |r| !r.is_empty())
        })?;
        let context = parse(s.require(tag::CONTEXT)?, |r| Ok(GroupContext::decode(r)?))?;
        let suite = context.cipher_suite;
        let tree = parse(s.require(tag::TREE)?, |r| read_tree(r, suite))?;
        let interim_transcript_hash = parse(s.require(tag::INTERIM_TRANSCRIPT_HASH)?, |r| {
            Ok(Vec::<u8>::decode(r)?)
        })?;
        let confirmation_tag = parse(s.require(tag::CONFIRMATION_TAG)?, |r| Ok(Tag::decode(r)?))?;
        let own_leaf = LeafIndex(parse(s.require(tag::OWN_LEAF)?, |r| Ok(u32::decode(r)?))?);
        let signer = parse(s.require(tag::SIGNER)?, |r| {
            Ok(SignaturePrivateKey::new(Vec::<u8>::decode(r)?))
        })?;
        let path_keys = parse(s.require(tag::PATH_KEYS)?, |r| {
            Ok(TreePrivateKeys::read_state(r)?)
        })?;
        let keys = parse(s.require(tag::KEYS)?, read_epoch_keys)?;
        let past_epochs = parse(s.require(tag::PAST_EPOCHS)?, |r| {
            read_list(r, |r| read_past_epoch(r, suite, own_leaf, &tree))
        })?;
        let resumption_psks = parse(s.require(tag::RESUMPTION_PSKS)?, |r| {
            read_list(r, |r| Ok((u64::decode(r)?, Secret::decode(r)?)))
        })?;
        let proposals = parse(s.require(tag::PROPOSALS)?, |r| {
            read_list(r, |r| {
                Ok(CachedProposal {
                    reference: ProposalRef::decode(r)?,
                    sender: Sender::decode(r)?,
                    proposal: Proposal::decode(r)?,
                })
            })
        })?;
        let state = StagedFrom {
            group_id: context.group_id.clone(),
            epoch: context.epoch,
            own_leaf,
            interim_transcript_hash: interim_transcript_hash.clone(),
        };
        let pending_commit = s
            .take(tag::PENDING_COMMIT)?
            .map(|body| parse(body, |r| read_pending_commit(r, suite, &state)))
            .transpose()?;
        let sent = s
            .take(tag::OWN_MESSAGES)?
            .map(|body| {
                parse(body, |r| {
                    read_list(r, |r| {
                        let epoch = u64::decode(r)?;
                        let digest = <[u8; DIGEST_LEN]>::try_from(r.read_bytes(DIGEST_LEN)?)
                            .map_err(|_| Error::Internal("read_bytes gave another length"))?;
                        Ok(SentMessage { epoch, digest })
                    })
                })
            })
            .transpose()?
            .unwrap_or_default();
        let reinit = s
            .take(tag::REINIT)?
            .map(|body| parse(body, |r| Ok(ReInit::decode(r)?)))
            .transpose()?;
        s.finish()?;

        let mut group = Group {
            cs: provider.cipher_suite_provider(suite)?,
            config,
            context,
            tree: Arc::new(tree),
            interim_transcript_hash,
            confirmation_tag,
            own_leaf,
            signer,
            path_keys,
            keys,
            past_epochs: past_epochs.into(),
            resumption_psks: resumption_psks.into(),
            proposals,
            pending_commit,
            journal: super::incremental::Journal::new_group(),
            own_messages: OwnMessages { sent: sent.into() },
            reinit,
        };
        // The order of the cached proposals and sent messages, for pieces.
        let ordered = group
            .proposals
            .iter()
            .map(|p| super::StatePiece::Proposal(p.reference.clone()))
            .chain(
                group
                    .own_messages
                    .sent
                    .iter()
                    .map(super::incremental::sent_piece),
            )
            .collect::<Vec<_>>();
        group.journal.number(ordered);
        group.check_restored()?;
        Ok(group)
    }

    /// The invariants a running group keeps, checked on a restored one.
    pub(super) fn check_restored(&self) -> Result<()> {
        let cs = &*self.cs;
        let nh = cs.kdf_len();
        check_epoch(
            cs,
            &self.context,
            &self.tree,
            self.own_leaf,
            &self.signer,
            &self.path_keys,
            None,
            &self.confirmation_tag,
            &self.interim_transcript_hash,
        )?;
        let k = &self.keys;
        let secrets = [
            k.sender_data_secret.as_secret(),
            k.exporter_secret.as_secret(),
            k.external_secret.as_secret(),
            &k.membership_key,
            &k.resumption_psk,
            &k.epoch_authenticator,
            k.init_secret.as_secret(),
        ];
        ensure(secrets.iter().all(|s| s.len() == nh), "epoch secret length")?;
        k.secret_tree.check_suite(cs)?;
        ensure(
            k.secret_tree.size() == self.tree.size(),
            "secret tree size differs from the ratchet tree's",
        )?;

        ensure(
            self.past_epochs.len() <= self.config.max_past_epochs,
            "more past epochs than the config keeps",
        )?;
        let mut last = None;
        for p in &self.past_epochs {
            ensure(
                last.is_none_or(|l| p.epoch > l) && p.epoch < self.context.epoch,
                "past epochs out of order",
            )?;
            last = Some(p.epoch);
            ensure(
                p.context.epoch == p.epoch
                    && p.context.group_id == self.context.group_id
                    && p.context.cipher_suite == self.context.cipher_suite,
                "past epoch's context does not fit",
            )?;
            ensure(
                p.sender_data_secret.as_secret().len() == nh,
                "past sender data secret length",
            )?;
            p.secret_tree.check_suite(cs)?;
            ensure(
                p.secret_tree.size() == p.tree.size(),
                "past secret tree size differs from its ratchet tree's",
            )?;
            // A past epoch keeps the application keys of every member who
            // can still send in it, and nothing else (`PastEpoch::retire`):
            // a lost part would silently lose that member's messages.
            let all = 0..p.tree.size().leaf_count();
            ensure(
                p.secret_tree.is_retired()
                    && p.tree
                        .members_in(all)
                        .all(|l| l == self.own_leaf || p.secret_tree.covers(l)),
                "past secret tree lacks a member's keys",
            )?;
        }

        ensure(
            self.resumption_psks.len() <= self.config.max_resumption_psks,
            "more resumption PSKs than the config keeps",
        )?;
        let mut last = None;
        for (epoch, psk) in &self.resumption_psks {
            ensure(
                last.is_none_or(|l| *epoch > l) && *epoch < self.context.epoch,
                "resumption PSK epochs out of order",
            )?;
            last = Some(*epoch);
            ensure(psk.len() == nh, "resumption PSK length")?;
        }

        if let Some(p) = &self.pending_commit {
            self.check_pending(p)?;
        }

        // Own messages: at most the window, oldest first, of epochs whose
        // messages this member can still read.
        let sent = &self.own_messages.sent;
        ensure(
            sent.len() <= OWN_MESSAGE_WINDOW,
            "more own messages than the window keeps",
        )?;
        let readable =
            |e: u64| e == self.context.epoch || self.past_epochs.iter().any(|p| p.epoch == e);
        ensure(
            sent.iter().all(|m| readable(m.epoch))
                && sent
                    .iter()
                    .zip(sent.iter().skip(1))
                    .all(|(a, b)| a.epoch <= b.epoch),
            "own messages of epochs out of order or no longer kept",
        )?;
        Ok(())
    }

    /// A pending commit must lead from this epoch to the next one, have been
    /// sent by this member, and carry a consistent next epoch.
    fn check_pending(&self, p: &PendingCommit) -> Result<()> {
        let cs = &*self.cs;
        let next = p.staged.next.as_ref().ok_or(DecodeError::InvalidValue(
            "pending commit has no next epoch",
        ))?;
        // The sent message: its public parts name this group and epoch and,
        // unencrypted, this member's commit.
        let sent_ok = match &p.message {
            MlsMessage::PublicMessage(m) => {
                m.content.group_id == self.context.group_id
                    && m.content.epoch == self.context.epoch
                    && m.content.sender == Sender::Member(self.own_leaf.0)
                    && matches!(m.content.content, FramedContentBody::Commit(_))
            }
            MlsMessage::PrivateMessage(m) => {
                m.group_id == self.context.group_id
                    && m.epoch == self.context.epoch
                    && m.content_type == ContentType::Commit
            }
            _ => false,
        };
        ensure(
            sent_ok && self.check_staged(&p.staged).is_ok() && !p.staged.summary.self_removed,
            "pending commit is not this member's commit of this epoch",
        )?;
        ensure(
            Some(next.context.epoch) == self.context.epoch.checked_add(1)
                && p.staged.summary.new_epoch == next.context.epoch
                && next.context.group_id == self.context.group_id
                && next.context.cipher_suite == self.context.cipher_suite,
            "pending commit's next epoch does not follow this one",
        )?;
        check_epoch(
            cs,
            &next.context,
            &next.tree,
            self.own_leaf,
            &self.signer,
            &next.path_keys,
            Some(&next.secrets.confirmation_key),
            &next.confirmation_tag,
            &next.interim_transcript_hash,
        )?;
        let s = &next.secrets;
        let secrets = [
            s.sender_data_secret.as_secret(),
            &s.encryption_secret,
            s.exporter_secret.as_secret(),
            s.external_secret.as_secret(),
            &s.confirmation_key,
            &s.membership_key,
            &s.resumption_psk,
            &s.epoch_authenticator,
            s.init_secret.as_secret(),
        ];
        ensure(
            secrets.iter().all(|s| s.len() == cs.kdf_len()),
            "pending epoch secret length",
        )
    }
}

/// Checks one epoch's public state against the member's private state: the
/// tree hash, the own leaf and signature key, the private tree keys, the
/// interim transcript hash and, if the confirmation key is still known, the
/// confirmation tag (RFC 9420 §8.2).
#[allow(clippy::too_many_arguments)]
fn check_epoch(
    cs: &dyn CipherSuiteProvider,
    context: &GroupContext,
    tree: &RatchetTree,
    own_leaf: LeafIndex,
    signer: &SignaturePrivateKey,
    path_keys: &TreePrivateKeys,
    confirmation_key: Option<&Secret>,
    confirmation_tag: &Tag,
    interim: &[u8],
) -> Result<()> {
    let tree_hash = tree.tree_hash(cs).map_err(invalid("ratchet tree hash"))?;
    ensure(
        tree_hash == context.tree_hash,
        "tree hash does not match the group context",
    )?;
    let leaf = tree
        .leaf(own_leaf)
        .ok_or(DecodeError::InvalidValue("own leaf is blank"))?;
    let signature_key = cs
        .signature_public_key(signer)
        .map_err(|e| invalid("signature private key")(e.into()))?;
    ensure(
        signature_key == leaf.signature_key,
        "signature key does not match the own leaf",
    )?;
    ensure(
        path_keys.leaf_index() == own_leaf,
        "private tree keys are for another leaf",
    )?;
    path_keys
        .check_against(tree, cs)
        .map_err(invalid("private tree keys do not match the tree"))?;
    if let Some(key) = confirmation_key {
        verify_confirmation_tag(
            cs,
            key,
            &context.confirmed_transcript_hash,
            confirmation_tag,
        )
        .map_err(invalid("confirmation tag does not match the epoch"))?;
    }
    let expected_interim =
        interim_transcript_hash(cs, &context.confirmed_transcript_hash, confirmation_tag)?;
    ensure(
        expected_interim == interim,
        "interim transcript hash does not match the epoch",
    )
}

/// `Ok` if `ok`, else a decode error naming the broken invariant.
pub(super) fn ensure(ok: bool, what: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(DecodeError::InvalidValue(what).into())
    }
}

/// Reports an error found while checking restored state as a decode error
/// naming what was wrong (a bug, [`Error::Internal`], stays what it is).
fn invalid(what: &'static str) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::Internal(_) => e,
        _ => DecodeError::InvalidValue(what).into(),
    }
}

// --- The envelope -------------------------------------------------------------

/// The sections of a state being written, each in zeroizing storage.
#[derive(Default)]
struct Sections(Vec<(u16, Zeroizing<Vec<u8>>)>);

impl Sections {
    fn add(&mut self, tag: u16, write: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
        let mut body = Zeroizing::new(Vec::new());
        write(&mut body)?;
        self.0.push((tag, body));
        Ok(())
    }

    /// The whole state, in one buffer allocated at its final size (so no
    /// copy of it is left behind by growing).
    fn finish(self) -> Result<Secret> {
        let size = MAGIC.len()
            + 2
            + self
                .0
                .iter()
                .map(|(_, body)| 2 + vec_header_len(body.len()) + body.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&MAGIC);
        Group::STATE_FORMAT_VERSION.encode(&mut out)?;
        for (tag, body) in &self.0 {
            tag.encode(&mut out)?;
            write_opaque(&mut out, body)?;
        }
        Ok(Secret::from(out))
    }
}

/// The size of the variable-length header of a vector of `len` bytes (RFC 9420 §2.1.2).
fn vec_header_len(len: usize) -> usize {
    match len {
        0..64 => 1,
        64..16384 => 2,
        _ => 4,
    }
}

/// Reads sections in increasing tag order.
struct SectionReader<'a> {
    r: Reader<'a>,
    /// A section read but not yet asked for.
    peeked: Option<(u16, &'a [u8])>,
}

impl<'a> SectionReader<'a> {
    /// The value of section `tag` if it comes next; `None` if it is absent.
    /// Tags must be asked for in increasing order.
    fn take(&mut self, tag: u16) -> Result<Option<&'a [u8]>, DecodeError> {
        if self.peeked.is_none() && !self.r.is_empty() {
            let t = u16::decode(&mut self.r)?;
            let body = self.r.read_opaque()?;
            self.peeked = Some((t, body));
        }
        match self.peeked {
            Some((t, body)) if t == tag => {
                self.peeked = None;
                Ok(Some(body))
            }
            Some((t, _)) if t < tag => Err(DecodeError::InvalidValue(
                "group state: section repeated, out of order or unknown",
            )),
            _ => Ok(None),
        }
    }

    /// The value of section `tag`, which must come next.
    fn require(&mut self, tag: u16) -> Result<&'a [u8], DecodeError> {
        self.take(tag)?
            .ok_or(DecodeError::InvalidValue("group state: section missing"))
    }

    /// Fails if any section is left: one this build does not know.
    fn finish(&self) -> Result<(), DecodeError> {
        if self.peeked.is_some() || !self.r.is_empty() {
            Err(DecodeError::InvalidValue("group state: unknown section"))
        } else {
            Ok(())
        }
    }
}

/// Reads a section's value with `read`, which must consume all of it.
pub(super) fn parse<'a, T>(
    body: &'a [u8],
    read: impl FnOnce(&mut Reader<'a>) -> Result<T>,
) -> Result<T> {
    let mut r = Reader::new(body);
    let v = read(&mut r)?;
    r.finish()?;
    Ok(v)
}

/// Writes `items` as a vector `T<V>`, each with `item`.
pub(super) fn write_list<'a, T: 'a>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = &'a T>,
    mut item: impl FnMut(&'a T, &mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    // `write_vec_with` takes an `ApiError` closure; carry other errors out.
    let mut failure = None;
    write_vec_with(out, |out| {
        for x in items {
            if let Err(e) = item(x, out) {
                failure = Some(e);
                break;
            }
        }
        Ok(())
    })?;
    failure.map_or(Ok(()), Err)
}

/// Reads a vector `T<V>`, each element with `item`.
pub(super) fn read_list<'a, T>(
    r: &mut Reader<'a>,
    mut item: impl FnMut(&mut Reader<'a>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut body = r.read_vec_body()?;
    let mut v = Vec::new();
    while !body.is_empty() {
        v.push(item(&mut body)?);
    }
    Ok(v)
}

// --- Sections ---------------------------------------------------------------

pub(super) fn write_config(config: &GroupConfig, out: &mut Vec<u8>) -> Result<()> {
    let GroupConfig {
        handshake_format,
        padding,
        max_past_epochs,
        max_resumption_psks,
        secret_tree:
            SecretTreeConfig {
                max_forward_distance,
                max_retained_keys,
            },
        max_group_size,
    } = config;
    let wide = |n: usize| u64::try_from(n).map_err(|_| ApiError::ValueTooLarge(n));
    out.push(match handshake_format {
        HandshakeFormat::Public => 0,
        HandshakeFormat::Private => 1,
    });
    let (kind, value) = match *padding {
        PaddingPolicy::None => (0, 0),
        PaddingPolicy::MultipleOf(n) => (1, n.get()),
        PaddingPolicy::PowerOfTwo { min } => (2, min),
        PaddingPolicy::Fixed(n) => (3, n),
    };
    out.push(kind);
    wide(value)?.encode(out)?;
    wide(*max_past_epochs)?.encode(out)?;
    wide(*max_resumption_psks)?.encode(out)?;
    max_forward_distance.encode(out)?;
    max_retained_keys.encode(out)?;
    Ok(max_group_size.encode(out)?)
}

/// Reads a `GroupConfigState`. `with_group_size` tells whether it ends
/// with `max_group_size` (absent from encodings made before it existed,
/// which get the default); it is asked once the fields before it are read.
pub(super) fn read_config(
    r: &mut Reader<'_>,
    with_group_size: impl FnOnce(&Reader<'_>) -> bool,
) -> Result<GroupConfig> {
    let narrow = |n: u64| {
        usize::try_from(n).map_err(|_| DecodeError::InvalidValue("config: count too large"))
    };
    let handshake_format = match r.read_u8()? {
        0 => HandshakeFormat::Public,
        1 => HandshakeFormat::Private,
        _ => return Err(DecodeError::InvalidValue("config: handshake format").into()),
    };
    let kind = r.read_u8()?;
    let value = narrow(u64::decode(r)?)?;
    let padding = match kind {
        0 if value == 0 => PaddingPolicy::None,
        1 => PaddingPolicy::MultipleOf(
            core::num::NonZeroUsize::new(value)
                .ok_or(DecodeError::InvalidValue("config: padding"))?,
        ),
        2 => PaddingPolicy::PowerOfTwo { min: value },
        3 => PaddingPolicy::Fixed(value),
        _ => return Err(DecodeError::InvalidValue("config: padding").into()),
    };
    let config = GroupConfig {
        handshake_format,
        padding,
        max_past_epochs: narrow(u64::decode(r)?)?,
        max_resumption_psks: narrow(u64::decode(r)?)?,
        secret_tree: SecretTreeConfig {
            max_forward_distance: u32::decode(r)?,
            max_retained_keys: u32::decode(r)?,
        },
        max_group_size: if with_group_size(r) {
            u32::decode(r)?
        } else {
            GroupConfig::DEFAULT_MAX_GROUP_SIZE
        },
    };
    config
        .validate()
        .map_err(|_| DecodeError::InvalidValue("config: value out of range"))?;
    Ok(config)
}

/// A saved ratchet tree (decoded compactly: a blank node costs a pointer).
/// Not bounded by `max_group_size`: the tree was accepted when it was saved.
pub(super) fn read_tree(r: &mut Reader<'_>, suite: CipherSuite) -> Result<RatchetTree> {
    let nodes = RatchetTreeExtension::decode(r)?;
    RatchetTree::from_extension(suite, nodes).map_err(invalid("ratchet tree"))
}

fn write_epoch_keys(keys: &EpochKeys, out: &mut Vec<u8>) -> Result<()> {
    let EpochKeys {
        sender_data_secret,
        exporter_secret,
        external_secret,
        membership_key,
        resumption_psk,
        epoch_authenticator,
        init_secret,
        secret_tree,
    } = keys;
    for s in [
        sender_data_secret.as_secret(),
        exporter_secret.as_secret(),
        external_secret.as_secret(),
        membership_key,
        resumption_psk,
        epoch_authenticator,
        init_secret.as_secret(),
    ] {
        s.encode(out)?;
    }
    Ok(secret_tree.write_state(out)?)
}

fn read_epoch_keys(r: &mut Reader<'_>) -> Result<EpochKeys> {
    // Fields are read in the order written (struct expressions evaluate in order).
    Ok(EpochKeys {
        sender_data_secret: SenderDataSecret::from_secret(Secret::decode(r)?),
        exporter_secret: ExporterSecret::from_secret(Secret::decode(r)?),
        external_secret: ExternalSecret::from_secret(Secret::decode(r)?),
        membership_key: Secret::decode(r)?,
        resumption_psk: Secret::decode(r)?,
        epoch_authenticator: Secret::decode(r)?,
        init_secret: InitSecret::from_secret(Secret::decode(r)?),
        secret_tree: SecretTree::read_state(r, false)?,
    })
}

fn write_past_epoch(past: &PastEpoch, out: &mut Vec<u8>) -> Result<()> {
    let PastEpoch {
        epoch,
        context,
        sender_data_secret,
        secret_tree,
        tree,
    } = past;
    epoch.encode(out)?;
    context.encode(out)?;
    sender_data_secret.as_secret().encode(out)?;
    secret_tree.write_state(out)?;
    Ok(tree.to_nodes().encode(out)?)
}

/// Reads a past epoch; its tree shares what it has in common with
/// `current`, the current epoch's (as it did before it was saved).
fn read_past_epoch(
    r: &mut Reader<'_>,
    suite: CipherSuite,
    own_leaf: LeafIndex,
    current: &RatchetTree,
) -> Result<PastEpoch> {
    let mut past = PastEpoch {
        epoch: u64::decode(r)?,
        context: GroupContext::decode(r)?,
        sender_data_secret: SenderDataSecret::from_secret(Secret::decode(r)?),
        secret_tree: SecretTree::read_state(r, true)?,
        tree: Arc::new(read_tree(r, suite)?.shared_with(current)),
    };
    // A state saved by an older build kept the whole tree: drop what a past
    // epoch cannot use, as `merge` does now.
    let _dropped = past.retire(own_leaf);
    Ok(past)
}

// The pending commit:
//
// struct {
//     MLSMessage sent;                 // to recognise the echo
//     CommitSummaryState summary;
//     uint64 from_epoch;
//     NextEpochState next;
// } PendingCommitState;
// struct {
//     Sender committer; uint64 new_epoch;
//     MemberCredential added<V>; MemberCredential removed<V>;
//     uint32 updated<V>; PreSharedKeyID psks<V>;
//     optional<Extension new_extensions<V>>; optional<ReInit> reinit;
//     uint8 self_removed;
// } CommitSummaryState;
// struct { uint32 leaf; Credential credential; } MemberCredential;
// struct {
//     GroupContext context; optional<Node> tree<V>;
//     opaque interim_transcript_hash<V>; opaque confirmation_tag<V>;
//     TreePrivateKeysState path_keys;
//     opaque secrets<V>[9];            // EpochSecrets: sender data, encryption,
//                                      // exporter, external, confirm, membership,
//                                      // resumption, authentication, init
// } NextEpochState;

pub(super) fn write_pending_commit(pending: &PendingCommit, out: &mut Vec<u8>) -> Result<()> {
    let PendingCommit {
        staged:
            StagedCommit {
                summary,
                // Only the epoch is written: the rest of what the commit is
                // bound to is the state it is saved with (checked on reading).
                from:
                    StagedFrom {
                        group_id: _,
                        epoch: from_epoch,
                        own_leaf: _,
                        interim_transcript_hash: _,
                    },
                next,
            },
        message,
    } = pending;
    let next = next
        .as_ref()
        .ok_or(Error::Internal("pending commit without a next epoch"))?;
    message.encode(out)?;
    write_summary(summary, out)?;
    from_epoch.encode(out)?;
    write_next_epoch(next, out)
}

/// Reads a pending commit saved with a state whose group ID, own leaf and
/// interim transcript hash are those of `state` (a pending commit is always
/// this member's, staged from the saved state).
pub(super) fn read_pending_commit(
    r: &mut Reader<'_>,
    suite: CipherSuite,
    state: &StagedFrom,
) -> Result<PendingCommit> {
    let message = MlsMessage::decode(r)?;
    let summary = read_summary(r)?;
    let from_epoch = u64::decode(r)?;
    let next = read_next_epoch(r, suite)?;
    Ok(PendingCommit {
        staged: StagedCommit {
            summary,
            from: StagedFrom {
                epoch: from_epoch,
                ..state.clone()
            },
            next: Some(next),
        },
        message,
    })
}

fn write_summary(summary: &CommitSummary, out: &mut Vec<u8>) -> Result<()> {
    let CommitSummary {
        committer,
        new_epoch,
        added,
        removed,
        updated,
        psks,
        new_extensions,
        reinit,
        self_removed,
    } = summary;
    let member = |(leaf, credential): &(LeafIndex, Credential), out: &mut Vec<u8>| -> Result<()> {
        leaf.0.encode(out)?;
        Ok(credential.encode(out)?)
    };
    committer.encode(out)?;
    new_epoch.encode(out)?;
    write_list(out, added, member)?;
    write_list(out, removed, member)?;
    write_list(out, updated, |l, out| Ok(l.0.encode(out)?))?;
    psks.encode(out)?;
    new_extensions.encode(out)?;
    reinit.encode(out)?;
    out.push(u8::from(*self_removed));
    Ok(())
}

fn read_summary(r: &mut Reader<'_>) -> Result<CommitSummary> {
    let member = |r: &mut Reader<'_>| -> Result<(LeafIndex, Credential)> {
        Ok((LeafIndex(u32::decode(r)?), Credential::decode(r)?))
    };
    Ok(CommitSummary {
        committer: Sender::decode(r)?,
        new_epoch: u64::decode(r)?,
        added: read_list(r, member)?,
        removed: read_list(r, member)?,
        updated: read_list(r, |r| Ok(LeafIndex(u32::decode(r)?)))?,
        psks: Vec::<PreSharedKeyId>::decode(r)?,
        new_extensions: Option::<Vec<Extension>>::decode(r)?,
        reinit: Option::<ReInit>::decode(r)?,
        self_removed: match r.read_u8()? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::InvalidValue("commit summary: self_removed").into()),
        },
    })
}

fn write_next_epoch(next: &NextEpoch, out: &mut Vec<u8>) -> Result<()> {
    let NextEpoch {
        context,
        tree,
        interim_transcript_hash,
        confirmation_tag,
        path_keys,
        secrets:
            EpochSecrets {
                sender_data_secret,
                encryption_secret,
                exporter_secret,
                external_secret,
                confirmation_key,
                membership_key,
                resumption_psk,
                epoch_authenticator,
                init_secret,
            },
    } = next;
    context.encode(out)?;
    tree.to_nodes().encode(out)?;
    interim_transcript_hash.encode(out)?;
    confirmation_tag.encode(out)?;
    path_keys.write_state(out)?;
    for s in [
        sender_data_secret.as_secret(),
        encryption_secret,
        exporter_secret.as_secret(),
        external_secret.as_secret(),
        confirmation_key,
        membership_key,
        resumption_psk,
        epoch_authenticator,
        init_secret.as_secret(),
    ] {
        s.encode(out)?;
    }
    Ok(())
}

fn read_next_epoch(r: &mut Reader<'_>, suite: CipherSuite) -> Result<NextEpoch> {
    Ok(NextEpoch {
        context: GroupContext::decode(r)?,
        tree: read_tree(r, suite)?,
        interim_transcript_hash: Vec::<u8>::decode(r)?,
        confirmation_tag: Tag::decode(r)?,
        path_keys: TreePrivateKeys::read_state(r)?,
        secrets: EpochSecrets {
            sender_data_secret: SenderDataSecret::from_secret(Secret::decode(r)?),
            encryption_secret: Secret::decode(r)?,
            exporter_secret: ExporterSecret::from_secret(Secret::decode(r)?),
            external_secret: ExternalSecret::from_secret(Secret::decode(r)?),
            confirmation_key: Secret::decode(r)?,
            membership_key: Secret::decode(r)?,
            resumption_psk: Secret::decode(r)?,
            epoch_authenticator: Secret::decode(r)?,
            init_secret: InitSecret::from_secret(Secret::decode(r)?),
        },
    })
}

#[cfg(test)]
mod tests;
