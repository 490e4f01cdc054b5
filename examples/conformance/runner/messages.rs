//! `messages.json`: every field decodes as its structure and re-encodes to
//! the same bytes (RFC 9420 §6, §10, §12.1, §12.4, §12.4.3).

use super::Outcome;
use super::json::{Case, check_bytes, hex, outcome};
use tessera::codec::{Decode, Encode};
use tessera::messages::{
    Add, Commit, ContentType, ExternalInit, GroupContextExtensions, GroupSecrets, MlsMessage,
    PreSharedKey, RatchetTreeExtension, ReInit, Remove, Update, WireFormat,
};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

/// Decodes field `name` as a `T` spanning all of it and checks it re-encodes
/// to the same bytes. Returns the decoded value.
fn round_trip<T: Decode + Encode>(case: &Case, name: &str) -> Result<T, String> {
    let bytes = hex(case, name)?;
    let value = T::decode_exact(&bytes).map_err(|e| format!("{name}: decode: {e}"))?;
    let again = value
        .to_bytes()
        .map_err(|e| format!("{name}: encode: {e}"))?;
    check_bytes(name, &again, &bytes)?;
    Ok(value)
}

/// An MLSMessage field that must have wire format `want`.
fn message(case: &Case, name: &str, want: WireFormat) -> Result<MlsMessage, String> {
    let m: MlsMessage = round_trip(case, name)?;
    if m.wire_format() != want {
        return Err(format!(
            "{name}: wire format {:?}, want {want:?}",
            m.wire_format()
        ));
    }
    Ok(m)
}

/// A public message field whose content must be of type `want`.
fn public(case: &Case, name: &str, want: ContentType) -> Result<(), String> {
    match message(case, name, WireFormat::PUBLIC_MESSAGE)? {
        MlsMessage::PublicMessage(m) if m.content.content_type() == want => Ok(()),
        MlsMessage::PublicMessage(m) => Err(format!(
            "{name}: content type {:?}, want {want:?}",
            m.content.content_type()
        )),
        _ => Err(format!("{name}: not a public message")),
    }
}

fn run(case: &Case) -> Result<(), String> {
    message(case, "mls_welcome", WireFormat::WELCOME)?;
    message(case, "mls_group_info", WireFormat::GROUP_INFO)?;
    message(case, "mls_key_package", WireFormat::KEY_PACKAGE)?;
    round_trip::<RatchetTreeExtension>(case, "ratchet_tree")?;
    round_trip::<GroupSecrets>(case, "group_secrets")?;
    round_trip::<Add>(case, "add_proposal")?;
    round_trip::<Update>(case, "update_proposal")?;
    round_trip::<Remove>(case, "remove_proposal")?;
    round_trip::<PreSharedKey>(case, "pre_shared_key_proposal")?;
    round_trip::<ReInit>(case, "re_init_proposal")?;
    round_trip::<ExternalInit>(case, "external_init_proposal")?;
    round_trip::<GroupContextExtensions>(case, "group_context_extensions_proposal")?;
    round_trip::<Commit>(case, "commit")?;
    public(case, "public_message_application", ContentType::Application)?;
    public(case, "public_message_proposal", ContentType::Proposal)?;
    public(case, "public_message_commit", ContentType::Commit)?;
    message(case, "private_message", WireFormat::PRIVATE_MESSAGE)?;
    Ok(())
}
