//! `tree-operations.json`: applying Add, Update and Remove proposals to the
//! tree (RFC 9420 §7.7, §12.1.1-§12.1.3) and the tree hash before and after (§7.8).

use super::Outcome;
use super::json::{Case, check_bytes, hex, outcome, uint};
use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, RustCryptoProvider};
use tessera::messages::{Proposal, RatchetTreeExtension};
use tessera::tree::RatchetTree;
use tessera::tree_math::LeafIndex;

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = RustCryptoProvider::new()
        .suite(suite)
        .map_err(|e| e.to_string())?;
    let before = RatchetTreeExtension::decode_exact(&hex(case, "tree_before")?)
        .map_err(|e| format!("decoding tree_before: {e}"))?;
    let mut tree =
        RatchetTree::from_extension(suite, before).map_err(|e| format!("tree_before: {e}"))?;
    let hash = tree.tree_hash(&cs).map_err(|e| e.to_string())?;
    check_bytes("tree_hash_before", &hash, &hex(case, "tree_hash_before")?)?;

    let sender =
        LeafIndex(u32::try_from(uint(case, "proposal_sender")?).map_err(|e| e.to_string())?);
    let proposal = Proposal::decode_exact(&hex(case, "proposal")?)
        .map_err(|e| format!("decoding the proposal: {e}"))?;
    match proposal {
        Proposal::Add(add) => tree.add_leaf(add.key_package.leaf_node).map(|_| ()),
        Proposal::Update(update) => tree.update_leaf(sender, update.leaf_node),
        Proposal::Remove(remove) => tree.remove_leaf(LeafIndex(remove.removed)),
        other => {
            return Err(format!(
                "proposal type {} is not add, update or remove",
                other.proposal_type().0
            ));
        }
    }
    .map_err(|e| format!("applying the proposal: {e}"))?;

    let after = tree.to_extension().to_bytes().map_err(|e| e.to_string())?;
    check_bytes("tree_after", &after, &hex(case, "tree_after")?)?;
    let hash = tree.tree_hash(&cs).map_err(|e| e.to_string())?;
    check_bytes("tree_hash_after", &hash, &hex(case, "tree_hash_after")?)
}
