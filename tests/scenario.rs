//! A long random scenario over an in-memory delivery service, in every suite.
//!
//! The delivery service puts every Proposal and Commit in one total order
//! that every member (the sender included, who gets its own echo) receives in
//! the same order, at its own pace. Application messages travel separately,
//! one queue per recipient, delayed, reordered and duplicated by a seeded
//! generator, but delivered before the recipient drops the keys of their
//! epoch (`GroupConfig::max_past_epochs`); duplicates must fail with
//! `KeyAlreadyUsed`, the sender's echo gives `OwnMessage`. Only a message
//! sent by a member that has not yet received the last commit can arrive too
//! late for a recipient keeping few past epochs, and must then fail with
//! `WrongEpoch`. Everything travels as bytes.
//!
//! Each epoch a random member adds 1-3 members, removes members (proposed by
//! one member, committed by another), commits a full path, or injects
//! external and resumption PSKs (proposed, then committed), or several of
//! these at once. Members choose PublicMessage or PrivateMessage handshakes
//! and how many past epochs they keep. After every epoch all members agree on
//! the epoch, the epoch authenticator, the tree hash and the member list.
//! Removed members keep their group and must fail on everything sent after
//! their removal; new members must fail on everything sent before they
//! joined.
//!
//! What runs by default: 200 epochs in every suite; groups of up to 50
//! members in suites 1-3, up to 12 in suites 4 and 6 (X448/Ed448) and up to
//! 8 in suites 5 and 7 (P-521, P-384), whose signatures and HPKE cost
//! 3-50 ms each in a debug build (see [`max_members`]).
//! `TESSERA_LONG_SCENARIOS=1` runs every suite with up to 50 members;
//! `TESSERA_SCENARIO_EPOCHS=N` changes the number of epochs (e.g. for a
//! soak run with `--release`).
//!
//! "Sent after its removal" means sent in an epoch after the last one the
//! member belonged to: a member that has not yet received the commit may
//! still send in the old epoch, and every member of that epoch, the removed
//! one included, can read that (RFC 9420 §14: commits are ordered, and
//! epochs, not wall-clock time, bound who can read what).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use tessera::Error;
use tessera::codec::{Decode, Encode};
use tessera::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, RustCryptoProvider, Secret,
};
use tessera::error::ProtocolError;
use tessera::group::{
    CommitOptions, Group, GroupConfig, HandshakeFormat, Identity, JoinInput, KeyPackageOptions,
    KeyPackagePrivate, ProcessedMessage, generate_key_package,
};
use tessera::messages::{
    Add, ContentType, Credential, KeyPackage, MlsMessage, PreSharedKey, PreSharedKeyId, Proposal,
    Psk, RatchetTreeExtension, Remove, ResumptionPsk, ResumptionPskUsage, Sender,
};
use tessera::tree_math::LeafIndex;

const NOW: u64 = 1_800_000_000;
const MIN_MEMBERS: usize = 2;
/// External PSKs every member (and every joiner) knows.
const EXTERNAL_PSKS: [&[u8]; 3] = [b"psk-a", b"psk-b", b"psk-c"];
/// `GroupConfig::max_resumption_psks` of every member.
const RESUMPTION_PSKS_KEPT: u64 = 16;

/// A small deterministic generator (SplitMix64) so that every run is the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Index of a participant (current or removed member) in the scenario.
type Id = usize;

/// A Proposal or Commit in the delivery service's total order.
struct Handshake {
    sender: Id,
    sender_leaf: LeafIndex,
    epoch: u64,
    bytes: Vec<u8>,
    kind: HandshakeKind,
}

enum HandshakeKind {
    Proposal,
    Commit {
        /// The participants this commit removes.
        removed: Vec<Id>,
        /// How many members it adds.
        added: usize,
    },
}

/// An application message, as sent.
struct Application {
    sender: Id,
    sender_leaf: LeafIndex,
    epoch: u64,
    data: Vec<u8>,
    aad: Vec<u8>,
    bytes: Vec<u8>,
}

/// The in-memory delivery service.
#[derive(Default)]
struct DeliveryService {
    /// Every Proposal and Commit, in the one order all members receive them.
    handshakes: Vec<Handshake>,
    /// Every application message sent; its index is its id.
    applications: Vec<Application>,
    /// Per recipient, the ids of application messages not yet delivered, in
    /// no particular order; an id appears more than once for a duplicate.
    queues: Vec<Vec<usize>>,
}

impl DeliveryService {
    fn publish_handshake(&mut self, h: Handshake) {
        self.handshakes.push(h);
    }

    /// Queues an application message for `recipients`, duplicating some copies.
    fn post_application(&mut self, app: Application, recipients: Vec<Id>, rng: &mut Rng) {
        let id = self.applications.len();
        self.applications.push(app);
        for r in recipients {
            self.queues[r].push(id);
            while rng.chance(12) {
                self.queues[r].push(id);
            }
        }
    }

    /// Removes and returns, in random order, the messages of `r`'s queue
    /// that `take` selects.
    fn take(
        &mut self,
        r: Id,
        rng: &mut Rng,
        mut take: impl FnMut(&Application) -> bool,
    ) -> Vec<usize> {
        let (mut out, keep): (Vec<usize>, Vec<usize>) = self.queues[r]
            .iter()
            .partition(|&&id| take(&self.applications[id]));
        self.queues[r] = keep;
        rng.shuffle(&mut out);
        out
    }
}

/// A member of the group, now or in the past.
struct Participant {
    name: String,
    group: Group,
    /// The first epoch it is a member of.
    joined: u64,
    /// The last epoch it is a member of, once a commit removed it.
    last: Option<u64>,
    /// Its next handshake in the delivery service's order.
    cursor: usize,
    /// Application messages it has decrypted (by id).
    decrypted: HashSet<usize>,
    /// Its `GroupConfig::max_past_epochs`.
    max_past: u64,
}

impl Participant {
    fn is_member_of(&self, epoch: u64) -> bool {
        self.joined <= epoch && self.last.is_none_or(|l| epoch <= l)
    }

    fn active(&self) -> bool {
        self.last.is_none()
    }
}

/// A new member whose KeyPackage is in a commit being built.
struct Joiner {
    name: String,
    identity: Identity,
    key_package: KeyPackage,
    private: KeyPackagePrivate,
}

#[derive(Default, Debug)]
struct Stats {
    adds: usize,
    removes: usize,
    updates: usize,
    external_psks: usize,
    resumption_psks: usize,
    mixed: usize,
    private_commits: usize,
    max_members: usize,
    app_sent: usize,
    app_decrypted: usize,
    app_duplicates_refused: usize,
    app_own_echoes: usize,
    app_refused_not_member: usize,
    app_too_late: usize,
    handshakes_refused_removed: usize,
    handshakes_refused_new: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Add,
    Remove,
    Update,
    Psk,
    Mixed,
}

struct Scenario {
    suite: CipherSuite,
    provider: RustCryptoProvider,
    cs: Arc<dyn CipherSuiteProvider>,
    rng: Rng,
    ds: DeliveryService,
    psks: HashMap<Vec<u8>, Secret>,
    people: Vec<Participant>,
    max_members: usize,
    shrinking: bool,
    next_name: usize,
    stats: Stats,
}

/// Asserts that processing failed cleanly (never a bug in Tessera).
fn assert_refused<T: core::fmt::Debug>(result: tessera::Result<T>, what: &str) {
    match result {
        Err(Error::Internal(e)) => panic!("{what}: internal error {e}"),
        Err(_) => {}
        Ok(v) => panic!("{what}: accepted, got {v:?}"),
    }
}

impl Scenario {
    fn new(suite: CipherSuite, max_members: usize) -> Self {
        let seed = [suite.0 as u8 ^ 0x5c; 32];
        let provider = RustCryptoProvider::with_seed(seed);
        let cs = provider.cipher_suite_provider(suite).unwrap();
        let mut rng = Rng(0x7e55_e4a0_0000_0000 | u64::from(suite.0));
        let psks = EXTERNAL_PSKS
            .iter()
            .map(|id| (id.to_vec(), Secret::from(rng.bytes(cs.kdf_len()))))
            .collect();
        let mut s = Self {
            suite,
            provider,
            cs,
            rng,
            ds: DeliveryService::default(),
            psks,
            people: Vec::new(),
            max_members,
            shrinking: false,
            next_name: 0,
            stats: Stats::default(),
        };
        let config = s.random_config();
        let max_past = config.max_past_epochs as u64;
        let name = s.fresh_name();
        let identity = s.identity(&name);
        let group = Group::create(
            &s.provider,
            config,
            suite,
            b"scenario group".to_vec(),
            &identity,
            KeyPackageOptions::valid_for(NOW - 10, 3600),
            vec![],
        )
        .unwrap();
        s.add_participant(name, group, 0, max_past);
        s
    }

    fn fresh_name(&mut self) -> String {
        self.next_name += 1;
        format!("member-{}", self.next_name)
    }

    fn identity(&self, name: &str) -> Identity {
        Identity::generate(&*self.cs, Credential::basic(name.as_bytes().to_vec())).unwrap()
    }

    /// A member's own choice of handshake format and past epochs kept.
    fn random_config(&mut self) -> GroupConfig {
        GroupConfig {
            handshake_format: if self.rng.chance(50) {
                HandshakeFormat::Private
            } else {
                HandshakeFormat::Public
            },
            max_past_epochs: self.rng.pick(&[0, 1, 2, 2, 3]),
            max_resumption_psks: RESUMPTION_PSKS_KEPT as usize,
            ..GroupConfig::default()
        }
    }

    fn add_participant(&mut self, name: String, group: Group, joined: u64, max_past: u64) -> Id {
        self.people.push(Participant {
            name,
            group,
            joined,
            last: None,
            cursor: self.ds.handshakes.len(),
            decrypted: HashSet::new(),
            max_past,
        });
        self.ds.queues.push(Vec::new());
        self.people.len() - 1
    }

    fn active(&self) -> Vec<Id> {
        (0..self.people.len())
            .filter(|&i| self.people[i].active())
            .collect()
    }

    /// The epoch every synchronised member is in.
    fn epoch(&self) -> u64 {
        self.ds
            .handshakes
            .iter()
            .filter(|h| matches!(h.kind, HandshakeKind::Commit { .. }))
            .count() as u64
    }

    fn random_other(&mut self, pool: &[Id], not: &[Id]) -> Id {
        let candidates: Vec<Id> = pool.iter().copied().filter(|i| !not.contains(i)).collect();
        self.rng.pick(&candidates)
    }

    // --- Application messages ---

    /// Member `s` sends an application message in the epoch it is in (which
    /// lags behind the group's if it has not received the latest commit yet).
    fn send_application(&mut self, s: Id) {
        let id = self.ds.applications.len();
        let p = &mut self.people[s];
        let data = format!("{} says #{id}", p.name).into_bytes();
        let aad_len = self.rng.below(6);
        let aad = self.rng.bytes(aad_len);
        let msg = p.group.encrypt_application(&data, &aad).unwrap();
        assert!(matches!(msg, MlsMessage::PrivateMessage(_)));
        let app = Application {
            sender: s,
            sender_leaf: p.group.own_leaf(),
            epoch: p.group.epoch(),
            data,
            aad,
            bytes: msg.to_bytes().unwrap(),
        };
        // Everyone, past members included, gets it; whether they may read it
        // is decided on delivery.
        let recipients = (0..self.people.len()).collect();
        self.ds.post_application(app, recipients, &mut self.rng);
        self.stats.app_sent += 1;
    }

    /// Delivers application message `id` to `r` and checks the outcome.
    fn deliver_application(&mut self, r: Id, id: usize) {
        let app = &self.ds.applications[id];
        let msg = MlsMessage::decode_exact(&app.bytes).unwrap();
        let sender_name = &self.people[app.sender].name;
        let what = format!(
            "{:?}: message #{id} of epoch {} from {sender_name} to {} (member {}..{:?}, in epoch {})",
            self.suite,
            app.epoch,
            self.people[r].name,
            self.people[r].joined,
            self.people[r].last,
            self.people[r].group.epoch()
        );
        let p = &mut self.people[r];
        let result = p.group.process_message(&msg, &self.psks, Some(NOW));
        if !p.is_member_of(app.epoch) {
            // Sent before it joined or after it was removed.
            assert_refused(result, &what);
            self.stats.app_refused_not_member += 1;
        } else if app.epoch + p.max_past < p.group.epoch() {
            // Sent by a member still in an old epoch that this recipient no
            // longer keeps: lost, as the recipient's configuration wants.
            match result {
                Err(Error::Protocol(ProtocolError::WrongEpoch { .. })) => {
                    self.stats.app_too_late += 1
                }
                other => panic!("{what}: too late, gave {other:?}"),
            }
        } else if app.sender == r {
            match result {
                Ok(ProcessedMessage::OwnMessage {
                    content_type: ContentType::Application,
                }) => self.stats.app_own_echoes += 1,
                other => panic!("{what}: own echo gave {other:?}"),
            }
        } else if p.decrypted.insert(id) {
            match result {
                Ok(ProcessedMessage::Application {
                    sender,
                    data,
                    authenticated_data,
                }) => {
                    assert_eq!(sender, app.sender_leaf, "{what}");
                    assert_eq!(data, app.data, "{what}");
                    assert_eq!(authenticated_data, app.aad, "{what}");
                    self.stats.app_decrypted += 1;
                }
                other => panic!("{what}: gave {other:?}"),
            }
        } else {
            match result {
                Err(Error::Protocol(ProtocolError::KeyAlreadyUsed(_))) => {
                    self.stats.app_duplicates_refused += 1
                }
                other => panic!("{what}: duplicate gave {other:?}"),
            }
        }
    }

    /// Whether `r` can be handed message `app` now: a member of its epoch
    /// only once it has reached that epoch (the application buffers
    /// messages from the future); anyone else at once, to be refused.
    fn deliverable(p: &Participant, app: &Application) -> bool {
        !p.is_member_of(app.epoch) || app.epoch <= p.group.epoch()
    }

    /// Hands a random part of every queue to its recipient, in random order.
    fn delivery_tick(&mut self) {
        for r in 0..self.people.len() {
            let p = &self.people[r];
            let mut coin = Rng(self.rng.next());
            let ids = self.ds.take(r, &mut self.rng, |app| {
                Self::deliverable(p, app) && coin.chance(35)
            });
            for id in ids {
                self.deliver_application(r, id);
            }
        }
    }

    /// Delivers to `r` everything it could no longer decrypt after its next
    /// commit: messages of epochs it will stop keeping.
    fn deliver_due(&mut self, r: Id) {
        let p = &self.people[r];
        let (epoch, max_past) = (p.group.epoch(), p.max_past);
        let ids = self.ds.take(r, &mut self.rng, |app| {
            Self::deliverable(p, app) && app.epoch + max_past <= epoch
        });
        for id in ids {
            self.deliver_application(r, id);
        }
    }

    /// Some random members send application messages, and some are delivered.
    fn traffic(&mut self) {
        let active = self.active();
        for _ in 0..self.rng.below(3) {
            let s = self.rng.pick(&active);
            self.send_application(s);
        }
        self.delivery_tick();
    }

    // --- Handshake messages ---

    /// `r` receives every handshake message it has not received yet, in order.
    fn sync(&mut self, r: Id) {
        while self.people[r].cursor < self.ds.handshakes.len() {
            let i = self.people[r].cursor;
            self.people[r].cursor += 1;
            self.receive_handshake(r, i);
        }
    }

    fn receive_handshake(&mut self, r: Id, i: usize) {
        let h = &self.ds.handshakes[i];
        let msg = MlsMessage::decode_exact(&h.bytes).unwrap();
        let member = self.people[r].is_member_of(h.epoch);
        let what = format!(
            "{:?}: handshake #{i} of epoch {} from {} to {}",
            self.suite, h.epoch, self.people[h.sender].name, self.people[r].name
        );
        if member {
            assert_eq!(self.people[r].group.epoch(), h.epoch, "{what}");
        }
        // A commit moves the member on: first take what it will stop keeping.
        if member && matches!(h.kind, HandshakeKind::Commit { .. }) {
            self.deliver_due(r);
        }
        let h = &self.ds.handshakes[i];
        let p = &mut self.people[r];
        let had_pending = p.group.has_pending_commit();
        let result = p.group.process_message(&msg, &self.psks, Some(NOW));
        if !member {
            // Sent after this member was removed.
            assert_refused(result, &what);
            self.stats.handshakes_refused_removed += 1;
            return;
        }
        match (result, &h.kind) {
            (Ok(ProcessedMessage::Proposal { sender, .. }), HandshakeKind::Proposal) => {
                assert_ne!(h.sender, r, "{what}");
                assert_eq!(sender, Sender::Member(h.sender_leaf.0), "{what}");
            }
            (
                Ok(ProcessedMessage::OwnMessage {
                    content_type: ContentType::Proposal,
                }),
                HandshakeKind::Proposal,
            ) => assert_eq!(h.sender, r, "{what}"),
            (Ok(ProcessedMessage::Commit(staged)), HandshakeKind::Commit { removed, added }) => {
                let summary = staged.summary();
                assert_eq!(summary.committer, Sender::Member(h.sender_leaf.0), "{what}");
                assert_eq!(summary.added.len(), *added, "{what}");
                assert_eq!(summary.removed.len(), removed.len(), "{what}");
                assert_eq!(summary.new_epoch, h.epoch + 1, "{what}");
                if removed.contains(&r) {
                    assert!(summary.self_removed, "{what}");
                    // A removed member cannot enter the new epoch.
                    assert_refused(p.group.merge_staged_commit(*staged), &what);
                    assert_eq!(p.group.epoch(), h.epoch, "{what}");
                } else {
                    assert!(!summary.self_removed, "{what}");
                    // Only the committer has it pending, merged from its echo.
                    assert_eq!(had_pending, h.sender == r, "{what}");
                    p.group.merge_staged_commit(*staged).unwrap();
                    assert!(!p.group.has_pending_commit(), "{what}");
                    assert_eq!(p.group.epoch(), h.epoch + 1, "{what}");
                }
            }
            (other, _) => panic!("{what}: gave {other:?}"),
        }
    }

    fn publish_proposal(&mut self, proposer: Id, proposal: Proposal) {
        self.sync(proposer);
        let p = &mut self.people[proposer];
        let msg = p.group.propose(proposal).unwrap();
        self.ds.publish_handshake(Handshake {
            sender: proposer,
            sender_leaf: p.group.own_leaf(),
            epoch: p.group.epoch(),
            bytes: msg.to_bytes().unwrap(),
            kind: HandshakeKind::Proposal,
        });
    }

    fn fresh_joiners(&mut self, count: usize) -> Vec<Joiner> {
        (0..count)
            .map(|_| {
                let name = self.fresh_name();
                let identity = self.identity(&name);
                let (key_package, private) = generate_key_package(
                    &*self.cs,
                    &identity,
                    KeyPackageOptions::valid_for(NOW - 10, 3600),
                )
                .unwrap();
                Joiner {
                    name,
                    identity,
                    key_package,
                    private,
                }
            })
            .collect()
    }

    /// `committer` commits the proposals it received (and `by_value`),
    /// removing `removed` and adding `joiners`, who then join from the Welcome.
    fn commit(
        &mut self,
        committer: Id,
        by_value: Vec<Proposal>,
        force_path: bool,
        removed: Vec<Id>,
        joiners: Vec<Joiner>,
    ) {
        self.sync(committer);
        let tree_in_welcome = self.rng.chance(70);
        let c = &mut self.people[committer];
        let epoch = c.group.epoch();
        let out = c
            .group
            .commit(
                CommitOptions {
                    proposals: by_value,
                    force_path,
                    ratchet_tree_in_welcome: tree_in_welcome,
                    ..CommitOptions::default()
                },
                &self.psks,
                Some(NOW),
            )
            .unwrap();
        if matches!(out.commit, MlsMessage::PrivateMessage(_)) {
            self.stats.private_commits += 1;
        }
        self.ds.publish_handshake(Handshake {
            sender: committer,
            sender_leaf: c.group.own_leaf(),
            epoch,
            bytes: out.commit.to_bytes().unwrap(),
            kind: HandshakeKind::Commit {
                removed: removed.clone(),
                added: joiners.len(),
            },
        });
        for &v in &removed {
            self.people[v].last = Some(epoch);
        }
        assert_eq!(out.welcome.is_some(), !joiners.is_empty());
        let Some(welcome) = out.welcome else { return };
        let welcome = MlsMessage::decode_exact(&welcome.to_bytes().unwrap()).unwrap();
        let MlsMessage::Welcome(welcome) = welcome else {
            panic!("not a Welcome")
        };
        let tree = out
            .ratchet_tree
            .expect("a commit with a Welcome has its tree");
        let tree_bytes = tree.to_bytes().unwrap();
        for j in joiners {
            let config = self.random_config();
            let max_past = config.max_past_epochs as u64;
            let group = Group::join(
                &self.provider,
                config,
                &welcome,
                JoinInput {
                    key_package: &j.key_package,
                    key_package_private: &j.private,
                    signer: j.identity.signer().clone(),
                    ratchet_tree: (!tree_in_welcome)
                        .then(|| RatchetTreeExtension::decode_exact(&tree_bytes).unwrap()),
                    psk_store: &self.psks,
                    now: Some(NOW),
                },
            )
            .unwrap();
            assert_eq!(group.epoch(), epoch + 1);
            let id = self.add_participant(j.name, group, epoch + 1, max_past);
            // Messages sent before it joined, still in flight for others:
            // the new member must not be able to read them.
            let old: Vec<usize> = (0..self.ds.applications.len())
                .filter(|&a| self.ds.applications[a].epoch + 4 > epoch)
                .collect();
            self.ds.queues[id].extend(old);
            // Nor the last handshakes before it joined, its own Add included.
            let recent = self.ds.handshakes.len().saturating_sub(6)..self.ds.handshakes.len();
            for i in recent {
                let msg = MlsMessage::decode_exact(&self.ds.handshakes[i].bytes).unwrap();
                let p = &mut self.people[id];
                let result = p.group.process_message(&msg, &self.psks, Some(NOW));
                assert_refused(
                    result,
                    &format!("{:?}: handshake #{i} to {}", self.suite, p.name),
                );
                self.stats.handshakes_refused_new += 1;
            }
        }
    }

    // --- Epochs ---

    fn choose_op(&mut self) -> Op {
        let size = self.active().len();
        if size < MIN_MEMBERS {
            // Only the creator so far.
            return Op::Add;
        }
        if size >= self.max_members {
            self.shrinking = true;
        } else if size <= (self.max_members / 4).max(3) {
            self.shrinking = false;
        }
        let weights: [(Op, u32); 5] = if self.shrinking {
            [
                (Op::Add, 10),
                (Op::Remove, 45),
                (Op::Update, 15),
                (Op::Psk, 20),
                (Op::Mixed, 10),
            ]
        } else {
            [
                (Op::Add, 45),
                (Op::Remove, 10),
                (Op::Update, 15),
                (Op::Psk, 20),
                (Op::Mixed, 10),
            ]
        };
        loop {
            let mut roll = self.rng.below(100) as u32;
            let op = weights
                .iter()
                .find(|(_, w)| {
                    let hit = roll < *w;
                    roll = roll.saturating_sub(*w);
                    hit
                })
                .map_or(Op::Update, |(op, _)| *op);
            let ok = match op {
                Op::Add => size < self.max_members,
                Op::Remove => size > MIN_MEMBERS,
                Op::Mixed => size > MIN_MEMBERS && size <= self.max_members,
                Op::Update | Op::Psk => true,
            };
            if ok {
                return op;
            }
        }
    }

    fn psk_nonce(&self) -> Vec<u8> {
        let mut nonce = vec![0; self.cs.kdf_len()];
        self.cs.random_bytes(&mut nonce).unwrap();
        nonce
    }

    fn external_psk(&mut self) -> Proposal {
        self.stats.external_psks += 1;
        let psk_id = self.rng.pick(&EXTERNAL_PSKS).to_vec();
        Proposal::PreSharedKey(PreSharedKey {
            psk: PreSharedKeyId {
                psk: Psk::External { psk_id },
                psk_nonce: self.psk_nonce(),
            },
        })
    }

    /// A resumption PSK of an earlier epoch that every member still holds:
    /// none older than the newest member, none older than members keep.
    fn resumption_psk(&mut self) -> Proposal {
        self.stats.resumption_psks += 1;
        let epoch = self.epoch();
        let newest = self.active().iter().map(|&i| self.people[i].joined).max();
        let lo = newest
            .unwrap_or(0)
            .max(epoch.saturating_sub(RESUMPTION_PSKS_KEPT));
        let psk_epoch = lo + self.rng.below((epoch - lo + 1) as usize) as u64;
        let group_id = self.people[self.active()[0]].group.group_id().to_vec();
        Proposal::PreSharedKey(PreSharedKey {
            psk: PreSharedKeyId {
                psk: Psk::Resumption(ResumptionPsk {
                    usage: ResumptionPskUsage::Application,
                    psk_group_id: group_id,
                    psk_epoch,
                }),
                psk_nonce: self.psk_nonce(),
            },
        })
    }

    /// Proposals to remove `count` random members, each by a random other
    /// member; returns the removed and a committer who proposed none of them
    /// when possible.
    fn propose_removals(&mut self, count: usize) -> (Vec<Id>, Id) {
        let active = self.active();
        let mut victims: Vec<Id> = Vec::new();
        while victims.len() < count {
            let v = self.random_other(&active, &victims);
            victims.push(v);
        }
        let mut proposers = Vec::new();
        for &v in &victims {
            let proposer = self.random_other(&active, &victims);
            let leaf = self.people[v].group.own_leaf().0;
            self.publish_proposal(proposer, Proposal::Remove(Remove { removed: leaf }));
            proposers.push(proposer);
            self.traffic();
        }
        let mut not = victims.clone();
        not.extend(&proposers);
        let committer = if active.len() > not.len() {
            self.random_other(&active, &not)
        } else {
            self.random_other(&active, &victims)
        };
        (victims, committer)
    }

    fn run_epoch(&mut self) {
        self.traffic();
        let active = self.active();
        let size = active.len();
        let op = self.choose_op();
        match op {
            Op::Add => {
                self.stats.adds += 1;
                let count = self.rng.between(1, 3.min(self.max_members - size));
                let joiners = self.fresh_joiners(count);
                let adds: Vec<Proposal> = joiners
                    .iter()
                    .map(|j| {
                        Proposal::Add(Add {
                            key_package: j.key_package.clone(),
                        })
                    })
                    .collect();
                let force_path = self.rng.chance(50);
                if self.rng.chance(50) {
                    let committer = self.rng.pick(&active);
                    self.commit(committer, adds, force_path, vec![], joiners);
                } else {
                    // Proposed by one member, committed by another (when there is one).
                    let proposer = self.rng.pick(&active);
                    for add in adds {
                        self.publish_proposal(proposer, add);
                    }
                    self.traffic();
                    let committer = if size > 1 {
                        self.random_other(&active, &[proposer])
                    } else {
                        proposer
                    };
                    self.commit(committer, vec![], force_path, vec![], joiners);
                }
            }
            Op::Remove => {
                self.stats.removes += 1;
                let count = self.rng.between(1, 3.min(size - MIN_MEMBERS));
                let (victims, committer) = self.propose_removals(count);
                // Removes require a path anyway (RFC 9420 §12.4).
                self.commit(committer, vec![], false, victims, vec![]);
            }
            Op::Update => {
                self.stats.updates += 1;
                let committer = self.rng.pick(&active);
                self.commit(committer, vec![], true, vec![], vec![]);
            }
            Op::Psk => {
                let mut by_value = Vec::new();
                for _ in 0..self.rng.between(1, 2) {
                    let psk = if self.rng.chance(65) {
                        self.external_psk()
                    } else {
                        self.resumption_psk()
                    };
                    if self.rng.chance(75) {
                        let proposer = self.rng.pick(&active);
                        self.publish_proposal(proposer, psk);
                        self.traffic();
                    } else {
                        by_value.push(psk);
                    }
                }
                let committer = self.rng.pick(&active);
                // A PSK-only commit needs no path (RFC 9420 §12.4).
                let force_path = self.rng.chance(50);
                self.commit(committer, by_value, force_path, vec![], vec![]);
            }
            Op::Mixed => {
                // A removal and an external PSK by reference, additions by value.
                self.stats.mixed += 1;
                let room = self.max_members + 1 - size;
                let adds = self.rng.between(0, 2.min(room));
                let psk = self.external_psk();
                let proposer = self.rng.pick(&active);
                self.publish_proposal(proposer, psk);
                let (victims, committer) = self.propose_removals(1);
                let joiners = self.fresh_joiners(adds);
                let by_value = joiners
                    .iter()
                    .map(|j| {
                        Proposal::Add(Add {
                            key_package: j.key_package.clone(),
                        })
                    })
                    .collect();
                self.commit(committer, by_value, true, victims, joiners);
            }
        }

        // Members catch up at their own pace, sending meanwhile (some still
        // in the old epoch), while application messages trickle in.
        let mut order: Vec<Id> = (0..self.people.len()).collect();
        self.rng.shuffle(&mut order);
        let breaks = [order.len() / 3, 2 * order.len() / 3];
        for (n, r) in order.into_iter().enumerate() {
            if breaks.contains(&n) {
                self.traffic();
            }
            self.sync(r);
        }
        self.check_agreement();
    }

    /// Every member is in the same epoch with the same authenticator, tree
    /// hash and member list; removed members stay where they were removed.
    fn check_agreement(&mut self) {
        let epoch = self.epoch();
        let active = self.active();
        let first = &self.people[active[0]].group;
        let names: BTreeSet<Vec<u8>> = active
            .iter()
            .map(|&i| self.people[i].name.as_bytes().to_vec())
            .collect();
        for &i in &active {
            let g = &self.people[i].group;
            let who = format!("{:?} epoch {epoch}: {}", self.suite, self.people[i].name);
            assert_eq!(g.epoch(), epoch, "{who}");
            assert!(
                g.epoch_authenticator() == first.epoch_authenticator(),
                "{who}"
            );
            assert_eq!(g.tree_hash(), first.tree_hash(), "{who}");
            let members: BTreeSet<Vec<u8>> = g
                .members()
                .iter()
                .map(|m| match &m.credential {
                    Credential::Basic(id) => id.clone(),
                    other => panic!("{who}: unexpected credential {other:?}"),
                })
                .collect();
            assert_eq!(members, names, "{who}");
            assert_eq!(g.members().len(), active.len(), "{who}");
        }
        for p in &self.people {
            if let Some(last) = p.last {
                assert_eq!(p.group.epoch(), last, "{:?}: {}", self.suite, p.name);
            }
        }
        self.stats.max_members = self.stats.max_members.max(active.len());
    }

    /// Delivers everything still queued.
    fn drain(&mut self) {
        for r in 0..self.people.len() {
            self.sync(r);
            let p = &self.people[r];
            let ids = self
                .ds
                .take(r, &mut self.rng, |app| Self::deliverable(p, app));
            for id in ids {
                self.deliver_application(r, id);
            }
            assert!(self.ds.queues[r].is_empty());
        }
    }
}

fn epochs() -> usize {
    std::env::var("TESSERA_SCENARIO_EPOCHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// The largest group of the scenario in `suite`. A debug build spends most
/// of the scenario in signature verification (every member verifies every
/// message); Ed448 and ECDSA P-384/P-521 verification and their HPKE are 50
/// to 200 times slower than Ed25519's there, so those suites run smaller
/// groups unless `TESSERA_LONG_SCENARIOS` is set.
fn max_members(suite: CipherSuite) -> usize {
    if std::env::var_os("TESSERA_LONG_SCENARIOS").is_some_and(|v| v != "0") {
        return 50;
    }
    match suite {
        CipherSuite::MLS_256_DHKEMX448_AES256GCM_SHA512_ED448
        | CipherSuite::MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_ED448 => 12,
        CipherSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521
        | CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384 => 8,
        _ => 50,
    }
}

fn run(suite: CipherSuite) {
    let start = Instant::now();
    let max_members = max_members(suite);
    let mut s = Scenario::new(suite, max_members);
    let epochs = epochs();
    for _ in 0..epochs {
        s.run_epoch();
    }
    s.drain();
    assert_eq!(s.epoch(), epochs as u64);
    eprintln!(
        "{suite:?}: {epochs} epochs, up to {max_members} members, {:.1?}: {:?}",
        start.elapsed(),
        s.stats
    );
    let st = &s.stats;
    assert_eq!(
        st.max_members, max_members,
        "the group reached its maximum size"
    );
    assert!(st.adds > 0 && st.removes > 0 && st.updates > 0 && st.mixed > 0);
    assert!(st.external_psks > 0 && st.resumption_psks > 0);
    assert!(st.private_commits > 0);
    assert!(st.app_duplicates_refused > 0 && st.app_own_echoes > 0);
    assert!(st.app_refused_not_member > 0 && st.app_too_late > 0);
    assert!(st.handshakes_refused_removed > 0 && st.handshakes_refused_new > 0);
}

#[test]
fn scenario_suite_1() {
    run(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519);
}

#[test]
fn scenario_suite_2() {
    run(CipherSuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256);
}

#[test]
fn scenario_suite_3() {
    run(CipherSuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519);
}

#[test]
fn scenario_suite_4() {
    run(CipherSuite::MLS_256_DHKEMX448_AES256GCM_SHA512_ED448);
}

#[test]
fn scenario_suite_5() {
    run(CipherSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521);
}

#[test]
fn scenario_suite_6() {
    run(CipherSuite::MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_ED448);
}

#[test]
fn scenario_suite_7() {
    run(CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384);
}
