//! `secret-tree.json`: the secret tree and its ratchets (RFC 9420 §9, §9.1)
//! and the sender data key and nonce (§6.3.2).

use super::Outcome;
use super::json::{Case, array, check_bytes, field, hex, outcome, uint};
use tessera::crypto::{CipherSuite, RustCryptoProvider, Secret};
use tessera::key_schedule::SenderDataSecret;
use tessera::secret_tree::{RatchetKind, SecretTree, SecretTreeConfig};
use tessera::tree_math::{LeafIndex, TreeSize};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = RustCryptoProvider::new()
        .suite(suite)
        .map_err(|e| format!("{suite:?}: {e}"))?;

    let sd = field(case, "sender_data")?;
    let sender_data = SenderDataSecret::from_secret(Secret::from(hex(sd, "sender_data_secret")?))
        .key_and_nonce(&cs, &hex(sd, "ciphertext")?)
        .map_err(|e| format!("sender data: {e}"))?;
    check_bytes(
        "sender_data.key",
        sender_data.key.as_bytes(),
        &hex(sd, "key")?,
    )?;
    check_bytes(
        "sender_data.nonce",
        sender_data.nonce.as_bytes(),
        &hex(sd, "nonce")?,
    )?;

    let leaves = array(case, "leaves")?;
    let n = u32::try_from(leaves.len()).map_err(|e| e.to_string())?;
    let size = TreeSize::new(n).ok_or_else(|| format!("{n} leaves is not a power of two"))?;
    let mut tree = SecretTree::new(
        &cs,
        Secret::from(hex(case, "encryption_secret")?),
        size,
        SecretTreeConfig::default(),
    );
    for (i, entries) in leaves.iter().enumerate() {
        let leaf = LeafIndex(i as u32);
        let entries = entries
            .as_array()
            .ok_or_else(|| format!("leaves[{i}] is not an array"))?;
        for g in entries {
            let generation = u32::try_from(uint(g, "generation")?).map_err(|e| e.to_string())?;
            for (kind, name) in [
                (RatchetKind::Handshake, "handshake"),
                (RatchetKind::Application, "application"),
            ] {
                let at = format!("leaf {i} generation {generation} {name}");
                let k = tree
                    .key(&cs, leaf, kind, generation)
                    .map_err(|e| format!("{at}: {e}"))?;
                check_bytes(
                    &format!("{at} key"),
                    k.key.as_bytes(),
                    &hex(g, &format!("{name}_key"))?,
                )?;
                check_bytes(
                    &format!("{at} nonce"),
                    k.nonce.as_bytes(),
                    &hex(g, &format!("{name}_nonce"))?,
                )?;
            }
        }
    }
    Ok(())
}
