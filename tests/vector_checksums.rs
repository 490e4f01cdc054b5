//! The vendored published vectors are exactly the upstream files: each one's
//! SHA-256 matches `test-vectors/mlswg/SHA256SUMS`, and every `.json` file in
//! the folder is listed there (see `test-vectors/mlswg/README.md`).

use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;

const PUBLISHED_FILES: usize = 16;

fn vendored_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/mlswg"))
}

/// `(file name, expected SHA-256 in hex)` from the `sha256sum`-format list.
fn recorded() -> Vec<(String, String)> {
    let sums = std::fs::read_to_string(vendored_dir().join("SHA256SUMS"))
        .expect("test-vectors/mlswg/SHA256SUMS is readable");
    sums.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (hash, name) = l
                .split_once("  ")
                .unwrap_or_else(|| panic!("malformed SHA256SUMS line: {l:?}"));
            (name.to_string(), hash.to_ascii_lowercase())
        })
        .collect()
}

#[test]
fn every_vendored_file_matches_its_recorded_sha256() {
    let recorded = recorded();
    assert_eq!(recorded.len(), PUBLISHED_FILES, "SHA256SUMS lists 16 files");
    let mut mismatched = Vec::new();
    for (name, expected) in &recorded {
        let bytes = std::fs::read(vendored_dir().join(name))
            .unwrap_or_else(|e| panic!("vendored vector {name} is missing: {e}"));
        let actual = hex::encode(Sha256::digest(&bytes));
        if &actual != expected {
            mismatched.push(format!("{name}: recorded {expected}, found {actual}"));
        }
    }
    assert!(
        mismatched.is_empty(),
        "vendored vectors differ from upstream:\n{}",
        mismatched.join("\n")
    );
}

#[test]
fn every_json_file_in_the_folder_is_listed() {
    let listed: BTreeSet<String> = recorded().into_iter().map(|(n, _)| n).collect();
    let present: BTreeSet<String> = std::fs::read_dir(vendored_dir())
        .expect("test-vectors/mlswg is readable")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(present, listed, "the .json files and SHA256SUMS disagree");
}
