//! Several clients talking through an in-memory delivery service.
//!
//! ```text
//! cargo run --example delivery_service
//! ```
//!
//! The delivery service does what a real one does for MLS: it keeps a
//! directory of published KeyPackages, accepts at most one commit per group
//! epoch (the first to arrive wins; the loser discards its commit and tries
//! again in the next epoch), fans every message out to the other members, and
//! hands Welcomes to the new members. Here it is a struct in memory; in an app
//! it is a server, and the bytes cross a network.
//!
//! Along the way: two members commit at the same time, a message overtakes the
//! commit it depends on (the receiver holds it until the commit arrives), a
//! client restarts from its store in the middle of the conversation, a member
//! joins by external commit from a published GroupInfo, another leaves, and
//! everyone compares the epoch's safety code.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tessera::client::{Client, Event, ExternalJoin};
use tessera::codec::Decode;
use tessera::messages::{Credential, MlsMessage};
use tessera::storage::MemoryStore;

const GROUP: &str = "book-club";

/// The delivery service: a KeyPackage directory, one inbox per client, and
/// the epoch of each group (to order commits).
#[derive(Default)]
struct DeliveryService {
    key_packages: HashMap<String, VecDeque<Vec<u8>>>,
    inboxes: HashMap<String, VecDeque<Vec<u8>>>,
    /// Each group's members (by name) and current epoch.
    groups: HashMap<String, (Vec<String>, u64)>,
    group_infos: HashMap<String, Vec<u8>>,
}

/// What the delivery service says to a commit.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Rejected,
}

impl DeliveryService {
    fn publish(&mut self, name: &str, key_packages: Vec<Vec<u8>>) {
        self.key_packages
            .entry(name.into())
            .or_default()
            .extend(key_packages);
    }

    fn claim_key_package(&mut self, name: &str) -> Vec<u8> {
        self.key_packages
            .get_mut(name)
            .and_then(VecDeque::pop_front)
            .expect("a published KeyPackage")
    }

    fn create(&mut self, group: &str, creator: &str) {
        self.groups.insert(group.into(), (vec![creator.into()], 0));
    }

    /// An application message or proposal: to every other member.
    fn send(&mut self, group: &str, from: &str, message: Vec<u8>) {
        let (members, _) = &self.groups[group];
        for m in members.iter().filter(|m| *m != from) {
            self.inboxes
                .entry(m.clone())
                .or_default()
                .push_back(message.clone());
        }
    }

    /// A commit: accepted if it is for the group's current epoch (the first
    /// one wins), then fanned out; `joined` and `left` update the member list.
    fn commit(
        &mut self,
        group: &str,
        from: &str,
        commit: Vec<u8>,
        joined: &[&str],
        left: &[&str],
    ) -> Verdict {
        let epoch = match MlsMessage::decode_exact(&commit) {
            Ok(MlsMessage::PublicMessage(m)) => m.content.epoch,
            Ok(MlsMessage::PrivateMessage(m)) => m.epoch,
            _ => return Verdict::Rejected,
        };
        let current = self.groups[group].1;
        if epoch != current {
            return Verdict::Rejected;
        }
        self.send(group, from, commit);
        let (members, epoch) = self.groups.get_mut(group).expect("group");
        members.retain(|m| !left.contains(&m.as_str()));
        members.extend(joined.iter().map(|j| j.to_string()));
        *epoch += 1;
        Verdict::Accepted
    }

    fn welcome(&mut self, to: &str, welcome: Vec<u8>) {
        self.inboxes
            .entry(to.into())
            .or_default()
            .push_back(welcome);
    }

    fn take(&mut self, name: &str) -> Vec<Vec<u8>> {
        self.inboxes
            .get_mut(name)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

/// A device: its client and where its state lives.
struct Device {
    name: &'static str,
    client: Client,
    store: Arc<MemoryStore>,
}

impl Device {
    fn new(name: &'static str) -> tessera::Result<Self> {
        let store = Arc::new(MemoryStore::new());
        let client = Client::create(Credential::basic(name), store.clone())?;
        Ok(Self {
            name,
            client,
            store,
        })
    }

    /// Reads the inbox and prints what happened.
    fn read(&self, ds: &mut DeliveryService) -> tessera::Result<()> {
        for bytes in ds.take(self.name) {
            for event in self.client.process(&bytes)?.events {
                describe(self.name, &event);
            }
        }
        Ok(())
    }
}

fn describe(who: &str, event: &Event) {
    let name = |c: &Credential| match c {
        Credential::Basic(id) => String::from_utf8_lossy(id).into_owned(),
        other => format!("{other:?}"),
    };
    match event {
        Event::Application(m) => println!(
            "{who:>6} reads {:?} from {} (epoch {})",
            String::from_utf8_lossy(&m.data),
            name(&m.sender.credential),
            m.epoch
        ),
        Event::CommitMerged(c) => {
            let list = |v: &[tessera::client::MemberInfo]| {
                v.iter()
                    .map(|m| name(&m.credential))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut what = Vec::new();
            if !c.added.is_empty() {
                what.push(format!("added {}", list(&c.added)));
            }
            if !c.removed.is_empty() {
                what.push(format!("removed {}", list(&c.removed)));
            }
            if what.is_empty() {
                what.push("keys updated".into());
            }
            println!("{who:>6} enters epoch {}: {}", c.epoch, what.join("; "));
        }
        Event::Joined { epoch, members, .. } => println!(
            "{who:>6} joined in epoch {epoch} with {} members",
            members.len()
        ),
        Event::ProposalReceived(p) => println!("{who:>6} received a proposal: {:?}", p.kind),
        Event::Removed { epoch, .. } => {
            println!("{who:>6} was removed (stays in epoch {epoch}, read-only)")
        }
        Event::MessageHeld { epoch, .. } => {
            println!("{who:>6} holds a message for epoch {epoch} until its commit arrives")
        }
        other => println!("{who:>6}: {other:?}"),
    }
}

/// The epoch's safety code: the first bytes of the epoch authenticator.
fn safety_code(d: &Device) -> tessera::Result<String> {
    let auth = d.client.epoch_authenticator(GROUP)?;
    Ok(auth
        .as_bytes()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn compare_codes(devices: &[&Device]) -> tessera::Result<()> {
    let codes: Vec<String> = devices
        .iter()
        .map(|d| safety_code(d))
        .collect::<tessera::Result<_>>()?;
    let names: Vec<&str> = devices.iter().map(|d| d.name).collect();
    assert!(codes.windows(2).all(|w| w[0] == w[1]), "split view!");
    println!("safety code of {}: {}", names.join(", "), codes[0]);
    Ok(())
}

fn main() -> tessera::Result<()> {
    let mut ds = DeliveryService::default();
    let alice = Device::new("alice")?;
    let bob = Device::new("bob")?;
    let mut carol = Device::new("carol")?;
    let dave = Device::new("dave")?;
    for d in [&bob, &carol] {
        ds.publish(d.name, d.client.generate_key_packages(2)?);
    }

    println!("-- alice creates the group and adds bob and carol");
    alice.client.create_group(GROUP)?;
    ds.create(GROUP, "alice");
    let kps = [ds.claim_key_package("bob"), ds.claim_key_package("carol")];
    let added = alice.client.add(GROUP, &kps)?;
    let verdict = ds.commit(GROUP, "alice", added.commit, &["bob", "carol"], &[]);
    assert_eq!(verdict, Verdict::Accepted);
    alice.client.confirm_commit(GROUP)?;
    ds.welcome("bob", added.welcome.clone());
    ds.welcome("carol", added.welcome);
    bob.read(&mut ds)?;
    carol.read(&mut ds)?;
    compare_codes(&[&alice, &bob, &carol])?;

    println!("\n-- everyone says hello");
    for d in [&alice, &bob, &carol] {
        let text = format!("hello from {}", d.name);
        ds.send(GROUP, d.name, d.client.encrypt(GROUP, text.as_bytes())?);
    }
    for d in [&alice, &bob, &carol] {
        d.read(&mut ds)?;
    }

    println!("\n-- bob and carol both commit; the delivery service takes bob's");
    let from_bob = bob.client.update(GROUP)?;
    let from_carol = carol.client.update(GROUP)?;
    assert_eq!(
        ds.commit(GROUP, "bob", from_bob.commit, &[], &[]),
        Verdict::Accepted
    );
    bob.client.confirm_commit(GROUP)?;
    assert_eq!(
        ds.commit(GROUP, "carol", from_carol.commit, &[], &[]),
        Verdict::Rejected
    );
    carol.client.discard_commit(GROUP)?;
    println!(" carol's commit was rejected: she discards it");
    // Bob speaks in the new epoch; the network reorders carol's inbox so
    // that his message arrives before the commit it depends on.
    let early = bob.client.encrypt(GROUP, b"new keys, same book")?;
    ds.send(GROUP, "bob", early);
    let mut inbox = ds.take("carol");
    inbox.reverse();
    for bytes in inbox {
        for event in carol.client.process(&bytes)?.events {
            describe("carol", &event);
        }
    }
    alice.read(&mut ds)?;

    println!("\n-- carol's phone restarts: her client is rebuilt from its store");
    let store = carol.store.clone();
    drop(carol);
    carol = Device {
        name: "carol",
        client: Client::open(store.clone())?,
        store,
    };
    let msg = alice.client.encrypt(GROUP, b"still there, carol?")?;
    ds.send(GROUP, "alice", msg);
    carol.read(&mut ds)?;
    bob.read(&mut ds)?;
    compare_codes(&[&alice, &bob, &carol])?;

    println!("\n-- dave joins by external commit from the group's published GroupInfo");
    ds.group_infos
        .insert(GROUP.into(), alice.client.group_info(GROUP)?);
    let (joined, commit) = dave
        .client
        .join_external(&ds.group_infos[GROUP], ExternalJoin::default())?;
    describe("dave", &joined);
    assert_eq!(
        ds.commit(GROUP, "dave", commit, &["dave"], &[]),
        Verdict::Accepted
    );
    for d in [&alice, &bob, &carol] {
        d.read(&mut ds)?;
    }
    compare_codes(&[&alice, &bob, &carol, &dave])?;

    println!("\n-- carol leaves: she proposes her removal, alice commits it");
    let leave = carol.client.leave(GROUP)?;
    ds.send(GROUP, "carol", leave);
    alice.read(&mut ds)?;
    bob.read(&mut ds)?;
    dave.read(&mut ds)?;
    let out = alice.client.commit(GROUP)?;
    assert_eq!(
        ds.commit(GROUP, "alice", out.commit.clone(), &[], &["carol"]),
        Verdict::Accepted
    );
    alice.client.confirm_commit(GROUP)?;
    // The removal reaches carol too (the service sends it before dropping her).
    for event in carol.client.process(&out.commit)?.events {
        describe("carol", &event);
    }
    for d in [&bob, &dave] {
        d.read(&mut ds)?;
    }
    let secret = alice.client.encrypt(GROUP, b"the ending is a surprise")?;
    ds.send(GROUP, "alice", secret.clone());
    bob.read(&mut ds)?;
    dave.read(&mut ds)?;
    match carol.client.process(&secret) {
        Ok(_) => panic!("carol must not read this"),
        Err(e) => println!(" carol cannot read what follows: {e}"),
    }
    compare_codes(&[&alice, &bob, &dave])?;

    let bytes = alice.store.bytes_held();
    println!(
        "\nalice's store holds {} records, {bytes} bytes; {} writes in {} atomic batches",
        alice.store.len(),
        alice.store.stats().writes,
        alice.store.stats().batches
    );
    Ok(())
}
