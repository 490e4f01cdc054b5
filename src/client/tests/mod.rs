//! Tests of the client: every path of the identity validator, the proposal
//! policy, lifetimes, held messages, removal, storage and restarts.

mod lifecycle;
mod policy;
mod storage;
mod validation;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::error::ProtocolError;
use crate::storage::MemoryStore;

pub(super) const NOW: u64 = 1_800_000_000;
pub(super) const DAY: u64 = 86_400;

/// A clock the test moves.
#[derive(Default)]
pub(super) struct TestClock(AtomicU64);

impl TestClock {
    pub fn at(now: u64) -> Arc<Self> {
        Arc::new(Self(AtomicU64::new(now)))
    }
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A validator that rejects the basic identities in its deny list, and
/// says whether a changed credential is the same participant as told.
#[derive(Default)]
pub(super) struct TestValidator {
    denied: Mutex<HashSet<Vec<u8>>>,
    pub same_participant: std::sync::atomic::AtomicBool,
    /// Every credential it was shown, with its subject and use.
    pub seen: Mutex<Vec<(CredentialSubject, CredentialUse, Credential)>>,
}

impl TestValidator {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub fn deny(&self, name: &str) {
        self.denied.lock().unwrap().insert(name.as_bytes().to_vec());
    }
    pub fn allow(&self, name: &str) {
        self.denied.lock().unwrap().remove(name.as_bytes());
    }
}

impl IdentityValidator for TestValidator {
    fn validate(&self, check: &CredentialCheck<'_>) -> Result<(), Rejection> {
        self.seen
            .lock()
            .unwrap()
            .push((check.subject, check.usage, check.credential.clone()));
        match check.credential {
            Credential::Basic(id) if self.denied.lock().unwrap().contains(id) => {
                Err(Rejection::new("denied"))
            }
            _ => Ok(()),
        }
    }

    fn same_participant(&self, _old: &Credential, _new: &Credential) -> bool {
        self.same_participant.load(Ordering::SeqCst)
    }
}

use crate::error::CredentialSubject;

/// A client of the test world.
pub(super) struct Member {
    pub client: Client,
    pub store: Arc<MemoryStore>,
    pub validator: Arc<TestValidator>,
    pub clock: Arc<TestClock>,
}

impl Member {
    pub fn new(name: &str) -> Self {
        Self::with(
            name,
            ClientConfig::default(),
            DefaultProposalPolicy::default(),
        )
    }

    pub fn with(name: &str, config: ClientConfig, policy: DefaultProposalPolicy) -> Self {
        let store = Arc::new(MemoryStore::new());
        let validator = TestValidator::new();
        let clock = TestClock::at(NOW);
        let client = Client::builder()
            .config(config)
            .proposal_policy(policy)
            .identity_validator_arc(validator.clone())
            .clock_arc(clock.clone())
            .crypto_provider(crate::crypto::RustCryptoProvider::with_seed(seed(name)))
            .create(Credential::basic(name), store.clone())
            .unwrap();
        Self {
            client,
            store,
            validator,
            clock,
        }
    }

    /// The same client opened again from its store (a restart).
    pub fn reopen(&self) -> Self {
        let client = Client::builder()
            .config(self.client.config().clone())
            .identity_validator_arc(self.validator.clone())
            .clock_arc(self.clock.clone())
            .open(self.store.clone())
            .unwrap();
        Self {
            client,
            store: self.store.clone(),
            validator: self.validator.clone(),
            clock: self.clock.clone(),
        }
    }

    pub fn key_package(&self) -> Vec<u8> {
        self.client.generate_key_packages(1).unwrap().remove(0)
    }
}

fn seed(name: &str) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, b) in name.bytes().enumerate() {
        s[i % 32] ^= b;
    }
    s
}

pub(super) const GROUP: &[u8] = b"group";

/// Alice creates the group and adds the others, who join; everyone is in
/// epoch 1.
pub(super) fn group_of(names: &[&str]) -> Vec<Member> {
    let members: Vec<Member> = names.iter().map(|n| Member::new(n)).collect();
    setup(&members);
    members
}

pub(super) fn setup(members: &[Member]) {
    let (first, rest) = members.split_first().unwrap();
    first.client.create_group(GROUP).unwrap();
    if rest.is_empty() {
        return;
    }
    let kps: Vec<Vec<u8>> = rest.iter().map(|m| m.key_package()).collect();
    let added = first.client.add(GROUP, &kps).unwrap();
    first.client.confirm_commit(GROUP).unwrap();
    for m in rest {
        m.client.join(&added.welcome).unwrap();
    }
}

/// Delivers `bytes` to every member but `from`; returns their events.
pub(super) fn broadcast(members: &[Member], from: usize, bytes: &[u8]) -> Vec<Processed> {
    members
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != from)
        .map(|(_, m)| m.client.process(bytes).unwrap())
        .collect()
}

/// `committer` commits a path update; everyone processes it.
pub(super) fn update(members: &[Member], committer: usize) {
    let out = members[committer].client.update(GROUP).unwrap();
    members[committer].client.confirm_commit(GROUP).unwrap();
    broadcast(members, committer, &out.commit);
    assert_agree(members);
}

/// Every member is in the same epoch with the same authenticator.
pub(super) fn assert_agree(members: &[Member]) {
    let first = members[0].client.epoch_authenticator(GROUP).unwrap();
    for m in &members[1..] {
        assert_eq!(m.client.epoch_authenticator(GROUP).unwrap(), first);
    }
}

/// Asserts `result` failed with `expected` and `m`'s store and group are as
/// they were in `before`.
pub(super) fn assert_refused<T: core::fmt::Debug>(
    m: &Member,
    before: &Snapshot,
    result: Result<T>,
    expected: impl Into<Error>,
) {
    let err = result.expect_err("must be refused");
    assert_eq!(err, expected.into());
    assert_eq!(
        &Snapshot::of(m),
        before,
        "a refused operation changed state"
    );
}

/// What must not change when an operation is refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Snapshot {
    records: Vec<(crate::storage::RecordKind, Vec<u8>, Vec<u8>)>,
    status: Option<GroupStatus>,
}

impl Snapshot {
    pub fn of(m: &Member) -> Self {
        Self {
            records: m
                .store
                .snapshot()
                .into_iter()
                .map(|((k, key), v)| (k, key, v.to_vec()))
                .collect(),
            status: m.client.status(GROUP).ok(),
        }
    }
}

#[test]
fn client_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Client>();
    check::<Event>();
}

#[test]
fn two_members_exchange_messages() {
    let m = group_of(&["alice", "bob"]);
    let hello = m[0].client.encrypt(GROUP, b"hello").unwrap();
    let got = m[1].client.process(&hello).unwrap();
    let msg = got.messages().next().unwrap();
    assert_eq!(msg.data, b"hello");
    assert_eq!(msg.epoch, 1);
    assert_eq!(msg.sender.leaf, LeafIndex(0));
    assert_eq!(msg.sender.credential, Credential::basic("alice"));
    let reply = m[1].client.encrypt_with_aad(GROUP, b"hi", b"aad").unwrap();
    let got = m[0].client.process(&reply).unwrap();
    assert_eq!(got.data(), Some(&b"hi"[..]));
    assert_eq!(got.messages().next().unwrap().authenticated_data, b"aad");
    // An echo of one's own message is no event.
    assert!(m[0].client.process(&hello).unwrap().events.is_empty());
    assert_eq!(m[0].client.groups().unwrap(), [GroupId(GROUP.to_vec())]);
}
