//! The conformance vectors as a `cargo test` gate: any failed case fails the
//! test, and so does any skipped case of a kind Tessera claims to implement.

#[path = "../examples/conformance/runner/mod.rs"]
mod runner;

use runner::{Outcome, default_vector_dir, run_file};

/// Runs one published file; `complete` kinds must have no skipped case.
fn gate(file: &str, expected_cases: usize, complete: bool) {
    let path = default_vector_dir().join(file);
    assert!(
        path.is_file(),
        "{} not found (the vectors are vendored in test-vectors/mlswg; MLS_TEST_VECTORS overrides)",
        path.display()
    );
    let r = run_file(&path, None);
    runner::print_report(&r);
    assert_eq!(r.outcomes.len(), expected_cases, "{file}: case count");
    let failed: Vec<_> = r
        .outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            matches!(o, Outcome::Failed(_)) || (complete && matches!(o, Outcome::Skipped(_)))
        })
        .collect();
    assert!(failed.is_empty(), "{file}: {failed:?}");
}

#[test]
fn tree_math() {
    gate("tree-math.json", 10, true);
}

#[test]
fn deserialization() {
    gate("deserialization.json", 14, true);
}

#[test]
fn crypto_basics() {
    gate("crypto-basics.json", 7, true);
}

#[test]
fn key_schedule() {
    gate("key-schedule.json", 7, true);
}

#[test]
fn psk_secret() {
    gate("psk_secret.json", 77, true);
}

#[test]
fn secret_tree() {
    gate("secret-tree.json", 21, true);
}

#[test]
fn messages() {
    gate("messages.json", 300, true);
}

#[test]
fn tree_validation() {
    gate("tree-validation.json", 98, true);
}

#[test]
fn tree_operations() {
    gate("tree-operations.json", 5, true);
}

#[test]
fn treekem() {
    gate("treekem.json", 77, true);
}

#[test]
fn passive_client_welcome() {
    gate("passive-client-welcome.json", 56, true);
}

#[test]
fn passive_client_handling_commit() {
    gate("passive-client-handling-commit.json", 91, true);
}

#[test]
fn passive_client_random() {
    gate("passive-client-random.json", 1, true);
}

#[test]
fn message_protection() {
    gate("message-protection.json", 7, true);
}

#[test]
fn transcript_hashes() {
    gate("transcript-hashes.json", 7, true);
}

#[test]
fn welcome() {
    gate("welcome.json", 7, true);
}
