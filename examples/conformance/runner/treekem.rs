//! `treekem.json`: TreeKEM (RFC 9420 §7.4-§7.6). Private states are loaded
//! and checked against the tree; each published UpdatePath is merged
//! (parent hashes, tree hash after) and decrypted by every other member
//! (path secret, commit secret); then a fresh UpdatePath is created for the
//! same sender and every other member must decrypt the same commit secret.

use std::collections::BTreeMap;

use super::Outcome;
use super::json::{Case, array, check_bytes, hex, outcome, uint};
use tessera::codec::Decode;
use tessera::crypto::{
    CipherSuite, HpkePrivateKey, RustCryptoProvider, Secret, SignaturePrivateKey,
};
use tessera::messages::{GroupContext, ProtocolVersion, RatchetTreeExtension, UpdatePath};
use tessera::tree::{
    LeafNodeOrigin, LeafValidationContext, LifetimeCheck, RatchetTree, TreePrivateKeys,
};
use tessera::tree_math::{LeafIndex, NodeIndex};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn u32_field(v: &Case, name: &str) -> Result<u32, String> {
    u32::try_from(uint(v, name)?).map_err(|e| format!("{name}: {e}"))
}

/// One member's private state: tree keys and signing key.
struct Private {
    keys: TreePrivateKeys,
    signer: SignaturePrivateKey,
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = RustCryptoProvider::new()
        .suite(suite)
        .map_err(|e| e.to_string())?;
    let group_id = hex(case, "group_id")?;
    let ext = RatchetTreeExtension::decode_exact(&hex(case, "ratchet_tree")?)
        .map_err(|e| format!("decoding the tree: {e}"))?;
    let tree = RatchetTree::from_extension(suite, ext).map_err(|e| format!("tree: {e}"))?;
    let context = |tree_hash: Vec<u8>| -> Result<GroupContext, String> {
        Ok(GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: suite,
            group_id: group_id.clone(),
            epoch: uint(case, "epoch")?,
            tree_hash,
            confirmed_transcript_hash: hex(case, "confirmed_transcript_hash")?,
            extensions: vec![],
        })
    };

    // Private states, checked against the public tree.
    let mut privates: BTreeMap<u32, Private> = BTreeMap::new();
    for p in array(case, "leaves_private")? {
        let index = u32_field(p, "index")?;
        let mut keys = TreePrivateKeys::new(
            LeafIndex(index),
            HpkePrivateKey::new(hex(p, "encryption_priv")?),
        );
        for ps in array(p, "path_secrets")? {
            let node = NodeIndex(u32_field(ps, "node")?);
            let secret = Secret::from(hex(ps, "path_secret")?);
            keys.set_path_secret(&cs, node, &secret)
                .map_err(|e| format!("leaf {index}: path secret of node {}: {e}", node.0))?;
        }
        keys.check_against(&tree, &cs)
            .map_err(|e| format!("leaf {index}: private state: {e}"))?;
        let signer = SignaturePrivateKey::new(hex(p, "signature_priv")?);
        privates.insert(index, Private { keys, signer });
    }
    let members: Vec<LeafIndex> = tree.members().map(|(l, _)| l).collect();
    // A commit's new leaf is validated in full (RFC 9420 §7.3), lifetimes
    // aside (these leaves' ended long ago and §7.3 only recommends checking
    // received ones).
    let leaf_ctx = LeafValidationContext::new(group_id.clone(), LifetimeCheck::Skip);

    for (n, up) in array(case, "update_paths")?.iter().enumerate() {
        let sender = LeafIndex(u32_field(up, "sender")?);
        let path = UpdatePath::decode_exact(&hex(up, "update_path")?)
            .map_err(|e| format!("update path {n}: decoding: {e}"))?;
        let want_secrets = array(up, "path_secrets")?;
        let want_commit = hex(up, "commit_secret")?;

        // Merge the published path: leaf signature, parent hashes, tree hash
        // after.
        tree.validate_leaf_node(
            &cs,
            &leaf_ctx,
            &path.leaf_node,
            LeafNodeOrigin::Commit(sender),
        )
        .map_err(|e| format!("update path {n}: new leaf: {e}"))?;
        let mut merged = tree.clone();
        merged
            .merge_update_path(&cs, sender, &path, &[])
            .map_err(|e| format!("update path {n}: merge: {e}"))?;
        let tree_hash = merged.tree_hash(&cs).map_err(|e| e.to_string())?;
        check_bytes(
            &format!("update path {n}: tree_hash_after"),
            &tree_hash,
            &hex(up, "tree_hash_after")?,
        )?;
        let gc = context(tree_hash)?;

        // Every other member decrypts it.
        for &j in members.iter().filter(|&&j| j != sender) {
            let private = privates
                .get(&j.0)
                .ok_or(format!("no private state for leaf {}", j.0))?;
            let mut keys = private.keys.clone();
            let got = merged
                .decrypt_update_path(&cs, &mut keys, sender, &path, &gc, &[])
                .map_err(|e| format!("update path {n}: leaf {} decrypting: {e}", j.0))?;
            let want = want_secrets
                .get(j.0 as usize)
                .and_then(|v| super::json::hex_value(v).ok())
                .ok_or(format!("update path {n}: no path secret for leaf {}", j.0))?;
            check_bytes(
                &format!("update path {n}: path secret of leaf {}", j.0),
                got.path_secret.as_bytes(),
                &want,
            )?;
            check_bytes(
                &format!("update path {n}: commit secret at leaf {}", j.0),
                got.commit_secret.as_bytes(),
                &want_commit,
            )?;
            keys.check_against(&merged, &cs)
                .map_err(|e| format!("update path {n}: leaf {} keys after: {e}", j.0))?;
        }

        // A fresh UpdatePath from the same sender.
        let private = privates
            .get(&sender.0)
            .ok_or(format!("no private state for sender {}", sender.0))?;
        let mut created = tree.clone();
        let template = tree.leaf(sender).ok_or("sender leaf is blank")?.clone();
        let pending = created
            .create_update_path(&cs, sender, template, &private.signer, &group_id)
            .map_err(|e| format!("update path {n}: creating: {e}"))?;
        let new_hash = created.tree_hash(&cs).map_err(|e| e.to_string())?;
        let new_gc = context(new_hash.clone())?;
        let new_path = pending
            .encrypt(&created, &cs, &new_gc, &[])
            .map_err(|e| format!("update path {n}: encrypting: {e}"))?;
        tree.validate_leaf_node(
            &cs,
            &leaf_ctx,
            &new_path.leaf_node,
            LeafNodeOrigin::Commit(sender),
        )
        .map_err(|e| format!("update path {n}: created leaf: {e}"))?;
        let mut sender_keys = private.keys.clone();
        let commit_secret = pending
            .store_keys(&created, &mut sender_keys)
            .map_err(|e| format!("update path {n}: storing keys: {e}"))?;
        sender_keys
            .check_against(&created, &cs)
            .map_err(|e| format!("update path {n}: sender keys after: {e}"))?;
        let mut received = tree.clone();
        received
            .merge_update_path(&cs, sender, &new_path, &[])
            .map_err(|e| format!("update path {n}: merging the created path: {e}"))?;
        check_bytes(
            &format!("update path {n}: tree hash of the created path"),
            &received.tree_hash(&cs).map_err(|e| e.to_string())?,
            &new_hash,
        )?;
        for &j in members.iter().filter(|&&j| j != sender) {
            let private = privates
                .get(&j.0)
                .ok_or(format!("no private state for leaf {}", j.0))?;
            let mut keys = private.keys.clone();
            let got = received
                .decrypt_update_path(&cs, &mut keys, sender, &new_path, &new_gc, &[])
                .map_err(|e| {
                    format!(
                        "update path {n}: leaf {} decrypting the created path: {e}",
                        j.0
                    )
                })?;
            check_bytes(
                &format!("update path {n}: created commit secret at leaf {}", j.0),
                got.commit_secret.as_bytes(),
                commit_secret.as_bytes(),
            )?;
        }
    }
    Ok(())
}
