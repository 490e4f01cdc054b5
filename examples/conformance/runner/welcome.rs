//! `welcome.json`: joining by Welcome (RFC 9420 §12.4.3.1): find and decrypt
//! the GroupSecrets for our KeyPackage, decrypt the GroupInfo, verify its
//! signature, and check its confirmation tag with the epoch's key schedule
//! (§8, §6.1).

use super::Outcome;
use super::json::{Case, hex, outcome, uint};
use tessera::codec::Decode;
use tessera::crypto::{CipherSuite, HpkePrivateKey, RustCryptoProvider, SignaturePublicKey};
use tessera::key_schedule::JoinerSecret;
use tessera::messages::MlsMessage;
use tessera::psk::PskSecret;
use tessera::transcript::verify_confirmation_tag;
use tessera::welcome::{open_group_info, open_group_secrets};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = RustCryptoProvider::new()
        .suite(suite)
        .map_err(|e| format!("{suite:?}: {e}"))?;
    let MlsMessage::KeyPackage(key_package) = MlsMessage::decode_exact(&hex(case, "key_package")?)
        .map_err(|e| format!("key_package: {e}"))?
    else {
        return Err("key_package is not an MLSMessage(KeyPackage)".into());
    };
    let MlsMessage::Welcome(welcome) =
        MlsMessage::decode_exact(&hex(case, "welcome")?).map_err(|e| format!("welcome: {e}"))?
    else {
        return Err("welcome is not an MLSMessage(Welcome)".into());
    };
    let init_priv = HpkePrivateKey::new(hex(case, "init_priv")?);
    let signer_pub = SignaturePublicKey(hex(case, "signer_pub")?);

    let secrets = open_group_secrets(&cs, &welcome, &key_package, &init_priv)
        .map_err(|e| format!("group secrets: {e}"))?;
    if !secrets.psks.is_empty() {
        return Err("GroupSecrets name PSKs; these vectors have none".into());
    }
    let (group_info, intermediate) = open_group_info(
        &cs,
        JoinerSecret::from_secret(secrets.joiner_secret.clone()),
        PskSecret::zero(&cs),
        &welcome.encrypted_group_info,
    )
    .map_err(|e| format!("group info: {e}"))?;
    group_info
        .verify_signature(&cs, &signer_pub)
        .map_err(|e| format!("GroupInfo signature: {e}"))?;

    let context = &group_info.group_context;
    if context.cipher_suite != key_package.cipher_suite {
        return Err("GroupInfo suite differs from the KeyPackage's".into());
    }
    let epoch = intermediate
        .into_epoch_secret(&cs, context)
        .and_then(|s| s.into_epoch_secrets(&cs))
        .map_err(|e| format!("key schedule: {e}"))?;
    verify_confirmation_tag(
        &cs,
        &epoch.confirmation_key,
        &context.confirmed_transcript_hash,
        &group_info.confirmation_tag,
    )
    .map_err(|e| format!("confirmation tag: {e}"))?;
    Ok(())
}
