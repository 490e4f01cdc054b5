//! `transcript-hashes.json`: the confirmed and interim transcript hashes
//! (RFC 9420 §8.2) and the confirmation tag (§6.1) of one commit.

use super::Outcome;
use super::json::{Case, check_bytes, hex, outcome, uint};
use tessera::codec::Decode;
use tessera::crypto::{CipherSuite, RustCryptoProvider, Secret};
use tessera::messages::{AuthenticatedContent, ContentType};
use tessera::transcript::{TranscriptHashes, verify_confirmation_tag};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = RustCryptoProvider::new()
        .suite(suite)
        .map_err(|e| format!("{suite:?}: {e}"))?;
    let content = AuthenticatedContent::decode_exact(&hex(case, "authenticated_content")?)
        .map_err(|e| format!("authenticated_content: {e}"))?;
    if content.content.content_type() != ContentType::Commit {
        return Err("authenticated_content is not a commit".into());
    }
    let tag = content
        .auth
        .confirmation_tag
        .as_ref()
        .ok_or("commit without confirmation tag")?;

    let hashes =
        TranscriptHashes::for_commit(&cs, &hex(case, "interim_transcript_hash_before")?, &content)
            .map_err(|e| format!("transcript hashes: {e}"))?;
    let confirmed = hex(case, "confirmed_transcript_hash_after")?;
    check_bytes(
        "confirmed_transcript_hash_after",
        &hashes.confirmed,
        &confirmed,
    )?;
    check_bytes(
        "interim_transcript_hash_after",
        &hashes.interim,
        &hex(case, "interim_transcript_hash_after")?,
    )?;
    let key = Secret::from(hex(case, "confirmation_key")?);
    verify_confirmation_tag(&cs, &key, &confirmed, tag)
        .map_err(|e| format!("confirmation tag: {e}"))?;
    Ok(())
}
