//! Crash test of the SQLite store: a member of a group, persisted in SQLite,
//! is killed with SIGKILL at random points of 1,000 random operations, and
//! must come back, every time, in the state after its last reported
//! operation or after the one in flight, and go on with the conversation.
//!
//! ```text
//! cargo test --test sqlite_crash             # TESSERA_CRASH_SEED=<n> to replay a run
//! ```
//!
//! The test binary plays two roles (it has no libtest harness):
//!
//! * **The child** (`TESSERA_CRASH_CHILD=<database>` in its environment) is
//!   the member "child": a [`Client`] in a [`SqliteStore`]. It reads one
//!   command per line on stdin (process these bytes, send this text,
//!   commit an update, add this KeyPackage, remove that leaf, confirm or
//!   discard its commit, report its status), runs it, and only once the
//!   call has returned writes one reply line (`@ ...`) and flushes it.
//! * **The parent** is the delivery service and every other member (clients
//!   in memory, which never crash). It draws the operations from a seeded
//!   generator: messages from peers to the child, messages from the child
//!   (which every peer must decrypt), peers' commits (updates, adds,
//!   removes, some covering proposals the child cached), the child's own
//!   commits (update, add, remove) and their confirmation. Before about one
//!   operation in ten, it plans a kill: it sends the command, waits a
//!   random time of the order of the operation's duration, kills the child
//!   with SIGKILL and reads what the child reported before dying.
//!
//! After each kill the parent starts a new child, which reopens the
//! database (sometimes killed again while opening), and checks, from the
//! child's status (epoch, epoch authenticator, pending commit, cached
//! proposals, members) and by feeding messages again, that:
//!
//! * the state is that after the last reported operation, or, if the kill
//!   came before the reply, that or the state after the operation in flight
//!   (which is then completed: the message processed again, the commit
//!   confirmed again; an unreported commit of the child, which never left
//!   it, is discarded);
//! * a message the child decrypted never decrypts again (a consumed key
//!   stays consumed), the last ones are fed again after every restart;
//! * a commit is never lost (the epoch and its authenticator match the
//!   peers') nor applied twice (feeding it again fails, the epoch stays);
//! * every message sent to the child afterwards decrypts, and every
//!   message it sends decrypts at every peer (no generation is reused).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tessera::client::{Client, Event};
use tessera::messages::Credential;
use tessera::storage::{
    Batch, MemoryStore, RecordKind, SqliteStore, Storage, StorageError, StoreKey, Value,
};
use tessera::tree_math::LeafIndex;

const GROUP: &[u8] = b"crash-test";
const OPERATIONS: usize = 1000;
/// A kill is planned every 1 to `MAX_GAP` operations: at least
/// 1000 / 19 = 53 kills.
const MAX_GAP: u64 = 19;
const MIN_KILLS: usize = 50;
const MAX_MEMBERS: usize = 8;
const MIN_PEERS: usize = 2;
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);
const KEY: [u8; 32] = [0x5c; 32];

fn main() -> ExitCode {
    if let Ok(path) = std::env::var("TESSERA_CRASH_CHILD") {
        child(Path::new(&path));
        return ExitCode::SUCCESS;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("sqlite_crash: test");
        return ExitCode::SUCCESS;
    }
    // Like libtest: a name filter that does not match skips the test.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| "sqlite_crash".contains(f.as_str())) {
        println!("sqlite_crash: filtered out");
        return ExitCode::SUCCESS;
    }
    parent();
    ExitCode::SUCCESS
}

// --- The child -------------------------------------------------------------

/// The child's store: the SQLite store, noting when each write starts and
/// ends, so that the parent can aim some kills inside the transaction.
struct Probe {
    store: SqliteStore,
    writes: Mutex<Vec<(Instant, Instant)>>,
}

impl Storage for Probe {
    fn get(&self, kind: RecordKind, key: &[u8]) -> Result<Option<Value>, StorageError> {
        self.store.get(kind, key)
    }

    fn scan(&self, kind: RecordKind, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Value)>, StorageError> {
        self.store.scan(kind, prefix)
    }

    fn apply(&self, batch: Batch) -> Result<(), StorageError> {
        let start = Instant::now();
        let result = self.store.apply(batch);
        self.writes
            .lock()
            .expect("lock")
            .push((start, Instant::now()));
        result
    }
}

fn child(path: &Path) {
    let store = SqliteStore::open(path, &StoreKey::new(KEY)).expect("open the store");
    let has_client = store
        .get(RecordKind::Identity, &[])
        .expect("read")
        .is_some();
    let probe = Arc::new(Probe {
        store,
        writes: Mutex::new(Vec::new()),
    });
    let client = if has_client {
        Client::open(probe.clone()).expect("open the client")
    } else {
        Client::create(Credential::basic("child"), probe.clone()).expect("create the client")
    };
    let mut rng = Rng(u64::from(std::process::id()));
    reply("ready");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        // "Started": the parent times the kills it aims from here.
        reply(">");
        let start = Instant::now();
        let out = run(&client, &line).unwrap_or_else(|e| format!("err {e}"));
        // When the operation's write started and ended (microseconds after
        // the command was read).
        let writes = std::mem::take(&mut *probe.writes.lock().expect("lock"));
        let (from, to) = match (writes.first(), writes.last()) {
            (Some(first), Some(last)) => (
                first.0.duration_since(start).as_micros(),
                last.1.duration_since(start).as_micros(),
            ),
            _ => (0, 0),
        };
        // The operation has returned; the report comes a little later (as
        // in an app, which shows the message first, say), so that kills
        // also land between the two.
        sleep_precisely(Duration::from_micros(rng.range(0, 2000)));
        reply(&format!("{out} |{from},{to}"));
    }
}

fn reply(text: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(format!("@ {text}\n").as_bytes())
        .and_then(|()| out.flush())
        .expect("stdout");
}

fn run(client: &Client, line: &str) -> tessera::Result<String> {
    let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
    let bytes = || hex::decode(arg).expect("hex argument");
    Ok(match cmd {
        "key_package" => hex::encode(client.generate_key_packages(1)?.remove(0)),
        "process" => {
            let processed = client.process(&bytes())?;
            let tokens: Vec<String> = processed
                .events
                .iter()
                .map(|e| match e {
                    Event::Application(m) => format!("data:{}", hex::encode(&m.data)),
                    Event::CommitMerged(c) => format!("merged:{}", c.epoch),
                    Event::ProposalReceived(_) => "proposal".into(),
                    Event::Joined { epoch, .. } => format!("joined:{epoch}"),
                    other => format!("other:{other:?}").replace(' ', "_"),
                })
                .collect();
            format!("events {}", tokens.join(" "))
        }
        "send" => format!("ct {}", hex::encode(client.encrypt(GROUP, &bytes())?)),
        "update" => format!("commit {}", hex::encode(client.update(GROUP)?.commit)),
        "add" => {
            let added = client.add(GROUP, &[bytes()])?;
            format!(
                "commit {} {}",
                hex::encode(added.commit),
                hex::encode(added.welcome)
            )
        }
        "remove" => {
            let leaf = LeafIndex(arg.parse().expect("a leaf"));
            format!(
                "commit {}",
                hex::encode(client.remove(GROUP, &[leaf])?.commit)
            )
        }
        "confirm" => {
            let events = client.confirm_commit(GROUP)?;
            match events.first() {
                Some(Event::CommitMerged(c)) => format!("merged {}", c.epoch),
                other => format!("other {other:?}"),
            }
        }
        "discard" => format!("discarded {}", client.discard_commit(GROUP)?),
        "status" => {
            let s = client.status(GROUP)?;
            format!(
                "status {} {} {} {} {}",
                s.epoch,
                u8::from(s.pending_commit),
                s.pending_proposals,
                s.member_count,
                hex::encode(client.epoch_authenticator(GROUP)?.as_bytes())
            )
        }
        _ => format!("unknown {cmd}"),
    })
}

// --- The child, seen from the parent ----------------------------------------

/// A reply, and when the operation wrote (microseconds after the child read
/// the command).
struct Reply {
    text: String,
    write: (u64, u64),
}

fn parse_reply(line: &str) -> Reply {
    let (text, timing) = line.rsplit_once(" |").unwrap_or((line, "0,0"));
    let (from, to) = timing.split_once(',').unwrap_or(("0", "0"));
    Reply {
        text: text.to_string(),
        write: (from.parse().unwrap_or(0), to.parse().unwrap_or(0)),
    }
}

struct ChildProcess {
    process: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
    reader: Option<JoinHandle<()>>,
}

impl ChildProcess {
    fn spawn(path: &Path) -> Self {
        let mut process = Command::new(std::env::current_exe().expect("own binary"))
            .env("TESSERA_CRASH_CHILD", path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child");
        let stdin = process.stdin.take().expect("stdin");
        let stdout = process.stdout.take().expect("stdout");
        let (tx, replies) = mpsc::channel();
        // Complete lines only: a reply cut by the kill was not reported.
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match stdout.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line.ends_with(b"\n") => {
                        let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                        if let Some(r) = text.strip_prefix("@ ")
                            && tx.send(r.to_string()).is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => return,
                }
            }
        });
        Self {
            process,
            stdin,
            replies,
            reader: Some(reader),
        }
    }

    fn send(&mut self, command: &str) -> std::io::Result<()> {
        self.stdin.write_all(format!("{command}\n").as_bytes())?;
        self.stdin.flush()
    }

    fn recv(&mut self, what: &str) -> Reply {
        match self.recv_line(what) {
            r if r == ">" => self.recv(what),
            r => parse_reply(&r),
        }
    }

    fn recv_line(&mut self, what: &str) -> String {
        match self.replies.recv_timeout(REPLY_TIMEOUT) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => panic!("no reply to {what}"),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.process.wait();
                panic!("the child died during {what}: {status:?}")
            }
        }
    }

    /// Runs a command to its reply.
    fn call(&mut self, command: &str) -> Reply {
        self.send(command).expect("write to the child");
        self.recv(command.split(' ').next().unwrap_or(""))
    }

    /// Kills the child with SIGKILL after `delay` (from when it started
    /// the command just sent, if `from_start`); returns the replies it
    /// wrote before dying.
    fn kill_after(mut self, delay: Duration, from_start: bool) -> Vec<String> {
        if from_start {
            let ack = self.recv_line("the start of the command");
            assert_eq!(ack, ">");
        }
        sleep_precisely(delay);
        self.process.kill().expect("SIGKILL");
        let status = self.process.wait().expect("wait");
        assert!(!status.success(), "the child exited by itself: {status:?}");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("reader");
        }
        self.replies.try_iter().filter(|r| r != ">").collect()
    }

    /// Ends the child cleanly (end of its input).
    fn finish(mut self) {
        drop(self.stdin);
        let status = self.process.wait().expect("wait");
        assert!(status.success(), "{status:?}");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("reader");
        }
    }
}

fn sleep_precisely(delay: Duration) {
    let until = Instant::now() + delay;
    if delay > Duration::from_millis(2) {
        std::thread::sleep(delay - Duration::from_millis(1));
    }
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

// --- The parent --------------------------------------------------------------

/// splitmix64: a small seeded generator, so that a failing run can be
/// replayed (the kill timings still vary).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn pick(&mut self, len: usize) -> usize {
        (self.next() % len as u64) as usize
    }
}

struct Peer {
    name: String,
    client: Client,
}

impl Peer {
    fn leaf(&self) -> u32 {
        self.client.status(GROUP).expect("peer status").own_leaf.0
    }
}

/// The child's state as it reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Status {
    epoch: u64,
    pending_commit: bool,
    proposals: usize,
    members: usize,
    authenticator: String,
}

fn parse_status(reply: &str) -> Status {
    let f: Vec<&str> = reply.split(' ').collect();
    assert!(f.len() == 6 && f[0] == "status", "status reply: {reply}");
    Status {
        epoch: f[1].parse().expect("epoch"),
        pending_commit: f[2] == "1",
        proposals: f[3].parse().expect("proposals"),
        members: f[4].parse().expect("members"),
        authenticator: f[5].to_string(),
    }
}

/// One operation of the child.
#[derive(Clone, Debug)]
enum Op {
    /// Process an application message from a peer, with its text.
    ReceiveMessage { message: Vec<u8>, text: Vec<u8> },
    /// Process a peer's proposal.
    ReceiveProposal { message: Vec<u8> },
    /// Process a peer's commit (the peers merged it already).
    ReceiveCommit { message: Vec<u8> },
    /// Encrypt a message for the group.
    Send { text: Vec<u8> },
    /// Commit an update, an add of a new peer, or a remove of a peer's leaf.
    Commit(CommitKind),
    /// Confirm the child's pending commit (the service accepted it).
    Confirm,
}

#[derive(Clone, Debug)]
enum CommitKind {
    Update,
    Add { key_package: Vec<u8> },
    Remove { leaf: u32 },
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::ReceiveMessage { .. } => "receive-message",
            Op::ReceiveProposal { .. } => "receive-proposal",
            Op::ReceiveCommit { .. } => "receive-commit",
            Op::Send { .. } => "send",
            Op::Commit(CommitKind::Update) => "commit-update",
            Op::Commit(CommitKind::Add { .. }) => "commit-add",
            Op::Commit(CommitKind::Remove { .. }) => "commit-remove",
            Op::Confirm => "confirm",
        }
    }

    fn command(&self) -> String {
        match self {
            Op::ReceiveMessage { message, .. }
            | Op::ReceiveProposal { message }
            | Op::ReceiveCommit { message } => format!("process {}", hex::encode(message)),
            Op::Send { text } => format!("send {}", hex::encode(text)),
            Op::Commit(CommitKind::Update) => "update".into(),
            Op::Commit(CommitKind::Add { key_package }) => {
                format!("add {}", hex::encode(key_package))
            }
            Op::Commit(CommitKind::Remove { leaf }) => format!("remove {leaf}"),
            Op::Confirm => "confirm".into(),
        }
    }
}

#[derive(Default, Debug)]
struct Counts {
    kills: usize,
    /// Kills before the operation's reply: the operation was in flight.
    in_flight: usize,
    /// ... and had been persisted (the reopened state is after it).
    in_flight_persisted: usize,
    /// ... and had not (the reopened state is before it).
    in_flight_lost: usize,
    /// Kills aimed at the operation's write transaction.
    aimed_at_write: usize,
    /// Kills aimed between the operation's write and its report.
    aimed_after_write: usize,
    /// Kills while a restarted child was opening its database.
    kills_while_opening: usize,
    /// Messages and commits fed again after a restart, and refused.
    replays_refused: usize,
    messages_to_child: usize,
    messages_from_child: usize,
    commits: usize,
    by_kind: HashMap<&'static str, usize>,
}

/// Running averages of an operation kind: round trip, and when it writes.
#[derive(Clone, Copy)]
struct Timing {
    round_trip: f64,
    write_from: f64,
    write_to: f64,
}

struct World {
    rng: Rng,
    path: PathBuf,
    child: Option<ChildProcess>,
    peers: Vec<Peer>,
    next_peer: usize,
    /// A peer the child's pending add brings in.
    new_peer: Option<Peer>,
    /// The child's epoch.
    epoch: u64,
    /// Each epoch's authenticator and member count (from the peers).
    epochs: HashMap<u64, (String, usize)>,
    /// Proposals the child has cached in its epoch.
    proposals: usize,
    /// Peers a cached proposal removes.
    doomed: Vec<String>,
    /// What the child decrypted, most recent last.
    consumed: Vec<Vec<u8>>,
    /// Commits the child merged, most recent last.
    merged: Vec<Vec<u8>>,
    /// The child's commit, accepted by the service, to confirm.
    child_commit: Option<Vec<u8>>,
    timings: HashMap<&'static str, Timing>,
    startup: f64,
    counts: Counts,
    texts: u64,
}

fn parent() {
    let seed = std::env::var("TESSERA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("sqlite_crash: seed {seed} (TESSERA_CRASH_SEED={seed} replays the operations)");
    let dir = tempfile::tempdir().expect("temporary folder");
    let started = Instant::now();
    let mut world = World::new(seed, dir.path().join("child.db"));
    let mut next_kill = world.rng.range(1, MAX_GAP) as usize;
    for op in 1..=OPERATIONS {
        let kill = op == next_kill;
        if kill {
            next_kill += world.rng.range(1, MAX_GAP) as usize;
        }
        world.step(kill);
    }
    world.finish();
    let c = &world.counts;
    println!(
        "sqlite_crash: {OPERATIONS} operations ({} messages to the child, {} from it, {} commits \
         merged) in {:.1?}",
        c.messages_to_child,
        c.messages_from_child,
        c.commits,
        started.elapsed(),
    );
    println!(
        "sqlite_crash: {} kills: {} with the operation in flight ({} persisted, {} not, the rest \
         sends, which leave no trace); {} aimed at the write transaction, {} between the write and \
         the report; {} more while reopening; {} replays refused",
        c.kills,
        c.in_flight,
        c.in_flight_persisted,
        c.in_flight_lost,
        c.aimed_at_write,
        c.aimed_after_write,
        c.kills_while_opening,
        c.replays_refused,
    );
    let mut timings: Vec<_> = world
        .timings
        .iter()
        .map(|(k, t)| {
            format!(
                "{k}: {:.0} µs, writes at {:.0}..{:.0} µs",
                t.round_trip, t.write_from, t.write_to
            )
        })
        .collect();
    timings.sort();
    println!("sqlite_crash: typical round trips: {timings:?}");
    let c = &world.counts;
    let mut kinds: Vec<_> = c.by_kind.iter().collect();
    kinds.sort();
    println!("sqlite_crash: operations by kind: {kinds:?}");
    assert!(c.kills >= MIN_KILLS, "only {} kills", c.kills);
    // The kills land inside operations, before their write and after it
    // (about 35, 10 and 25 of about 95 in a typical run).
    assert!(
        c.in_flight >= 15,
        "only {} kills hit an operation in flight",
        c.in_flight
    );
    assert!(c.in_flight_persisted >= 2 && c.in_flight_lost >= 2, "{c:?}");
}

impl World {
    fn new(seed: u64, path: PathBuf) -> Self {
        let mut world = Self {
            rng: Rng(seed),
            path,
            child: None,
            peers: Vec::new(),
            next_peer: 0,
            new_peer: None,
            epoch: 0,
            epochs: HashMap::new(),
            proposals: 0,
            doomed: Vec::new(),
            consumed: Vec::new(),
            merged: Vec::new(),
            child_commit: None,
            timings: HashMap::new(),
            startup: 20_000.0,
            counts: Counts::default(),
            texts: 0,
        };
        // peer-0 creates the group and adds two peers and the child.
        let mut child = ChildProcess::spawn(&world.path);
        assert_eq!(child.recv("start").text, "ready");
        let child_kp = hex::decode(child.call("key_package").text).expect("hex");
        let creator = world.new_peer();
        creator.client.create_group(GROUP).expect("create");
        let others: Vec<Peer> = (0..2).map(|_| world.new_peer()).collect();
        let mut kps: Vec<Vec<u8>> = others
            .iter()
            .map(|p| p.client.generate_key_packages(1).expect("kp").remove(0))
            .collect();
        kps.push(child_kp);
        let added = creator.client.add(GROUP, &kps).expect("add");
        creator.client.confirm_commit(GROUP).expect("confirm");
        for p in &others {
            p.client.join(&added.welcome).expect("join");
        }
        let joined = child.call(&format!("process {}", hex::encode(&added.welcome)));
        assert_eq!(joined.text, "events joined:1");
        world.peers.push(creator);
        world.peers.extend(others);
        world.child = Some(child);
        world.epoch = 1;
        world.record_epoch(1);
        world.check_status();
        world
    }

    fn new_peer(&mut self) -> Peer {
        let name = format!("peer-{}", self.next_peer);
        self.next_peer += 1;
        let client =
            Client::create(Credential::basic(name.as_str()), MemoryStore::new()).expect("peer");
        Peer { name, client }
    }

    fn child(&mut self) -> &mut ChildProcess {
        self.child.as_mut().expect("a running child")
    }

    /// The peers reached `epoch`: note its authenticator and size.
    fn record_epoch(&mut self, epoch: u64) {
        let auth = hex::encode(
            self.peers[0]
                .client
                .epoch_authenticator(GROUP)
                .expect("authenticator")
                .as_bytes(),
        );
        for p in &self.peers {
            assert_eq!(p.client.status(GROUP).expect("status").epoch, epoch);
        }
        self.epochs.insert(epoch, (auth, self.peers.len() + 1));
        self.doomed.clear();
    }

    /// The child merged the commit to `epoch + 1`.
    fn child_merged(&mut self, commit: Vec<u8>) {
        self.epoch += 1;
        self.proposals = 0;
        self.merged.push(commit);
        self.counts.commits += 1;
    }

    /// Delivers a message to every peer but `from`; drops the peers a
    /// commit removed.
    fn deliver_to_peers(&mut self, from: Option<usize>, message: &[u8]) -> Vec<Vec<u8>> {
        let mut data = Vec::new();
        for (i, p) in self.peers.iter().enumerate() {
            if Some(i) == from {
                continue;
            }
            let processed = p
                .client
                .process(message)
                .unwrap_or_else(|e| panic!("{} refused a message: {e}", p.name));
            data.extend(processed.data().map(<[u8]>::to_vec));
        }
        self.peers
            .retain(|p| p.client.status(GROUP).expect("status").inactive.is_none());
        data
    }

    fn text(&mut self) -> Vec<u8> {
        self.texts += 1;
        format!("message {} ({:x})", self.texts, self.rng.next()).into_bytes()
    }

    /// A peer not named by a pending removal, other than `except`.
    fn live_peer(&mut self, except: Option<usize>) -> usize {
        loop {
            let i = self.rng.pick(self.peers.len());
            if Some(i) != except && !self.doomed.contains(&self.peers[i].name) {
                return i;
            }
        }
    }

    /// A peer commits (an update, an add of `new_peer`, or a remove of
    /// another peer), the service accepts it, every peer merges it: the
    /// child must process it.
    fn peer_commit(&mut self, what: PeerCommit) -> Op {
        let committer = self.rng.pick(self.peers.len());
        let c = &self.peers[committer].client;
        let (commit, welcome, joiner) = match what {
            PeerCommit::Update => (c.update(GROUP).expect("update").commit, None, None),
            PeerCommit::Add => {
                let joiner = self.new_peer();
                let kp = joiner
                    .client
                    .generate_key_packages(1)
                    .expect("kp")
                    .remove(0);
                let c = &self.peers[committer].client;
                let added = c.add(GROUP, &[kp]).expect("add");
                (added.commit, Some(added.welcome), Some(joiner))
            }
            PeerCommit::Remove => {
                let target = self.live_peer(Some(committer));
                let leaf = LeafIndex(self.peers[target].leaf());
                let c = &self.peers[committer].client;
                (c.remove(GROUP, &[leaf]).expect("remove").commit, None, None)
            }
        };
        self.peers[committer]
            .client
            .confirm_commit(GROUP)
            .expect("confirm");
        self.deliver_to_peers(Some(committer), &commit);
        if let (Some(joiner), Some(welcome)) = (joiner, welcome) {
            joiner.client.join(&welcome).expect("join");
            self.peers.push(joiner);
        }
        self.record_epoch(self.epoch + 1);
        Op::ReceiveCommit { message: commit }
    }

    fn next_op(&mut self) -> Op {
        if self.child_commit.is_some() {
            return Op::Confirm;
        }
        let members = self.peers.len() + 1;
        let removable = self.peers.len() - self.doomed.len();
        loop {
            return match self.rng.range(0, 99) {
                0..=34 => {
                    let sender = self.rng.pick(self.peers.len());
                    let text = self.text();
                    let message = self.peers[sender]
                        .client
                        .encrypt(GROUP, &text)
                        .expect("encrypt");
                    self.deliver_to_peers(Some(sender), &message);
                    Op::ReceiveMessage { message, text }
                }
                35..=59 => Op::Send { text: self.text() },
                60..=67 => self.peer_commit(PeerCommit::Update),
                68..=71 if members < MAX_MEMBERS => self.peer_commit(PeerCommit::Add),
                72..=75 if removable > MIN_PEERS + 1 => self.peer_commit(PeerCommit::Remove),
                76..=81 if removable > MIN_PEERS + 1 => {
                    // A peer proposes to remove another; the next commit
                    // (of a peer or of the child) covers it.
                    let proposer = self.rng.pick(self.peers.len());
                    let target = self.live_peer(Some(proposer));
                    let leaf = LeafIndex(self.peers[target].leaf());
                    let message = self.peers[proposer]
                        .client
                        .propose_remove(GROUP, leaf)
                        .expect("propose");
                    self.doomed.push(self.peers[target].name.clone());
                    self.deliver_to_peers(Some(proposer), &message);
                    Op::ReceiveProposal { message }
                }
                82..=89 => Op::Commit(CommitKind::Update),
                90..=94 if members < MAX_MEMBERS => {
                    let peer = self.new_peer();
                    let key_package = peer.client.generate_key_packages(1).expect("kp").remove(0);
                    self.new_peer = Some(peer);
                    Op::Commit(CommitKind::Add { key_package })
                }
                95..=99 if removable > MIN_PEERS + 1 => {
                    let target = self.live_peer(None);
                    Op::Commit(CommitKind::Remove {
                        leaf: self.peers[target].leaf(),
                    })
                }
                _ => continue,
            };
        }
    }

    /// Runs one operation of the child, killing it on the way if `kill`.
    fn step(&mut self, kill: bool) {
        let op = self.next_op();
        *self.counts.by_kind.entry(op.kind()).or_default() += 1;
        let command = op.command();
        if !kill {
            let started = Instant::now();
            let reply = self.child().call(&command);
            self.note_timing(op.kind(), started.elapsed(), reply.write);
            self.complete(&op, &reply.text);
            return;
        }
        let (delay, from_start) = self.kill_delay(op.kind());
        let mut child = self.child.take().expect("a running child");
        // The child may die before reading the command: one of the cases.
        let _ = child.send(&command);
        let replies = child.kill_after(delay, from_start);
        self.counts.kills += 1;
        assert!(replies.len() <= 1, "{replies:?}");
        self.restart();
        match replies.first() {
            Some(reply) => self.complete(&op, &parse_reply(reply).text),
            None => {
                self.counts.in_flight += 1;
                self.recover(&op);
            }
        }
        self.check_status();
        self.check_replays();
    }

    /// When to kill an operation of `kind`: anywhere in it (or a little
    /// after it), inside its write transaction, or between its write and
    /// its report. The last two are timed from the child's start of the
    /// command (`true`), the first from the parent's sending it.
    fn kill_delay(&mut self, kind: &'static str) -> (Duration, bool) {
        let t = self.timings.get(kind).copied().unwrap_or(Timing {
            round_trip: 3000.0,
            write_from: 1500.0,
            write_to: 1700.0,
        });
        // Waking up after the start signal takes some tens of microseconds.
        const WAKE_UP: u64 = 30;
        let (micros, from_start) = match self.rng.range(0, 2) {
            0 if t.write_to > t.write_from => {
                self.counts.aimed_at_write += 1;
                let span = (t.write_to - t.write_from).max(1.0) as u64;
                let at = (t.write_from as u64 + self.rng.range(0, span)).saturating_sub(WAKE_UP);
                (at, true)
            }
            1 => {
                self.counts.aimed_after_write += 1;
                (t.write_to as u64 + self.rng.range(0, 1500), true)
            }
            _ => (self.rng.range(0, (t.round_trip * 1.2) as u64), false),
        };
        (Duration::from_micros(micros), from_start)
    }

    fn note_timing(&mut self, kind: &'static str, round_trip: Duration, write: (u64, u64)) {
        let sample = Timing {
            round_trip: round_trip.as_micros() as f64,
            write_from: write.0 as f64,
            write_to: write.1 as f64,
        };
        let t = self.timings.entry(kind).or_insert(sample);
        t.round_trip = 0.8 * t.round_trip + 0.2 * sample.round_trip;
        t.write_from = 0.8 * t.write_from + 0.2 * sample.write_from;
        t.write_to = 0.8 * t.write_to + 0.2 * sample.write_to;
    }

    /// Starts a new child on the database, killing some while they open it.
    fn restart(&mut self) {
        loop {
            let mut child = ChildProcess::spawn(&self.path);
            if self.rng.range(0, 3) == 0 {
                let delay = self.rng.range(0, self.startup as u64);
                let _ = child.kill_after(Duration::from_micros(delay), false);
                self.counts.kills_while_opening += 1;
                continue;
            }
            let started = Instant::now();
            assert_eq!(child.recv("start").text, "ready");
            self.startup = 0.8 * self.startup + 0.2 * started.elapsed().as_micros() as f64;
            self.child = Some(child);
            return;
        }
    }

    fn status(&mut self) -> Status {
        parse_status(&self.child().call("status").text)
    }

    /// The status the model expects.
    fn expected_status(&self) -> Status {
        let (authenticator, members) = self.epochs[&self.epoch].clone();
        Status {
            epoch: self.epoch,
            pending_commit: self.child_commit.is_some(),
            proposals: self.proposals,
            members,
            authenticator,
        }
    }

    fn check_status(&mut self) {
        let status = self.status();
        assert_eq!(status, self.expected_status(), "the child's state");
    }

    /// After a kill without a reply: finds whether the operation in flight
    /// was persisted, and completes it if it was not.
    fn recover(&mut self, op: &Op) {
        let status = self.status();
        let before = self.expected_status();
        let mut after_commit = before.clone();
        after_commit.epoch += 1;
        (after_commit.authenticator, after_commit.members) = self
            .epochs
            .get(&after_commit.epoch)
            .cloned()
            .unwrap_or_default();
        after_commit.proposals = 0;
        after_commit.pending_commit = false;
        let persisted = match op {
            Op::ReceiveMessage { message, .. } => {
                let reply = self.child().call(&op.command()).text;
                if reply.starts_with("err") {
                    assert!(reply.contains("already used"), "{reply}");
                    self.consumed.push(message.clone());
                    self.counts.messages_to_child += 1;
                    true
                } else {
                    self.complete(op, &reply);
                    false
                }
            }
            Op::ReceiveProposal { .. } => {
                if status.proposals == before.proposals + 1 {
                    self.proposals += 1;
                    true
                } else {
                    assert_eq!(status, before);
                    let reply = self.child().call(&op.command()).text;
                    self.complete(op, &reply);
                    false
                }
            }
            Op::ReceiveCommit { message } => {
                if status == after_commit {
                    self.child_merged(message.clone());
                    true
                } else {
                    assert_eq!(status, before);
                    let reply = self.child().call(&op.command()).text;
                    self.complete(op, &reply);
                    false
                }
            }
            Op::Send { .. } => {
                // Sent or not, the ciphertext never left the child.
                assert_eq!(status, before);
                self.counts.in_flight -= 1;
                return;
            }
            Op::Commit(_) => {
                // The commit never reached the service: it is discarded
                // (and a peer it would have added stays out).
                self.new_peer = None;
                if status.pending_commit {
                    assert_eq!(
                        Status {
                            pending_commit: false,
                            ..status
                        },
                        before
                    );
                    assert_eq!(self.child().call("discard").text, "discarded true");
                    true
                } else {
                    assert_eq!(status, before);
                    false
                }
            }
            Op::Confirm => {
                let commit = self.child_commit.clone().expect("a pending commit");
                if status == after_commit {
                    self.child_commit = None;
                    self.child_merged(commit);
                    true
                } else {
                    assert_eq!(status, before);
                    let reply = self.child().call("confirm").text;
                    self.complete(op, &reply);
                    false
                }
            }
        };
        if persisted {
            self.counts.in_flight_persisted += 1;
        } else {
            self.counts.in_flight_lost += 1;
        }
    }

    /// The model follows an operation the child reported.
    fn complete(&mut self, op: &Op, reply: &str) {
        match op {
            Op::ReceiveMessage { message, text } => {
                assert_eq!(reply, format!("events data:{}", hex::encode(text)));
                self.consumed.push(message.clone());
                self.counts.messages_to_child += 1;
            }
            Op::ReceiveProposal { .. } => {
                assert_eq!(reply, "events proposal");
                self.proposals += 1;
            }
            Op::ReceiveCommit { message } => {
                assert_eq!(reply, format!("events merged:{}", self.epoch + 1));
                self.child_merged(message.clone());
            }
            Op::Send { text } => {
                let ct = hex::decode(reply.strip_prefix("ct ").expect(reply)).expect("hex");
                let peers = self.peers.len();
                let got = self.deliver_to_peers(None, &ct);
                assert_eq!(got, vec![text.clone(); peers], "every peer decrypts");
                self.counts.messages_from_child += 1;
            }
            Op::Commit(_) => {
                let mut parts = reply.split(' ');
                assert_eq!(parts.next(), Some("commit"), "{reply}");
                let commit = hex::decode(parts.next().expect("commit")).expect("hex");
                let welcome = parts.next().map(|w| hex::decode(w).expect("hex"));
                // The service accepts it; the peers merge it.
                self.deliver_to_peers(None, &commit);
                if let Some(welcome) = welcome {
                    let joiner = self.new_peer.take().expect("the peer added");
                    joiner.client.join(&welcome).expect("join");
                    self.peers.push(joiner);
                }
                self.record_epoch(self.epoch + 1);
                self.child_commit = Some(commit);
            }
            Op::Confirm => {
                assert_eq!(reply, format!("merged {}", self.epoch + 1));
                let commit = self.child_commit.take().expect("a pending commit");
                self.child_merged(commit);
            }
        }
    }

    /// Feeds the child the last messages it decrypted and the last commits
    /// it merged: none is accepted again, and nothing changes.
    fn check_replays(&mut self) {
        let expected = self.expected_status();
        let messages: Vec<Vec<u8>> = self.consumed.iter().rev().take(6).cloned().collect();
        let commits: Vec<Vec<u8>> = self.merged.iter().rev().take(2).cloned().collect();
        for m in messages.iter().chain(&commits) {
            let reply = self
                .child()
                .call(&format!("process {}", hex::encode(m)))
                .text;
            assert!(reply.starts_with("err"), "a replay was accepted: {reply}");
            self.counts.replays_refused += 1;
        }
        assert_eq!(self.status(), expected, "a replay changed the state");
    }

    /// Ends the conversation: one more message each way, a clean exit, and
    /// the database checked whole.
    fn finish(&mut self) {
        // A commit of the child's own is confirmed first.
        if self.child_commit.is_some() {
            self.step(false);
        }
        let text = self.text();
        let sender = self.rng.pick(self.peers.len());
        let message = self.peers[sender]
            .client
            .encrypt(GROUP, &text)
            .expect("encrypt");
        self.deliver_to_peers(Some(sender), &message);
        let reply = self
            .child()
            .call(&format!("process {}", hex::encode(&message)))
            .text;
        self.complete(&Op::ReceiveMessage { message, text }, &reply);
        let op = Op::Send { text: self.text() };
        let reply = self.child().call(&op.command()).text;
        self.complete(&op, &reply);
        self.check_status();
        self.child.take().expect("a running child").finish();
        let store = SqliteStore::open(&self.path, &StoreKey::new(KEY)).expect("reopen");
        store.verify().expect("the database is whole");
    }
}

enum PeerCommit {
    Update,
    Add,
    Remove,
}
