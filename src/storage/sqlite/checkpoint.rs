//! Checkpoints in the background.
//!
//! In WAL mode a commit appends pages to the write-ahead log; a checkpoint
//! copies them back into the database file, and that is where the disk
//! flushes are (with `synchronous = NORMAL`: the log, then the database
//! file, each `fsync`ed). SQLite's automatic checkpoint runs inside the
//! commit that crosses its threshold, so one operation in a few hundred
//! pays for two flushes (tens of milliseconds on some disks), which makes
//! the average operation several times slower than its own work.
//!
//! A store therefore checkpoints from a thread of its own, on a connection
//! of its own, once a few commits have accumulated or soon after the last
//! one: operations do not wait for the disk. The checkpoint is PASSIVE
//! (it never blocks writers nor readers). Under a continuous stream of
//! writes the log can only restart from its beginning after a checkpoint
//! that saw every frame, so the writer's own automatic checkpoint is kept,
//! with a high threshold ([`FALLBACK_PAGES`]), as a backstop that bounds
//! the log; by then the background checkpoints have flushed most of it.
//! In a client's life writes come in bursts, and the log restarts from its
//! beginning in the pauses.
//!
//! Measured on the benchmark machine (a shared VM where a disk flush takes
//! about 9 ms), 22,000 sends in a row: 60-66 µs per send on average with
//! the background checkpoints against 100-120 µs without (the same median,
//! 44 µs, but stalls of 300-400 ms at each automatic checkpoint).

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{SqliteOptions, error};
use crate::error::StorageError;

/// Commits after which the background checkpoint runs.
const COMMITS: u32 = 32;
/// How long after the last commit it runs anyway.
const IDLE: Duration = Duration::from_millis(250);
/// The writer's own automatic checkpoint threshold, in pages of the log:
/// 64 MiB with 2 KiB pages (reached only under a sustained stream of
/// writes).
pub(super) const FALLBACK_PAGES: u32 = 32768;
/// The size the log is cut back to when it restarts (`journal_size_limit`).
pub(super) const LOG_SIZE_LIMIT: u32 = 64 << 20;

#[derive(Default)]
struct State {
    /// Commits since the last checkpoint.
    commits: u32,
    stop: bool,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// The background checkpointer of one store.
pub(super) struct Checkpointer {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path` (already created).
    pub fn start(path: &Path, options: &SqliteOptions) -> Result<Self, StorageError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(error)?;
        conn.busy_timeout(options.busy_timeout).map_err(error)?;
        // A checkpoint flushes according to its connection's setting.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {};",
            options.synchronous.pragma()
        ))
        .map_err(error)?;
        let shared: Shared = Arc::default();
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tessera-sqlite-checkpoint".into())
                .spawn(move || run(&conn, &shared))
                .map_err(|e| StorageError::Backend(format!("checkpoint thread: {e}")))?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// A commit went in.
    pub fn committed(&self) {
        let (state, wake) = &*self.shared;
        if let Ok(mut s) = state.lock() {
            s.commits = s.commits.saturating_add(1);
            if s.commits == 1 || s.commits >= COMMITS {
                wake.notify_one();
            }
        }
    }
}

fn run(conn: &Connection, shared: &Shared) {
    let (state, wake) = &**shared;
    let Ok(mut s) = state.lock() else { return };
    loop {
        // Sleep until there is something to checkpoint.
        while s.commits == 0 && !s.stop {
            s = match wake.wait(s) {
                Ok(s) => s,
                Err(_) => return,
            };
        }
        // Then until enough commits accumulated, or the writes paused.
        while s.commits < COMMITS && !s.stop {
            let before = s.commits;
            s = match wake.wait_timeout(s, IDLE) {
                Ok((s, _)) => s,
                Err(_) => return,
            };
            if s.commits == before {
                break;
            }
        }
        if s.stop {
            return;
        }
        s.commits = 0;
        drop(s);
        // Errors (a busy database, say) are left to the next round and to
        // the writer's own checkpoint.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        s = match state.lock() {
            Ok(s) => s,
            Err(_) => return,
        };
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (state, wake) = &*self.shared;
        if let Ok(mut s) = state.lock() {
            s.stop = true;
        }
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
