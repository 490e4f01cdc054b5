//! Writes the seed inputs of every fuzz target, from the fixture group of
//! `tessera_fuzz`, under `fuzz/seeds/<target>/` (or the directory given):
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds
//! ```
//!
//! Each target's directory is emptied first. The output is deterministic
//! (the fixture's provider is seeded), so running it again changes nothing
//! unless the library changed how the messages are made.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let fixture = tessera_fuzz::build()?;
    tessera_fuzz::check(&fixture)?;
    let seeds = tessera_fuzz::seeds(&fixture)?;
    let mut targets: Vec<&str> = seeds.iter().map(|s| s.target).collect();
    targets.sort_unstable();
    targets.dedup();
    for t in &targets {
        let dir = root.join(t);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
    }
    for s in &seeds {
        std::fs::write(root.join(s.target).join(&s.name), &s.bytes)?;
    }
    println!(
        "{} seeds for {} targets in {}",
        seeds.len(),
        targets.len(),
        root.display()
    );
    Ok(())
}
