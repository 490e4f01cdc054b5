//! The common interface every implementation is driven through. Everything
//! that crosses between implementations is bytes: KeyPackages, Welcomes,
//! GroupInfos, ratchet trees and messages, each as the RFC encodes it.

use std::fmt;

/// A failure, as the implementation reported it.
pub type R<T> = Result<T, String>;

/// The wire format of handshake messages (Proposals and Commits) in a run;
/// every member of the group uses the same (openmls' pure wire-format
/// policies refuse the other one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// PublicMessage.
    Public,
    /// PrivateMessage.
    Private,
}

/// The implementations under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Tessera,
    OpenMls,
    MlsRs,
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Impl::Tessera => "tessera",
            Impl::OpenMls => "openmls",
            Impl::MlsRs => "mls-rs",
        })
    }
}

impl Impl {
    /// The RFC cipher suites the implementation's pure-Rust provider has.
    pub fn suites(self) -> &'static [u16] {
        match self {
            Impl::Tessera => &[1, 2, 3, 4, 5, 6, 7],
            // openmls_rust_crypto 0.6.
            Impl::OpenMls => &[1, 2, 3],
            // mls-rs-crypto-rustcrypto 0.23.
            Impl::MlsRs => &[1, 2, 3, 7],
        }
    }

    /// A new client (identity: a basic credential `name`) in `suite`.
    pub fn client(self, name: &str, suite: u16, wire: Wire) -> Box<dyn Client> {
        match self {
            Impl::Tessera => crate::tessera_impl::client(name, suite, wire),
            Impl::OpenMls => crate::openmls_impl::client(name, suite, wire),
            Impl::MlsRs => crate::mls_rs_impl::client(name, suite, wire),
        }
    }
}

/// What a commit produced. The committer has already merged it (the
/// delivery service accepted it).
#[derive(Clone, Debug)]
pub struct CommitOut {
    pub commit: Vec<u8>,
    pub welcome: Option<Vec<u8>>,
    /// The ratchet tree of the new epoch, for joiners when the Welcome does
    /// not carry it.
    pub tree: Option<Vec<u8>>,
}

/// What processing a message gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Application(Vec<u8>),
    Proposal,
    /// A commit, processed and merged.
    Commit,
    /// A commit that removed this member.
    Removed,
}

/// A client that is not (yet) in the group.
pub trait Client {
    fn implementation(&self) -> Impl;
    fn name(&self) -> &str;
    /// A fresh KeyPackage (an MLSMessage); its private keys stay with the client.
    fn key_package(&mut self) -> Vec<u8>;
    /// Creates a group with this client alone in it.
    fn create(self: Box<Self>, group_id: &[u8]) -> Box<dyn Member>;
    /// Joins from a Welcome for one of its KeyPackages.
    fn join(self: Box<Self>, welcome: &[u8], tree: Option<&[u8]>) -> R<Box<dyn Member>>;
    /// Joins by external commit from a GroupInfo (MLSMessage); returns the
    /// member and the commit to send to the group.
    fn join_external(
        self: Box<Self>,
        group_info: &[u8],
        tree: Option<&[u8]>,
    ) -> R<(Box<dyn Member>, Vec<u8>)>;
}

/// A member of a group.
pub trait Member {
    fn implementation(&self) -> Impl;
    fn name(&self) -> &str;
    fn epoch(&self) -> u64;
    fn epoch_authenticator(&self) -> Vec<u8>;
    /// `MLS-Exporter("tessera interop", "context", 32)`.
    fn exporter(&self) -> Vec<u8>;
    fn own_leaf(&self) -> u32;
    /// The members: leaf index and basic credential identity, in leaf order.
    fn roster(&self) -> Vec<(u32, Vec<u8>)>;
    /// Whether this member's Welcomes carry the ratchet tree.
    fn set_tree_in_welcome(&mut self, on: bool);
    /// A fresh KeyPackage of this member's client (same identity and signature key).
    fn key_package(&mut self) -> Vec<u8>;

    fn add(&mut self, key_packages: &[Vec<u8>]) -> R<CommitOut>;
    /// A commit with an UpdatePath and no proposals.
    fn update(&mut self) -> R<Vec<u8>>;
    fn remove(&mut self, leaves: &[u32]) -> R<Vec<u8>>;
    fn propose_add(&mut self, key_package: &[u8]) -> R<Vec<u8>>;
    fn propose_remove(&mut self, leaf: u32) -> R<Vec<u8>>;
    fn propose_update(&mut self) -> R<Vec<u8>>;
    /// Commits every proposal received in this epoch (by reference).
    fn commit_pending(&mut self) -> R<CommitOut>;
    fn process(&mut self, message: &[u8]) -> R<Received>;
    fn encrypt(&mut self, data: &[u8]) -> R<Vec<u8>>;
    /// A signed GroupInfo (MLSMessage) with `external_pub`, for external joins.
    fn group_info(&mut self, with_tree: bool) -> R<Vec<u8>>;
    fn ratchet_tree(&self) -> Vec<u8>;

    /// ReInit (RFC 9420 §11.2) and branch (§11.3); only where the
    /// implementation has them (Tessera and mls-rs).
    fn resumption(&mut self) -> Option<&mut dyn Resumption> {
        None
    }
    /// After a ReInit commit: the state that creates or joins the new group.
    fn into_reinit(self: Box<Self>, _new_suite: u16) -> R<Box<dyn Reiniting>> {
        Err(format!("{} has no ReInit", self.implementation()))
    }
}

/// ReInit proposals and commits, and branching.
pub trait Resumption {
    fn propose_reinit(&mut self, group_id: &[u8], suite: u16) -> R<Vec<u8>>;
    fn commit_reinit(&mut self, group_id: &[u8], suite: u16) -> R<Vec<u8>>;
    /// Whether the group refuses to send (it was closed by a ReInit).
    fn refuses_to_send(&mut self) -> bool;
    /// A subgroup of this member and the owners of `key_packages`.
    fn branch(
        &mut self,
        group_id: &[u8],
        key_packages: &[Vec<u8>],
    ) -> R<(Box<dyn Member>, Vec<u8>)>;
    fn join_branch(&mut self, welcome: &[u8]) -> R<Box<dyn Member>>;
}

/// A member of a group closed by a ReInit, about to move to the new group.
pub trait Reiniting {
    /// A KeyPackage in the new suite.
    fn key_package(&mut self) -> Vec<u8>;
    /// Creates the new group with the others' KeyPackages.
    fn create(self: Box<Self>, key_packages: &[Vec<u8>]) -> R<(Box<dyn Member>, Vec<u8>)>;
    fn join(self: Box<Self>, welcome: &[u8]) -> R<Box<dyn Member>>;
}

pub const EXPORTER_LABEL: &str = "tessera interop";
pub const EXPORTER_CONTEXT: &[u8] = b"context";

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
