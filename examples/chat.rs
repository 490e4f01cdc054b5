//! A group chat: several clients, each keeping its state in its own
//! encrypted SQLite file, talking through a small delivery service.
//!
//! ```text
//! cargo run --release --example chat
//! ```
//!
//! Each client is a [`Client`] on a [`SqliteStore`]: one file per device,
//! every record sealed under a 32-byte key that an app would keep in the
//! Android Keystore or the iOS Keychain. Every operation (a message
//! decrypted, a commit merged) is one transaction, so the file always
//! holds a complete state, and a client restarted from it continues where
//! it was.
//!
//! The delivery service does what a real one does for MLS: it keeps the
//! published KeyPackages, fans messages out to the members, and orders the
//! handshakes of each group: one commit per epoch is accepted (the first to
//! arrive), a commit for an epoch that is over is refused, and its sender
//! discards it. In an app it is a server and the bytes cross a network;
//! here it is a struct in memory.
//!
//! The story: Alice creates a group and adds Bob and Carol; they talk; Bob
//! and Carol commit at the same time (Bob's wins); Carol's phone restarts
//! in the middle of the conversation and reads what she missed from her
//! file; Bob adds Dave; Alice removes him; Carol leaves; at each step the
//! members compare a safety code derived from the epoch authenticator.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use tessera::client::{Client, Event, MemberInfo, ProposalKind, ProposalSender};
use tessera::codec::Decode;
use tessera::messages::{Credential, MlsMessage};
use tessera::storage::{SqliteStore, StoreKey};

const GROUP: &[u8] = b"book-club";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

// --- The delivery service ---------------------------------------------------

/// What the service knows of a group: who receives its messages, and which
/// epoch its next commit must come from.
struct GroupLog {
    members: Vec<String>,
    epoch: u64,
}

#[derive(Default)]
struct DeliveryService {
    key_packages: HashMap<String, VecDeque<Vec<u8>>>,
    inboxes: HashMap<String, VecDeque<Vec<u8>>>,
    groups: HashMap<Vec<u8>, GroupLog>,
}

impl DeliveryService {
    fn publish(&mut self, name: &str, key_packages: Vec<Vec<u8>>) {
        self.key_packages
            .entry(name.into())
            .or_default()
            .extend(key_packages);
    }

    fn claim_key_package(&mut self, name: &str) -> Result<Vec<u8>> {
        self.key_packages
            .get_mut(name)
            .and_then(VecDeque::pop_front)
            .ok_or_else(|| format!("{name} has no KeyPackage left").into())
    }

    fn create_group(&mut self, group: &[u8], creator: &str) {
        let log = GroupLog {
            members: vec![creator.into()],
            epoch: 0,
        };
        self.groups.insert(group.to_vec(), log);
    }

    fn deliver(&mut self, to: &str, message: &[u8]) {
        self.inboxes
            .entry(to.into())
            .or_default()
            .push_back(message.to_vec());
    }

    /// An application message or a proposal: to every other member.
    fn send(&mut self, group: &[u8], from: &str, message: &[u8]) {
        let members = self.groups[group].members.clone();
        for m in members.iter().filter(|m| *m != from) {
            self.deliver(m, message);
        }
    }

    /// A commit: accepted if it comes from the group's current epoch (the
    /// first one wins), then sent to every other member, removed ones
    /// included (so that they learn it); `joined` and `left` update the
    /// list of members. Returns whether it was accepted.
    fn commit(
        &mut self,
        group: &[u8],
        from: &str,
        commit: &[u8],
        joined: &[&str],
        left: &[&str],
    ) -> Result<bool> {
        let epoch = match MlsMessage::decode_exact(commit)? {
            MlsMessage::PublicMessage(m) => m.content.epoch,
            MlsMessage::PrivateMessage(m) => m.epoch,
            _ => return Err("not a commit".into()),
        };
        if epoch != self.groups[group].epoch {
            return Ok(false);
        }
        self.send(group, from, commit);
        let log = self.groups.get_mut(group).ok_or("no such group")?;
        log.members.retain(|m| !left.contains(&m.as_str()));
        log.members.extend(joined.iter().map(|j| j.to_string()));
        log.epoch += 1;
        Ok(true)
    }

    fn take(&mut self, name: &str) -> Vec<Vec<u8>> {
        self.inboxes
            .get_mut(name)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

// --- The devices -----------------------------------------------------------

/// A device: a client in its own database file.
struct Device {
    name: &'static str,
    path: PathBuf,
    key: StoreKey,
    client: Client,
}

impl Device {
    /// A new client in `<dir>/<name>.db`, sealed under a fresh key.
    fn create(dir: &Path, name: &'static str) -> Result<Self> {
        let path = dir.join(format!("{name}.db"));
        // An app keeps this key in the platform's key store.
        let key = StoreKey::generate()?;
        let client = Client::create(Credential::basic(name), SqliteStore::open(&path, &key)?)?;
        Ok(Self {
            name,
            path,
            key,
            client,
        })
    }

    /// The app stops: the client is dropped (its file is closed); what is
    /// left is what the app keeps outside the client: the path and the key.
    fn stop(self) -> Stopped {
        Stopped {
            name: self.name,
            path: self.path,
            key: self.key,
        }
    }

    /// Processes the inbox, printing what happened.
    fn read(&self, ds: &mut DeliveryService) -> Result<()> {
        for bytes in ds.take(self.name) {
            for event in self.client.process(&bytes)?.events {
                describe(self.name, &event);
            }
        }
        Ok(())
    }

    /// Sends a message to the group.
    fn say(&self, ds: &mut DeliveryService, text: &str) -> Result<()> {
        let message = self.client.encrypt(GROUP, text.as_bytes())?;
        println!("{:<6} > {text:?}", self.name);
        ds.send(GROUP, self.name, &message);
        Ok(())
    }
}

/// A device whose app is not running.
struct Stopped {
    name: &'static str,
    path: PathBuf,
    key: StoreKey,
}

impl Stopped {
    /// The app starts again: the client is rebuilt from its file.
    fn start(self) -> Result<Device> {
        let client = Client::open(SqliteStore::open(&self.path, &self.key)?)?;
        Ok(Device {
            name: self.name,
            path: self.path,
            key: self.key,
            client,
        })
    }
}

fn name_of(credential: &Credential) -> String {
    match credential {
        Credential::Basic(id) => String::from_utf8_lossy(id).into_owned(),
        other => format!("{other:?}"),
    }
}

fn names(members: &[MemberInfo]) -> String {
    members
        .iter()
        .map(|m| name_of(&m.credential))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(who: &str, event: &Event) {
    match event {
        Event::Application(m) => println!(
            "{who:<6} < {}: {:?}",
            name_of(&m.sender.credential),
            String::from_utf8_lossy(&m.data),
        ),
        Event::CommitMerged(c) => {
            let mut what = Vec::new();
            if !c.added.is_empty() {
                what.push(format!("{} added", names(&c.added)));
            }
            if !c.removed.is_empty() {
                what.push(format!("{} removed", names(&c.removed)));
            }
            if what.is_empty() {
                what.push("new keys".into());
            }
            println!("{who:<6}   epoch {}: {}", c.epoch, what.join(", "));
        }
        Event::Joined { epoch, members, .. } => {
            println!("{who:<6}   joined in epoch {epoch}: {}", names(members))
        }
        Event::ProposalReceived(p) => {
            let from = match &p.sender {
                ProposalSender::Member(m) => name_of(&m.credential),
                other => format!("{other:?}"),
            };
            let what = match &p.kind {
                ProposalKind::Remove { leaf } => format!("remove the member at leaf {}", leaf.0),
                other => format!("{other:?}"),
            };
            println!("{who:<6}   proposal from {from}: {what}");
        }
        Event::Removed { epoch, .. } => {
            println!(
                "{who:<6}   removed from the group (its history stays readable, epoch {epoch})"
            )
        }
        other => println!("{who:<6}   {other:?}"),
    }
}

/// Four groups of five digits from the epoch authenticator (RFC 9420
/// §8.7): members who see the same code are in the same epoch with the
/// same keys. Users compare it out of band, like a safety number.
fn safety_code(d: &Device) -> Result<String> {
    let auth = d.client.epoch_authenticator(GROUP)?;
    let digits: Vec<String> = auth
        .as_bytes()
        .chunks(5)
        .take(4)
        .map(|c| c.iter().fold(0u64, |n, b| n << 8 | u64::from(*b)) % 100_000)
        .map(|n| format!("{n:05}"))
        .collect();
    Ok(digits.join(" "))
}

fn compare_codes(devices: &[&Device]) -> Result<()> {
    let epoch = devices[0].client.status(GROUP)?.epoch;
    let codes: Vec<String> = devices
        .iter()
        .map(|d| safety_code(d))
        .collect::<Result<_>>()?;
    let who: Vec<&str> = devices.iter().map(|d| d.name).collect();
    if codes.windows(2).all(|w| w[0] == w[1]) {
        println!(
            "safety code of epoch {epoch}: {} (same for {})",
            codes[0],
            who.join(", ")
        );
        Ok(())
    } else {
        Err(format!("safety codes differ: {codes:?}: the group forked").into())
    }
}

fn main() -> Result<()> {
    println!("Tessera chat: MLS (RFC 9420) clients, each in its own encrypted SQLite file\n");
    let dir = tempfile::tempdir()?;
    println!("stores in a temporary folder (deleted at the end):");
    let alice = Device::create(dir.path(), "alice")?;
    let bob = Device::create(dir.path(), "bob")?;
    let carol = Device::create(dir.path(), "carol")?;
    let dave = Device::create(dir.path(), "dave")?;
    for d in [&alice, &bob, &carol, &dave] {
        println!(
            "  {:<6} {}, sealed under a 32-byte key of its own",
            d.name,
            d.path.file_name().and_then(|f| f.to_str()).unwrap_or("?")
        );
    }
    let mut ds = DeliveryService::default();
    for d in [&bob, &carol, &dave] {
        ds.publish(d.name, d.client.generate_key_packages(2)?);
    }
    println!("  bob, carol and dave publish two KeyPackages each");

    println!("\n-- alice creates the group and adds bob and carol");
    alice.client.create_group(GROUP)?;
    ds.create_group(GROUP, "alice");
    let kps = [ds.claim_key_package("bob")?, ds.claim_key_package("carol")?];
    let added = alice.client.add(GROUP, &kps)?;
    if !ds.commit(GROUP, "alice", &added.commit, &["bob", "carol"], &[])? {
        return Err("the first commit was refused".into());
    }
    for event in alice.client.confirm_commit(GROUP)? {
        describe("alice", &event);
    }
    ds.deliver("bob", &added.welcome);
    ds.deliver("carol", &added.welcome);
    bob.read(&mut ds)?;
    carol.read(&mut ds)?;
    compare_codes(&[&alice, &bob, &carol])?;

    println!("\n-- they talk");
    alice.say(&mut ds, "Who has finished chapter 3?")?;
    bob.read(&mut ds)?;
    carol.read(&mut ds)?;
    bob.say(&mut ds, "Me. The lighthouse scene!")?;
    carol.say(&mut ds, "Not yet, no spoilers please")?;
    alice.read(&mut ds)?;
    bob.read(&mut ds)?;
    carol.read(&mut ds)?;

    println!("\n-- bob and carol update their keys at the same time: the service takes bob's");
    let from_bob = bob.client.update(GROUP)?;
    let from_carol = carol.client.update(GROUP)?;
    let bob_accepted = ds.commit(GROUP, "bob", &from_bob.commit, &[], &[])?;
    let carol_accepted = ds.commit(GROUP, "carol", &from_carol.commit, &[], &[])?;
    assert!(bob_accepted && !carol_accepted);
    for event in bob.client.confirm_commit(GROUP)? {
        describe("bob", &event);
    }
    carol.client.discard_commit(GROUP)?;
    println!("carol    her commit came second: she discards it");
    alice.read(&mut ds)?;
    carol.read(&mut ds)?;
    compare_codes(&[&alice, &bob, &carol])?;

    println!("\n-- carol's phone restarts while alice and bob keep talking");
    let epoch = carol.client.status(GROUP)?.epoch;
    let stopped = carol.stop();
    alice.say(&mut ds, "Chapter 4 for next week, then")?;
    bob.say(&mut ds, "Fine by me")?;
    alice.read(&mut ds)?;
    bob.read(&mut ds)?;
    let wrong = SqliteStore::open(&stopped.path, &StoreKey::generate()?);
    println!(
        "carol    opening carol.db with another key: {}",
        wrong.err().map_or("opened?!".into(), |e| e.to_string())
    );
    let carol = stopped.start()?;
    let status = carol.client.status(GROUP)?;
    if status.epoch != epoch {
        return Err("carol's state was not kept".into());
    }
    println!(
        "carol    reopened carol.db: {} in epoch {}, {} members, as she left it",
        String::from_utf8_lossy(GROUP),
        status.epoch,
        status.member_count
    );
    carol.read(&mut ds)?;
    compare_codes(&[&alice, &bob, &carol])?;

    println!("\n-- bob adds dave");
    let kp = ds.claim_key_package("dave")?;
    let added = bob.client.add(GROUP, &[kp])?;
    if !ds.commit(GROUP, "bob", &added.commit, &["dave"], &[])? {
        return Err("bob's commit was refused".into());
    }
    for event in bob.client.confirm_commit(GROUP)? {
        describe("bob", &event);
    }
    ds.deliver("dave", &added.welcome);
    for d in [&alice, &carol, &dave] {
        d.read(&mut ds)?;
    }
    dave.say(&mut ds, "Hi all, thanks for having me")?;
    for d in [&alice, &bob, &carol] {
        d.read(&mut ds)?;
    }
    compare_codes(&[&alice, &bob, &carol, &dave])?;

    println!("\n-- alice removes dave");
    let dave_leaf = dave.client.status(GROUP)?.own_leaf;
    let out = alice.client.remove(GROUP, &[dave_leaf])?;
    if !ds.commit(GROUP, "alice", &out.commit, &[], &["dave"])? {
        return Err("alice's commit was refused".into());
    }
    for event in alice.client.confirm_commit(GROUP)? {
        describe("alice", &event);
    }
    for d in [&bob, &carol, &dave] {
        d.read(&mut ds)?;
    }
    let after = alice.client.encrypt(GROUP, b"Dave, sorry: members only")?;
    println!("alice  > \"Dave, sorry: members only\"");
    ds.send(GROUP, "alice", &after);
    bob.read(&mut ds)?;
    carol.read(&mut ds)?;
    match dave.client.process(&after) {
        Ok(_) => return Err("dave read a message after his removal".into()),
        Err(e) => println!("dave     cannot read it: {e}"),
    }
    compare_codes(&[&alice, &bob, &carol])?;

    println!("\n-- carol leaves: she proposes her own removal, bob commits it");
    let leave = carol.client.leave(GROUP)?;
    ds.send(GROUP, "carol", &leave);
    alice.read(&mut ds)?;
    bob.read(&mut ds)?;
    let out = bob.client.commit(GROUP)?;
    if !ds.commit(GROUP, "bob", &out.commit, &[], &["carol"])? {
        return Err("bob's commit was refused".into());
    }
    for event in bob.client.confirm_commit(GROUP)? {
        describe("bob", &event);
    }
    alice.read(&mut ds)?;
    carol.read(&mut ds)?;
    alice.say(&mut ds, "Just the two of us, then")?;
    bob.read(&mut ds)?;
    compare_codes(&[&alice, &bob])?;

    // Closing a store checkpoints its write-ahead log into the file.
    drop((alice, bob, carol, dave));
    println!("\nthe files, closed (each operation was one transaction in them):");
    for name in ["alice", "bob", "carol", "dave"] {
        let path = dir.path().join(format!("{name}.db"));
        println!(
            "  {:<9} {:>6} bytes",
            format!("{name}.db"),
            std::fs::metadata(&path)?.len()
        );
    }
    println!("\ndone: every member agreed at every epoch; removed members were locked out.");
    Ok(())
}
