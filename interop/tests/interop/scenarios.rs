//! The interop scenarios: each runs Tessera with one peer implementation in
//! one cipher suite and one handshake wire format. After every commit every
//! member must agree on the epoch, the epoch authenticator, an exporter
//! secret and the roster.

use crate::harness::{Client, CommitOut, Impl, Member, R, Received, Wire};

/// A group as the test sees it: the members of every implementation.
pub struct Net {
    pub suite: u16,
    pub wire: Wire,
    pub members: Vec<Box<dyn Member>>,
    /// Members still in the group whom the test no longer drives (a peer
    /// behaviour left them behind; see where they are added).
    pub absent: usize,
}

impl Net {
    fn client(&self, imp: Impl, name: &str) -> Box<dyn Client> {
        imp.client(name, self.suite, self.wire)
    }

    /// A group created by a new client of `creator`.
    pub fn new(creator: Impl, suite: u16, wire: Wire, group_id: &str) -> Self {
        let client = creator.client(&format!("{creator}-creator"), suite, wire);
        let member = client.create(group_id.as_bytes());
        Self {
            suite,
            wire,
            members: vec![member],
            absent: 0,
        }
    }

    pub fn index_of(&self, name: &str) -> usize {
        self.members
            .iter()
            .position(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no member {name}"))
    }

    pub fn leaf_of(&self, name: &str) -> u32 {
        self.members[self.index_of(name)].own_leaf()
    }

    /// Every member agrees with the first; `step` names the step in failures.
    pub fn check(&self, step: &str) {
        let first = &self.members[0];
        let (epoch, auth, exporter, roster) = (
            first.epoch(),
            first.epoch_authenticator(),
            first.exporter(),
            first.roster(),
        );
        assert_eq!(
            roster.len(),
            self.members.len() + self.absent,
            "{step}: roster of {} has {} members, the test knows {}",
            first.name(),
            roster.len(),
            self.members.len()
        );
        for m in &self.members[1..] {
            let who = format!(
                "{step}: {} ({}) vs {} ({})",
                m.name(),
                m.implementation(),
                first.name(),
                first.implementation()
            );
            assert_eq!(m.epoch(), epoch, "{who}: epoch");
            assert_eq!(m.epoch_authenticator(), auth, "{who}: epoch authenticator");
            assert_eq!(m.exporter(), exporter, "{who}: exporter secret");
            assert_eq!(m.roster(), roster, "{who}: roster");
        }
    }

    /// Member `from` sent `message`: every other member processes it and
    /// must get `expected` (removed members are dropped afterwards).
    pub fn deliver(&mut self, from: usize, message: &[u8], expected: &Received) {
        let mut removed = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if i == from {
                continue;
            }
            let got = m.process(message).unwrap_or_else(|e| {
                panic!(
                    "{} ({}) refused a message of {from}: {e}",
                    m.name(),
                    m.implementation()
                )
            });
            if got == Received::Removed {
                removed.push(i);
            } else {
                assert_eq!(&got, expected, "{} ({})", m.name(), m.implementation());
            }
        }
        for i in removed.into_iter().rev() {
            self.members.remove(i);
        }
    }

    /// Member `from` commits with `commit` (which merges it); everyone
    /// processes it, `joiners` join from its Welcome, and all must agree.
    pub fn commit(
        &mut self,
        from: usize,
        step: &str,
        joiners: Vec<Box<dyn Client>>,
        commit: impl FnOnce(&mut dyn Member) -> R<CommitOut>,
    ) {
        let committer = self.members[from].name().to_string();
        let out = commit(&mut *self.members[from])
            .unwrap_or_else(|e| panic!("{step}: {committer} could not commit: {e}"));
        self.deliver(self.index_of(&committer), &out.commit, &Received::Commit);
        for j in joiners {
            let welcome = out.welcome.as_ref().expect("a Welcome");
            let (name, imp) = (j.name().to_string(), j.implementation());
            let member = j
                .join(welcome, out.tree.as_deref())
                .unwrap_or_else(|e| panic!("{step}: {name} ({imp}) could not join: {e}"));
            self.members.push(member);
        }
        self.check(step);
    }

    /// Fresh clients of `imps`, named `{prefix}{i}-{impl}`, and their KeyPackages.
    pub fn clients(&self, prefix: &str, imps: &[Impl]) -> (Vec<Box<dyn Client>>, Vec<Vec<u8>>) {
        let mut clients = Vec::new();
        let mut kps = Vec::new();
        for (i, imp) in imps.iter().enumerate() {
            let mut c = self.client(*imp, &format!("{prefix}{i}-{imp}"));
            kps.push(c.key_package());
            clients.push(c);
        }
        (clients, kps)
    }

    /// `from` adds new clients of `imps` in one commit.
    pub fn add(&mut self, from: usize, step: &str, imps: &[Impl]) {
        let (clients, kps) = self.clients(&format!("{step}-"), imps);
        self.commit(from, step, clients, |m| m.add(&kps));
    }

    pub fn update(&mut self, from: usize, step: &str) {
        self.commit(from, step, Vec::new(), |m| {
            m.update().map(|commit| CommitOut {
                commit,
                welcome: None,
                tree: None,
            })
        });
    }

    pub fn remove(&mut self, from: usize, step: &str, names: &[&str]) {
        let leaves: Vec<u32> = names.iter().map(|n| self.leaf_of(n)).collect();
        self.commit(from, step, Vec::new(), |m| {
            m.remove(&leaves).map(|commit| CommitOut {
                commit,
                welcome: None,
                tree: None,
            })
        });
    }

    /// Each member in turn sends a message that every other member reads.
    pub fn messages(&mut self, step: &str) {
        for i in 0..self.members.len() {
            let text = format!("{step}: from {}", self.members[i].name());
            let m = self.members[i]
                .encrypt(text.as_bytes())
                .unwrap_or_else(|e| panic!("{step}: encrypt: {e}"));
            self.deliver(i, &m, &Received::Application(text.into_bytes()));
        }
    }
}

/// The other side of a run: Tessera's peer, or Tessera for the peer.
fn other(a: Impl, peer: Impl) -> Impl {
    if a == Impl::Tessera {
        peer
    } else {
        Impl::Tessera
    }
}

/// A peer creates the group and Tessera joins by Welcome, and the reverse;
/// with the ratchet tree in the Welcome and out of band. The creator adds
/// one client of each implementation; then everyone sends a message and
/// each side commits an update.
pub fn welcome_both_ways(peer: Impl, suite: u16, wire: Wire) {
    for creator in [peer, Impl::Tessera] {
        for tree_in_welcome in [true, false] {
            let step = format!("{creator} creates, tree in Welcome: {tree_in_welcome}");
            let mut net = Net::new(creator, suite, wire, &step);
            net.members[0].set_tree_in_welcome(tree_in_welcome);
            net.add(0, &step, &[other(creator, peer), creator]);
            net.messages(&step);
            let joiner = net.index_of(&format!("{step}-0-{}", other(creator, peer)));
            net.update(joiner, &format!("{step}: joiner updates"));
            net.update(0, &format!("{step}: creator updates"));
            net.messages(&format!("{step}: after updates"));
        }
    }
}

/// A mixed group where each side commits adds, updates and removes that
/// the others process.
pub fn mixed_group(peer: Impl, suite: u16, wire: Wire) {
    use Impl::Tessera as T;
    let mut net = Net::new(T, suite, wire, "mixed");
    net.add(0, "tessera adds a peer", &[peer]);
    let p = net.index_of(&format!("tessera adds a peer-0-{peer}"));
    net.add(p, "peer adds both kinds", &[T, peer]);
    let t1 = net.index_of("peer adds both kinds-0-tessera");
    net.add(t1, "tessera adds both kinds", &[peer, T]);
    net.messages("five members");
    for i in 0..net.members.len() {
        let name = net.members[i].name().to_string();
        net.update(i, &format!("{name} updates"));
    }
    net.messages("after updates");
    // Removes: a peer removes a Tessera member and a peer member; Tessera
    // removes a peer member.
    let p = net.index_of(&format!("tessera adds a peer-0-{peer}"));
    net.remove(
        p,
        "peer removes two",
        &[
            "peer adds both kinds-0-tessera",
            &format!("tessera adds both kinds-0-{peer}"),
        ],
    );
    net.remove(
        0,
        "tessera removes a peer",
        &[&format!("peer adds both kinds-1-{peer}")],
    );
    net.messages("after removes");
    // The tree has blanks now: adds fill them, commits with paths follow.
    let p = net.index_of(&format!("tessera adds a peer-0-{peer}"));
    net.add(p, "peer adds into blanks", &[T, peer]);
    net.update(0, "tessera updates after blanks");
    let last = net.members.len() - 1;
    net.update(last, "last joiner updates");
    net.messages("end");
}

/// Proposals sent by one implementation and committed by reference by the
/// other, both ways: Add, Remove and Update (Update proposals only from the
/// peer: Tessera updates by commit).
pub fn proposals_by_reference(peer: Impl, suite: u16, wire: Wire) {
    use Impl::Tessera as T;
    let mut net = Net::new(T, suite, wire, "by reference");
    net.add(0, "start", &[peer, T, peer]);
    let (t0, p0, t1, p1) = (
        0,
        net.index_of(&format!("start-0-{peer}")),
        net.index_of("start-1-tessera"),
        net.index_of(&format!("start-2-{peer}")),
    );
    let _ = t1;

    // Round 1: Tessera proposes an Add and a Remove, the peer an Update
    // and a Remove; Tessera commits them all by reference.
    let (new_clients, kps) = net.clients("round1-", &[peer]);
    let t1_leaf = net.leaf_of("start-1-tessera");
    let proposals: Vec<(usize, Vec<u8>)> = vec![
        (
            t0,
            net.members[t0].propose_add(&kps[0]).expect("propose add"),
        ),
        (
            p0,
            net.members[p0].propose_update().expect("propose update"),
        ),
        (
            p1,
            net.members[p1]
                .propose_remove(t1_leaf)
                .expect("propose remove"),
        ),
    ];
    for (from, m) in &proposals {
        net.deliver(*from, m, &Received::Proposal);
    }
    net.commit(
        t0,
        "tessera commits peer proposals by reference",
        new_clients,
        |m| m.commit_pending(),
    );

    // Round 2: the peer proposes an Add and a Remove, Tessera an Add and a
    // Remove; the peer commits them all by reference.
    let p0 = net.index_of(&format!("start-0-{peer}"));
    let (new_clients, kps) = net.clients("round2-", &[T, peer]);
    let newcomer = net.leaf_of(&format!("round1-0-{peer}"));
    let p1_leaf = net.leaf_of(&format!("start-2-{peer}"));
    let proposals: Vec<(usize, Vec<u8>)> = vec![
        (
            p0,
            net.members[p0].propose_add(&kps[0]).expect("propose add"),
        ),
        (0, net.members[0].propose_add(&kps[1]).expect("propose add")),
        (
            0,
            net.members[0]
                .propose_remove(p1_leaf)
                .expect("propose remove"),
        ),
        (
            p0,
            net.members[p0]
                .propose_remove(newcomer)
                .expect("propose remove"),
        ),
    ];
    for (from, m) in &proposals {
        net.deliver(*from, m, &Received::Proposal);
    }
    net.commit(
        p0,
        "peer commits tessera proposals by reference",
        new_clients,
        |m| m.commit_pending(),
    );
    net.messages("after proposals");
}

/// External joins both ways: a client of each implementation joins by
/// external commit from a GroupInfo made by the other, with the ratchet
/// tree in the GroupInfo and out of band; every member processes the commit.
pub fn external_joins(peer: Impl, suite: u16, wire: Wire) {
    for creator in [peer, Impl::Tessera] {
        let mut net = Net::new(
            creator,
            suite,
            wire,
            &format!("external, {creator} creates"),
        );
        net.add(0, "start", &[other(creator, peer)]);
        for with_tree in [true, false] {
            // Joiner of the other implementation from the creator's GroupInfo,
            // then one of the creator's from the other member's GroupInfo.
            for (source, joiner) in [(0, other(creator, peer)), (1, creator)] {
                let step = format!(
                    "{joiner} joins from the GroupInfo of {}, tree in GroupInfo: {with_tree}",
                    net.members[source].implementation()
                );
                let info = net.members[source]
                    .group_info(with_tree)
                    .unwrap_or_else(|e| panic!("{step}: GroupInfo: {e}"));
                let tree = (!with_tree).then(|| net.members[source].ratchet_tree());
                let client = net.client(joiner, &format!("{step}-joiner"));
                let (member, commit) = client
                    .join_external(&info, tree.as_deref())
                    .unwrap_or_else(|e| panic!("{step}: {e}"));
                net.members.push(member);
                let from = net.members.len() - 1;
                net.deliver(from, &commit, &Received::Commit);
                net.check(&step);
            }
        }
        net.messages("after external joins");
        let last = net.members.len() - 1;
        net.update(last, "external joiner updates");
    }
}

/// 100-member groups created by either side: the creator adds 99 clients,
/// alternately of each implementation, in one commit; all join from one
/// Welcome; then a member of the other side updates and one removes another.
pub fn hundred_members(peer: Impl, suite: u16, wire: Wire) {
    for creator in [peer, Impl::Tessera] {
        let mut net = Net::new(creator, suite, wire, &format!("100, {creator} creates"));
        let imps: Vec<Impl> = (0..99)
            .map(|i| {
                if i % 2 == 0 {
                    other(creator, peer)
                } else {
                    creator
                }
            })
            .collect();
        net.add(0, "99 joiners", &imps);
        assert_eq!(net.members.len(), 100);
        let o = net.index_of(&format!("99 joiners-50-{}", other(creator, peer)));
        net.update(o, "the other side updates");
        let c = net.index_of(&format!("99 joiners-51-{creator}"));
        net.remove(
            c,
            "the creator's side removes one",
            &[&format!("99 joiners-98-{}", other(creator, peer))],
        );
        let sender = net.index_of(&format!("99 joiners-2-{}", other(creator, peer)));
        let m = net.members[sender]
            .encrypt(b"to 98 others")
            .expect("encrypt");
        net.deliver(sender, &m, &Received::Application(b"to 98 others".to_vec()));
    }
}

/// Tampered messages are refused and replayed ones too, on both sides.
///
/// Each message (application data, then a commit) goes from a member of one
/// side to a receiver of the other: first two tampered copies (a byte of
/// the group id changed, and the last byte, a MAC or AEAD tag), which the
/// receiver must refuse, then the genuine one, which everyone else reads;
/// then a replay of it, refused. A Tessera receiver then reads the genuine
/// message too: a failure changes nothing.
///
/// Peer behaviour (mls-rs 0.57): a PrivateMessage whose content fails to
/// decrypt deletes the sender's key for that generation, so the genuine
/// message sent afterwards is refused (`KeyMissing`); for a commit sent as
/// PrivateMessage the mls-rs receiver is then out of the group (it cannot
/// reach the next epoch). Asserted below, and the group carries on without it.
pub fn tampered_and_replayed(peer: Impl, suite: u16, wire: Wire) {
    use Impl::Tessera as T;
    let mut net = Net::new(T, suite, wire, "tamper");
    // Bystanders of each side, so that every message has other readers.
    net.add(0, "start", &[peer, peer, T]);
    let p0 = format!("start-0-{peer}");
    let t0 = net.members[0].name().to_string();
    let bystander = |imp: Impl| {
        if imp == T {
            "start-2-tessera".to_string()
        } else {
            format!("start-1-{peer}")
        }
    };
    // The peer receives last: an mls-rs receiver may leave the group.
    for (sender, receiver) in [(&p0, &t0), (&t0, &p0)] {
        let (s, r) = (net.index_of(sender), net.index_of(receiver));
        let rimp = net.members[r].implementation();
        let who = format!("{receiver} ({rimp}) from {sender}");
        // mls-rs loses the key of a PrivateMessage whose content was tampered.
        let loses_key = |private: bool| rimp == Impl::MlsRs && private;

        // Application data (always a PrivateMessage).
        let m = net.members[s].encrypt(b"genuine").expect("encrypt");
        for t in tamperings(&m) {
            let got = net.members[r].process(&t);
            assert!(
                got.is_err(),
                "{who}: tampered application data accepted: {got:?}"
            );
        }
        deliver_except(
            &mut net,
            s,
            r,
            &m,
            &Received::Application(b"genuine".to_vec()),
        );
        let got = net.members[r].process(&m);
        if loses_key(true) {
            assert!(
                got.as_ref().is_err_and(|e| e.contains("KeyMissing")),
                "{who}: mls-rs read the genuine message after a tampered one: {got:?}"
            );
        } else {
            assert_eq!(got, Ok(Received::Application(b"genuine".to_vec())), "{who}");
            let replay = net.members[r].process(&m);
            assert!(
                replay.is_err(),
                "{who}: replayed application data accepted: {replay:?}"
            );
        }
        let b = net.index_of(&bystander(rimp));
        let replay = net.members[b].process(&m);
        assert!(
            replay.is_err(),
            "{who}: replayed application data accepted by a bystander"
        );

        // A commit.
        let c = net.members[s].update().expect("update");
        for t in tamperings(&c) {
            let got = net.members[r].process(&t);
            assert!(got.is_err(), "{who}: tampered commit accepted: {got:?}");
        }
        deliver_except(&mut net, s, r, &c, &Received::Commit);
        let got = net.members[r].process(&c);
        if loses_key(wire == Wire::Private) {
            assert!(
                got.as_ref().is_err_and(|e| e.contains("KeyMissing")),
                "{who}: mls-rs processed the genuine commit after a tampered one: {got:?}"
            );
            net.members.remove(r);
            net.absent += 1;
        } else {
            assert_eq!(got, Ok(Received::Commit), "{who}");
            let replay = net.members[r].process(&c);
            assert!(
                replay.is_err(),
                "{who}: replayed commit accepted: {replay:?}"
            );
        }
        let b = net.index_of(&bystander(rimp));
        let replay = net.members[b].process(&c);
        assert!(
            replay.is_err(),
            "{who}: replayed commit accepted by a bystander"
        );
        net.check(&format!(
            "{who}: after tampered, genuine and replayed commits"
        ));
    }
    net.messages("after tampering");
}

/// Every member but `from` and `skip` processes `message`.
fn deliver_except(net: &mut Net, from: usize, skip: usize, message: &[u8], expected: &Received) {
    for (i, m) in net.members.iter_mut().enumerate() {
        if i == from || i == skip {
            continue;
        }
        let got = m.process(message);
        assert_eq!(
            got.as_ref(),
            Ok(expected),
            "{} ({})",
            m.name(),
            m.implementation()
        );
    }
}

/// Copies of `m` with one byte changed: in the group id (the MLSMessage
/// header is 4 bytes, then the group id's length and bytes), and the last
/// byte (the membership tag of a PublicMessage, the AEAD tag of a
/// PrivateMessage's content).
fn tamperings(m: &[u8]) -> Vec<Vec<u8>> {
    [6, m.len() - 1]
        .into_iter()
        .map(|i| {
            let mut t = m.to_vec();
            t[i] ^= 0x01;
            t
        })
        .collect()
}

/// `KDF.Nh` of a suite: the hash length.
fn kdf_nh(suite: u16) -> usize {
    match suite {
        1..=3 => 32,
        7 => 48,
        _ => 64,
    }
}

/// The suite a ReInit moves to: the next one `peer` has after `suite`.
fn next_suite(peer: Impl, suite: u16) -> u16 {
    let suites = peer.suites();
    let i = suites
        .iter()
        .position(|&s| s == suite)
        .expect("suite of the peer");
    suites[(i + 1) % suites.len()]
}

/// ReInit with the peer (RFC 9420 §11.2), both ways, in a group of two
/// Tessera and two peer members: the peer proposes and Tessera commits by
/// reference, then a Tessera member recreates the group; Tessera commits by
/// value, then a peer member recreates it. Every member joins the new group
/// (in the next suite) and all agree.
pub fn reinit(peer: Impl, suite: u16, wire: Wire) {
    use Impl::Tessera as T;
    let new_suite = next_suite(peer, suite);
    for peer_proposes in [true, false] {
        let label = if peer_proposes {
            "peer proposes"
        } else {
            "tessera commits"
        };
        let mut net = Net::new(T, suite, wire, &format!("reinit, {label}"));
        net.add(0, "start", &[peer, T, peer]);
        let (m0, t1, m1) = (
            net.index_of(&format!("start-0-{peer}")),
            net.index_of("start-1-tessera"),
            net.index_of(&format!("start-2-{peer}")),
        );
        let new_id = format!("reinitialized, {label}").into_bytes();
        let creator = if peer_proposes {
            let p = net.members[m0]
                .resumption()
                .expect("ReInit")
                .propose_reinit(&new_id, new_suite)
                .expect("propose ReInit");
            net.deliver(m0, &p, &Received::Proposal);
            net.commit(0, "tessera commits the peer's ReInit", Vec::new(), |m| {
                m.commit_pending()
            });
            t1
        } else {
            let c = net.members[0]
                .resumption()
                .expect("ReInit")
                .commit_reinit(&new_id, new_suite)
                .expect("commit ReInit");
            net.deliver(0, &c, &Received::Commit);
            net.check("the peer processes Tessera's ReInit");
            m1
        };

        // The old group is closed: no member commits any more.
        for m in net.members.iter_mut() {
            let name = format!("{} ({})", m.name(), m.implementation());
            assert!(
                m.resumption().expect("ReInit").refuses_to_send(),
                "{name} still commits after the ReInit"
            );
        }
        // Peer behaviour: mls-rs refuses commits after a ReInit
        // (GroupUsedAfterReInit) but still encrypts application messages
        // (RFC 9420 §12.4.2: "the client MUST NOT use the group to send
        // messages anymore"). Tessera refuses to read them.
        let late = net.members[m0].encrypt(b"after the ReInit");
        let late = late.expect("mls-rs 0.57 encrypts application data after a ReInit");
        let r = net.members[0].process(&late);
        assert!(
            r.as_ref().is_err_and(|e| e.contains("MessageAfterReInit")),
            "Tessera read a message sent after the ReInit: {r:?}"
        );

        // Everyone moves to the new group.
        let names: Vec<(String, Impl)> = net
            .members
            .iter()
            .map(|m| (m.name().to_string(), m.implementation()))
            .collect();
        let mut moving: Vec<Box<dyn crate::harness::Reiniting>> = net
            .members
            .drain(..)
            .map(|m| m.into_reinit(new_suite).expect("into ReInit"))
            .collect();
        let kps: Vec<Vec<u8>> = moving
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| *i != creator)
            .map(|(_, r)| r.key_package())
            .collect();
        let creating = moving.remove(creator);
        let (first, welcome) = creating
            .create(&kps)
            .unwrap_or_else(|e| panic!("{}: create the new group: {e}", names[creator].0));
        // Peer behaviour (mls-rs 0.57): the reinit PSK id in its Welcome has
        // a psk_nonce of the old suite's KDF.Nh (it is made by the old
        // group), not the new group's, whose KDF the PSK is injected with
        // (RFC 9420 §12.1.4: a psk_nonce not of length KDF.Nh is invalid;
        // §8.4: the Welcome names the same PSKs as the commit). Where the two
        // lengths differ, Tessera refuses the Welcome (PskNonceLength) and
        // the mls-rs members carry on alone.
        let nonce_mismatch = names[creator].1 == Impl::MlsRs && kdf_nh(suite) != kdf_nh(new_suite);
        let mut members = vec![first];
        let mut absent = 0;
        for (r, (name, imp)) in moving.into_iter().zip(
            names
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != creator)
                .map(|(_, n)| n),
        ) {
            match r.join(&welcome) {
                Err(e) if nonce_mismatch && *imp == T => {
                    assert!(e.contains("PskNonceLength"), "{name}: {e}");
                    absent += 1;
                }
                Ok(_) if nonce_mismatch && *imp == T => {
                    panic!("{name} joined with a psk_nonce of the wrong length")
                }
                Ok(m) => members.push(m),
                Err(e) => panic!("{name}: join the new group: {e}"),
            }
        }
        let mut new = Net {
            suite: new_suite,
            wire,
            members,
            absent,
        };
        new.check(&format!("{label}: new group"));
        assert_eq!(new.members[0].epoch(), 1);
        new.messages("new group");
        let p = new.index_of(&format!("start-0-{peer}"));
        new.update(p, "peer updates in the new group");
        new.update(0, "first member updates in the new group");
    }
}

/// Branching with the peer (RFC 9420 §11.3), both ways: a peer member
/// branches with a member of each side, then a Tessera member does; the
/// subgroup members join with the parent's resumption PSK and all agree;
/// the parent group carries on.
pub fn branch(peer: Impl, suite: u16, wire: Wire) {
    use Impl::Tessera as T;
    let mut net = Net::new(T, suite, wire, "branch");
    net.add(0, "start", &[peer, T, peer]);
    let m0 = format!("start-0-{peer}");
    let m1 = format!("start-2-{peer}");
    let t0 = net.members[0].name().to_string();
    let t1 = "start-1-tessera".to_string();
    for (brancher, joiners) in [(&m0, [&t0, &m1]), (&t1, [&m0, &t0])] {
        let step = format!("{brancher} branches");
        let kps: Vec<Vec<u8>> = joiners
            .iter()
            .map(|j| {
                let i = net.index_of(j);
                net.members[i].key_package()
            })
            .collect();
        let b = net.index_of(brancher);
        let (first, welcome) = net.members[b]
            .resumption()
            .expect("branch")
            .branch(step.as_bytes(), &kps)
            .unwrap_or_else(|e| panic!("{step}: {e}"));
        let mut members = vec![first];
        for j in joiners {
            let i = net.index_of(j);
            members.push(
                net.members[i]
                    .resumption()
                    .expect("branch")
                    .join_branch(&welcome)
                    .unwrap_or_else(|e| panic!("{step}: {j} joins: {e}")),
            );
        }
        let mut sub = Net {
            suite,
            wire,
            members,
            absent: 0,
        };
        sub.check(&step);
        assert_eq!(sub.members[0].epoch(), 1);
        sub.messages(&step);
        sub.update(1, &format!("{step}: a joiner updates"));
        // The parent group is unchanged and carries on.
        net.check(&format!("{step}: parent"));
        let p = net.index_of(&m1);
        net.update(p, &format!("{step}: parent continues"));
    }
}
