//! `tree-operations.json`: applying Add, Update and Remove proposals to the
//! tree (RFC 9420 §7.7, §12.1.1-§12.1.3) and the tree hash before and after (§7.8).

use super::Outcome;
use super::json::{Case, check_bytes, hex, outcome, uint};
use tessera::codec::{Decode, Encode, Reader};
use tessera::crypto::{CipherSuite, RustCryptoProvider};
use tessera::messages::{KeyPackage, LeafNode, RatchetTreeExtension};
use tessera::tree::RatchetTree;
use tessera::tree_math::LeafIndex;

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

/// The three proposal kinds these vectors use (RFC 9420 §12.1).
enum TreeProposal {
    Add(KeyPackage),
    Update(LeafNode),
    Remove(u32),
}

/// Decodes `struct { ProposalType proposal_type; select (...) { ... } } Proposal`
/// for the add(1), update(2) and remove(3) cases.
fn decode_proposal(bytes: &[u8]) -> Result<TreeProposal, String> {
    let mut r = Reader::new(bytes);
    let p = match r.read_u16().map_err(|e| e.to_string())? {
        1 => TreeProposal::Add(KeyPackage::decode(&mut r).map_err(|e| e.to_string())?),
        2 => TreeProposal::Update(LeafNode::decode(&mut r).map_err(|e| e.to_string())?),
        3 => TreeProposal::Remove(r.read_u32().map_err(|e| e.to_string())?),
        t => return Err(format!("proposal type {t} is not add, update or remove")),
    };
    r.finish().map_err(|e| e.to_string())?;
    Ok(p)
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
    match decode_proposal(&hex(case, "proposal")?)? {
        TreeProposal::Add(kp) => tree.add_leaf(kp.leaf_node).map(|_| ()),
        TreeProposal::Update(leaf) => tree.update_leaf(sender, leaf),
        TreeProposal::Remove(removed) => tree.remove_leaf(LeafIndex(removed)),
    }
    .map_err(|e| format!("applying the proposal: {e}"))?;

    let after = tree.to_extension().to_bytes().map_err(|e| e.to_string())?;
    check_bytes("tree_after", &after, &hex(case, "tree_after")?)?;
    let hash = tree.tree_hash(&cs).map_err(|e| e.to_string())?;
    check_bytes("tree_hash_after", &hash, &hex(case, "tree_hash_after")?)
}
