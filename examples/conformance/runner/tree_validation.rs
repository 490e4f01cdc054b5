//! `tree-validation.json`: resolutions (RFC 9420 §4.1.1), tree hashes (§7.8),
//! parent-hash verification (§7.9.2) and leaf validation (§7.3) of trees as a
//! joining member receives them (§12.4.3.1).

use super::Outcome;
use super::json::{Case, array, hex, hex_value, outcome, uint};
use tessera::codec::Decode;
use tessera::crypto::{CipherSuite, RustCryptoProvider};
use tessera::messages::RatchetTreeExtension;
use tessera::tree::{LeafValidationContext, LifetimeCheck, RatchetTree};
use tessera::tree_math::NodeIndex;

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = RustCryptoProvider::new()
        .suite(suite)
        .map_err(|e| e.to_string())?;
    let ext = RatchetTreeExtension::decode_exact(&hex(case, "tree")?)
        .map_err(|e| format!("decoding the tree: {e}"))?;
    let tree = RatchetTree::from_extension(suite, ext).map_err(|e| format!("tree: {e}"))?;

    let resolutions = array(case, "resolutions")?;
    let tree_hashes = array(case, "tree_hashes")?;
    let n = tree.size().node_count() as usize;
    if resolutions.len() != n || tree_hashes.len() != n {
        return Err(format!(
            "vector lists {} resolutions and {} tree hashes for {n} nodes",
            resolutions.len(),
            tree_hashes.len()
        ));
    }
    for (i, (want_res, want_hash)) in resolutions.iter().zip(tree_hashes).enumerate() {
        let node = NodeIndex(i as u32);
        let got: Vec<u64> = tree
            .resolution(node)
            .map_err(|e| e.to_string())?
            .iter()
            .map(|n| u64::from(n.0))
            .collect();
        let want: Vec<u64> = want_res
            .as_array()
            .ok_or("resolution is not an array")?
            .iter()
            .map(|v| v.as_u64().ok_or("resolution entry is not an integer"))
            .collect::<Result<_, _>>()?;
        if got != want {
            return Err(format!(
                "resolution of node {i}: got {got:?}, want {want:?}"
            ));
        }
        let got = tree.node_tree_hash(&cs, node).map_err(|e| e.to_string())?;
        super::json::check_bytes(
            &format!("tree hash of node {i}"),
            &got,
            &hex_value(want_hash)?,
        )?;
    }

    tree.verify_parent_hashes(&cs)
        .map_err(|e| format!("parent hashes: {e}"))?;

    // Join-time validation (§12.4.3.1) against the root's hash: unmerged
    // leaves, tree hash, parent hashes again, and every leaf (§7.3) including
    // its signature with the group_id given. The leaves' key_package
    // lifetimes ended in 2024 (see the vectors' README) and RFC 9420 §7.3
    // only recommends checking received lifetimes, so that one check is off.
    let ctx = LeafValidationContext::new(hex(case, "group_id")?, LifetimeCheck::Skip);
    let root_hash = tree_hashes
        .get(tree.root().0 as usize)
        .ok_or("no tree hash for the root")
        .and_then(|h| hex_value(h).map_err(|_| "bad root hash"))?;
    tree.validate(&cs, &ctx, &root_hash)
        .map_err(|e| format!("tree validation: {e}"))
}
