//! `crypto-basics.json`: the labelled operations of RFC 9420 for one suite:
//! RefHash (§5.2), ExpandWithLabel and DeriveSecret (§8), DeriveTreeSecret
//! (§9), Sign/VerifyWithLabel (§5.1.2) and Encrypt/DecryptWithLabel (§5.1.3).

use super::Outcome;
use super::json::{Case, check_bytes, field, hex, outcome, string, uint};
use tessera::crypto::labeled;
use tessera::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, HpkeCiphertext, HpkePrivateKey,
    HpkePublicKey, RustCryptoProvider, SignaturePrivateKey, SignaturePublicKey,
};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?;
    let provider = RustCryptoProvider::new();
    let cs = provider
        .cipher_suite_provider(CipherSuite(suite))
        .map_err(|e| format!("cipher suite {suite}: {e}"))?;
    let cs = cs.as_ref();
    ref_hash(cs, field(case, "ref_hash")?).map_err(|e| format!("ref_hash: {e}"))?;
    expand_with_label(cs, field(case, "expand_with_label")?)
        .map_err(|e| format!("expand_with_label: {e}"))?;
    derive_secret(cs, field(case, "derive_secret")?).map_err(|e| format!("derive_secret: {e}"))?;
    derive_tree_secret(cs, field(case, "derive_tree_secret")?)
        .map_err(|e| format!("derive_tree_secret: {e}"))?;
    sign_with_label(cs, field(case, "sign_with_label")?)
        .map_err(|e| format!("sign_with_label: {e}"))?;
    encrypt_with_label(cs, field(case, "encrypt_with_label")?)
        .map_err(|e| format!("encrypt_with_label: {e}"))?;
    Ok(())
}

fn u16_field(v: &Case, name: &str) -> Result<u16, String> {
    u16::try_from(uint(v, name)?).map_err(|_| format!("`{name}` does not fit in uint16"))
}

/// `out == RefHash(label, value)`.
fn ref_hash(cs: &dyn CipherSuiteProvider, v: &Case) -> Result<(), String> {
    let out = labeled::ref_hash(cs, string(v, "label")?.as_bytes(), &hex(v, "value")?)
        .map_err(|e| e.to_string())?;
    check_bytes("out", &out, &hex(v, "out")?)
}

/// `out == ExpandWithLabel(secret, label, context, length)`.
fn expand_with_label(cs: &dyn CipherSuiteProvider, v: &Case) -> Result<(), String> {
    let out = labeled::expand_with_label(
        cs,
        &hex(v, "secret")?,
        string(v, "label")?.as_bytes(),
        &hex(v, "context")?,
        u16_field(v, "length")?,
    )
    .map_err(|e| e.to_string())?;
    check_bytes("out", out.as_bytes(), &hex(v, "out")?)
}

/// `out == DeriveSecret(secret, label)`.
fn derive_secret(cs: &dyn CipherSuiteProvider, v: &Case) -> Result<(), String> {
    let out = labeled::derive_secret(cs, &hex(v, "secret")?, string(v, "label")?.as_bytes())
        .map_err(|e| e.to_string())?;
    check_bytes("out", out.as_bytes(), &hex(v, "out")?)
}

/// `out == DeriveTreeSecret(secret, label, generation, length)`.
fn derive_tree_secret(cs: &dyn CipherSuiteProvider, v: &Case) -> Result<(), String> {
    let generation = u32::try_from(uint(v, "generation")?)
        .map_err(|_| "`generation` does not fit in uint32".to_string())?;
    let out = labeled::derive_tree_secret(
        cs,
        &hex(v, "secret")?,
        string(v, "label")?.as_bytes(),
        generation,
        u16_field(v, "length")?,
    )
    .map_err(|e| e.to_string())?;
    check_bytes("out", out.as_bytes(), &hex(v, "out")?)
}

/// `VerifyWithLabel(pub, label, content, signature)` holds, and so does
/// `VerifyWithLabel(pub, label, content, SignWithLabel(priv, label, content))`.
fn sign_with_label(cs: &dyn CipherSuiteProvider, v: &Case) -> Result<(), String> {
    let sk = SignaturePrivateKey::new(hex(v, "priv")?);
    let pk = SignaturePublicKey(hex(v, "pub")?);
    let label = string(v, "label")?.as_bytes();
    let content = hex(v, "content")?;
    labeled::verify_with_label(cs, &pk, label, &content, &hex(v, "signature")?)
        .map_err(|e| format!("given signature: {e}"))?;
    let derived = cs
        .signature_public_key(&sk)
        .map_err(|e| format!("public key of priv: {e}"))?;
    check_bytes("public key of priv", derived.as_bytes(), pk.as_bytes())?;
    let fresh = labeled::sign_with_label(cs, &sk, label, &content)
        .map_err(|e| format!("re-signing: {e}"))?;
    labeled::verify_with_label(cs, &pk, label, &content, &fresh)
        .map_err(|e| format!("fresh signature: {e}"))
}

/// `DecryptWithLabel(priv, label, context, kem_output, ciphertext) == plaintext`,
/// and the same for a fresh `EncryptWithLabel(pub, label, context, plaintext)`.
fn encrypt_with_label(cs: &dyn CipherSuiteProvider, v: &Case) -> Result<(), String> {
    let sk = HpkePrivateKey::new(hex(v, "priv")?);
    let pk = HpkePublicKey(hex(v, "pub")?);
    let label = string(v, "label")?.as_bytes();
    let context = hex(v, "context")?;
    let plaintext = hex(v, "plaintext")?;
    let given = HpkeCiphertext {
        kem_output: hex(v, "kem_output")?,
        ciphertext: hex(v, "ciphertext")?,
    };
    let opened = labeled::decrypt_with_label(cs, &sk, label, &context, &given)
        .map_err(|e| format!("given ciphertext: {e}"))?;
    check_bytes("given ciphertext's plaintext", &opened, &plaintext)?;
    let derived = cs
        .hpke_public_key(&sk)
        .map_err(|e| format!("public key of priv: {e}"))?;
    check_bytes("public key of priv", derived.as_bytes(), pk.as_bytes())?;
    let fresh = labeled::encrypt_with_label(cs, &pk, label, &context, &plaintext)
        .map_err(|e| format!("re-encrypting: {e}"))?;
    if fresh.kem_output == given.kem_output {
        return Err("fresh encryption reused the vector's kem_output".into());
    }
    let opened = labeled::decrypt_with_label(cs, &sk, label, &context, &fresh)
        .map_err(|e| format!("fresh ciphertext: {e}"))?;
    check_bytes("fresh ciphertext's plaintext", &opened, &plaintext)
}
