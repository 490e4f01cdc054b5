//! `passive-client-*.json`: join by Welcome, then follow the group's commits
//! (RFC 9420 §12.4.2, §12.4.3.1), comparing epoch authenticators.
//!
//! Leaf lifetimes in these files have long expired (see the vectors' README),
//! so joins and commits are processed without a lifetime check (`now = None`).

use std::collections::HashMap;

use super::Outcome;
use super::json::{Case, array, check_bytes, hex, hex_value, opt_hex, outcome, uint};
use tessera::codec::Decode;
use tessera::crypto::{
    CipherSuite, CryptoProvider, HpkePrivateKey, RustCryptoProvider, Secret, SignaturePrivateKey,
};
use tessera::group::{Group, GroupConfig, JoinInput, KeyPackagePrivate, ProcessedMessage};
use tessera::messages::{MlsMessage, RatchetTreeExtension};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let provider = RustCryptoProvider::new();
    let cs = provider
        .cipher_suite_provider(suite)
        .map_err(|e| format!("suite: {e}"))?;

    let key_package = match MlsMessage::decode_exact(&hex(case, "key_package")?)
        .map_err(|e| format!("key_package: {e}"))?
    {
        MlsMessage::KeyPackage(kp) => kp,
        _ => return Err("key_package is not a KeyPackage".into()),
    };
    let signer = SignaturePrivateKey::new(hex(case, "signature_priv")?);
    let private = KeyPackagePrivate {
        init_key: HpkePrivateKey::new(hex(case, "init_priv")?),
        encryption_key: HpkePrivateKey::new(hex(case, "encryption_priv")?),
    };
    // The private keys belong to the KeyPackage.
    let sig_pub = cs
        .signature_public_key(&signer)
        .map_err(|e| e.to_string())?;
    if sig_pub != key_package.leaf_node.signature_key {
        return Err("signature_priv does not match the KeyPackage".into());
    }
    for (name, key, public) in [
        ("init_priv", &private.init_key, &key_package.init_key),
        (
            "encryption_priv",
            &private.encryption_key,
            &key_package.leaf_node.encryption_key,
        ),
    ] {
        if cs.hpke_public_key(key).map_err(|e| e.to_string())? != *public {
            return Err(format!("{name} does not match the KeyPackage"));
        }
    }

    let mut psks: HashMap<Vec<u8>, Secret> = HashMap::new();
    for p in array(case, "external_psks")? {
        psks.insert(hex(p, "psk_id")?, Secret::from(hex(p, "psk")?));
    }
    let welcome = match MlsMessage::decode_exact(&hex(case, "welcome")?)
        .map_err(|e| format!("welcome: {e}"))?
    {
        MlsMessage::Welcome(w) => w,
        _ => return Err("welcome is not a Welcome".into()),
    };
    let ratchet_tree = opt_hex(case, "ratchet_tree")?
        .map(|b| RatchetTreeExtension::decode_exact(&b))
        .transpose()
        .map_err(|e| format!("ratchet_tree: {e}"))?;

    let mut group = Group::join(
        &provider,
        GroupConfig::default(),
        &welcome,
        JoinInput {
            key_package: &key_package,
            key_package_private: &private,
            signer,
            ratchet_tree,
            psk_store: &psks,
            now: None,
        },
    )
    .map_err(|e| format!("join: {e}"))?;
    check_bytes(
        "initial epoch_authenticator",
        group.epoch_authenticator().as_bytes(),
        &hex(case, "initial_epoch_authenticator")?,
    )?;

    for (i, epoch) in array(case, "epochs")?.iter().enumerate() {
        for (j, p) in array(epoch, "proposals")?.iter().enumerate() {
            let msg = MlsMessage::decode_exact(&hex_value(p)?)
                .map_err(|e| format!("epoch {i} proposal {j}: {e}"))?;
            match group.process_message(&msg, &psks, None) {
                Ok(ProcessedMessage::Proposal { .. }) => {}
                Ok(other) => return Err(format!("epoch {i} proposal {j}: got {other:?}")),
                Err(e) => return Err(format!("epoch {i} proposal {j}: {e}")),
            }
        }
        let msg = MlsMessage::decode_exact(&hex(epoch, "commit")?)
            .map_err(|e| format!("epoch {i} commit: {e}"))?;
        let staged = match group.process_message(&msg, &psks, None) {
            Ok(ProcessedMessage::Commit(staged)) => staged,
            Ok(other) => return Err(format!("epoch {i} commit: got {other:?}")),
            Err(e) => return Err(format!("epoch {i} commit: {e}")),
        };
        group
            .merge_staged_commit(*staged)
            .map_err(|e| format!("epoch {i} merge: {e}"))?;
        check_bytes(
            &format!("epoch {i} epoch_authenticator"),
            group.epoch_authenticator().as_bytes(),
            &hex(epoch, "epoch_authenticator")?,
        )?;
    }
    Ok(())
}
