//! Runs Tessera against the published MLS conformance vectors.
//!
//! ```text
//! cargo run --release --example conformance -- [--kind KIND] [PATH ...]
//! ```
//!
//! PATH is a vector file or a directory of them. With none, the directory in
//! `MLS_TEST_VECTORS` is read, else the vendored `test-vectors/mlswg`. A file's kind
//! comes from its name; `--kind KIND` overrides it. Prints one line per file,
//! `<file> passed=<n> failed=<n> skipped=<n>`, one line per failed or skipped
//! case, then `total passed=<n> failed=<n> skipped=<n>`. Exits non-zero if any
//! case failed.

mod runner;

use runner::{Kind, default_vector_dir, print_report, run_file, vector_files};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut kind = None;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--kind" => {
                let Some(k) = args.next().as_deref().and_then(Kind::from_name) else {
                    let names: Vec<_> = Kind::ALL.iter().map(|(_, n)| *n).collect();
                    eprintln!("--kind needs one of: {}", names.join(", "));
                    return ExitCode::from(2);
                };
                kind = Some(k);
            }
            "-h" | "--help" => {
                println!("usage: conformance [--kind KIND] [PATH ...]");
                return ExitCode::SUCCESS;
            }
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        paths.push(default_vector_dir());
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            match vector_files(&p) {
                Ok(f) => files.extend(f),
                Err(e) => {
                    eprintln!("cannot read directory {}: {e}", p.display());
                    return ExitCode::from(2);
                }
            }
        } else {
            files.push(p);
        }
    }
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for f in &files {
        let r = run_file(f, kind);
        print_report(&r);
        passed += r.passed();
        failed += r.failed();
        skipped += r.skipped();
    }
    println!("total passed={passed} failed={failed} skipped={skipped}");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
