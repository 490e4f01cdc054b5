//! The conformance runner: reads the published MLS test vectors and checks
//! Tessera against every case. Shared by `examples/conformance` (the CLI) and
//! `tests/conformance.rs` (the `cargo test` gate).

#![allow(dead_code)]

mod crypto_basics;
mod deserialization;
mod json;
mod key_schedule;
mod message_protection;
mod messages;
mod passive_client;
mod psk_secret;
mod secret_tree;
mod transcript_hashes;
mod tree_math;
mod tree_operations;
mod tree_validation;
mod treekem;
mod welcome;

use std::path::{Path, PathBuf};

/// The result of one test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check of the case held.
    Passed,
    /// A check failed; the reason says which.
    Failed(String),
    /// The case was not run; the reason says why. Skips count against us.
    Skipped(String),
}

/// A vector file kind, named after the file (`tree-math.json` is `tree-math`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TreeMath,
    CryptoBasics,
    SecretTree,
    MessageProtection,
    KeySchedule,
    PskSecret,
    TranscriptHashes,
    Welcome,
    TreeOperations,
    TreeValidation,
    TreeKem,
    Messages,
    Deserialization,
    PassiveClient,
}

impl Kind {
    /// Every kind with its canonical name.
    pub const ALL: [(Kind, &'static str); 14] = [
        (Kind::TreeMath, "tree-math"),
        (Kind::CryptoBasics, "crypto-basics"),
        (Kind::SecretTree, "secret-tree"),
        (Kind::MessageProtection, "message-protection"),
        (Kind::KeySchedule, "key-schedule"),
        (Kind::PskSecret, "psk_secret"),
        (Kind::TranscriptHashes, "transcript-hashes"),
        (Kind::Welcome, "welcome"),
        (Kind::TreeOperations, "tree-operations"),
        (Kind::TreeValidation, "tree-validation"),
        (Kind::TreeKem, "treekem"),
        (Kind::Messages, "messages"),
        (Kind::Deserialization, "deserialization"),
        (Kind::PassiveClient, "passive-client"),
    ];

    /// Parses a kind name as given to `--kind`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    /// The kind of a file, from its name: `tree-math.json` is `tree-math`, and
    /// any name starting with `passive-client` is a passive-client file.
    pub fn from_file_name(file: &str) -> Option<Kind> {
        if file.starts_with("passive-client") {
            return Some(Kind::PassiveClient);
        }
        Self::from_name(file.strip_suffix(".json")?)
    }

    /// The checker for one case of this kind, or `None` if not implemented yet.
    fn checker(self) -> Option<fn(&json::Case) -> Outcome> {
        Some(match self {
            Kind::TreeMath => tree_math::check,
            Kind::Deserialization => deserialization::check,
            Kind::CryptoBasics => crypto_basics::check,
            Kind::SecretTree => secret_tree::check,
            Kind::KeySchedule => key_schedule::check,
            Kind::PskSecret => psk_secret::check,
            Kind::Messages => messages::check,
            Kind::TreeValidation => tree_validation::check,
            Kind::TreeOperations => tree_operations::check,
            Kind::TreeKem => treekem::check,
            Kind::PassiveClient => passive_client::check,
            Kind::MessageProtection => message_protection::check,
            Kind::TranscriptHashes => transcript_hashes::check,
            Kind::Welcome => welcome::check,
        })
    }
}

/// What one file gave.
#[derive(Debug)]
pub struct FileReport {
    /// The file name (no directory).
    pub name: String,
    /// One outcome per case, in file order.
    pub outcomes: Vec<Outcome>,
}

impl FileReport {
    /// Number of cases with this outcome type.
    pub fn count(&self, pred: fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| pred(o)).count()
    }
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }
    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }
    /// Cases that were skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }
}

/// The directory the published vectors are read from: `$MLS_TEST_VECTORS`,
/// else the vendored copy in `test-vectors/mlswg` of this repository.
pub fn default_vector_dir() -> PathBuf {
    match std::env::var_os("MLS_TEST_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors/mlswg"),
    }
}

/// The `.json` files of a directory, sorted by name.
pub fn vector_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every case of one file. `kind` overrides the kind taken from the name.
/// A file that cannot be read or parsed, or whose kind is unknown, is one
/// failed case.
pub fn run_file(path: &Path, kind: Option<Kind>) -> FileReport {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fail = |why: String| FileReport {
        name: name.clone(),
        outcomes: vec![Outcome::Failed(why)],
    };
    let Some(kind) = kind.or_else(|| Kind::from_file_name(&name)) else {
        return fail("unknown vector kind (use --kind)".into());
    };
    let cases = match json::read_cases(path) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let outcomes = match kind.checker() {
        None => cases
            .iter()
            .map(|_| Outcome::Skipped("not implemented".into()))
            .collect(),
        Some(check) => cases
            .iter()
            .map(|case| {
                // A panic is a bug in Tessera: report it as a failure of this
                // case and go on with the next.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case)))
                    .unwrap_or_else(|p| {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        Outcome::Failed(format!("panicked: {msg}"))
                    })
            })
            .collect(),
    };
    FileReport { name, outcomes }
}

/// Prints a report in the runner's format: the summary line, then one line per
/// failed or skipped case.
pub fn print_report(r: &FileReport) {
    println!(
        "{} passed={} failed={} skipped={}",
        r.name,
        r.passed(),
        r.failed(),
        r.skipped()
    );
    for (i, o) in r.outcomes.iter().enumerate() {
        match o {
            Outcome::Passed => {}
            Outcome::Failed(why) => println!("  case {i}: failed: {why}"),
            Outcome::Skipped(why) => println!("  case {i}: skipped: {why}"),
        }
    }
}
