//! Proposals from outside the group (RFC 9420 §12.1.8): by an external
//! sender listed in the group's `external_senders` extension (§12.1.8.1),
//! or by a new member proposing its own Add.
//!
//! Members receive them with [`Group::process_message`](super::Group::process_message),
//! which checks the signature against the `external_senders` entry or the
//! KeyPackage, and keep them with their sender, so that a member's next
//! commit covers them by reference.

use super::proposals::check_sender_may_propose;
use crate::crypto::{CipherSuiteProvider, SignaturePrivateKey};
use crate::error::{ApiError, Result};
use crate::framing::{public, sign_content};
use crate::messages::{
    Add, FramedContent, FramedContentBody, KeyPackage, MlsMessage, Proposal, Sender, WireFormat,
};

/// Signs `proposal` as the external sender at `sender_index` of the group's
/// `external_senders` extension (RFC 9420 §12.1.8), for the group
/// `group_id` in `epoch`. The result is a PublicMessage without membership
/// tag: external proposals are never encrypted (§12.1.8), and their
/// signature does not cover the GroupContext (§6.1).
///
/// Only Add, Remove, PreSharedKey, ReInit and GroupContextExtensions may be
/// sent by an external sender (§12.1.8); other types are refused with
/// [`ApiError::InvalidArgument`].
pub fn external_proposal(
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
    epoch: u64,
    sender_index: u32,
    signer: &SignaturePrivateKey,
    proposal: Proposal,
) -> Result<MlsMessage> {
    let sender = Sender::External(sender_index);
    if check_sender_may_propose(&sender, proposal.proposal_type()).is_err() {
        return Err(ApiError::InvalidArgument(
            "external senders send only Add, Remove, PSK, ReInit and GroupContextExtensions",
        )
        .into());
    }
    sign_external(cs, group_id, epoch, sender, signer, proposal)
}

/// Signs an Add of the client of `key_package` by that client itself, sender
/// `new_member_proposal` (RFC 9420 §12.1.8), for the group `group_id` in
/// `epoch`. `signer` must be the private key of the KeyPackage leaf's
/// signature key, with which members verify the proposal. The result is a
/// PublicMessage without membership tag.
pub fn new_member_proposal(
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
    epoch: u64,
    key_package: KeyPackage,
    signer: &SignaturePrivateKey,
) -> Result<MlsMessage> {
    if cs.signature_public_key(signer)? != key_package.leaf_node.signature_key {
        return Err(ApiError::InvalidArgument(
            "the signer is not the KeyPackage leaf's signature key",
        )
        .into());
    }
    let proposal = Proposal::Add(Add { key_package });
    sign_external(
        cs,
        group_id,
        epoch,
        Sender::NewMemberProposal,
        signer,
        proposal,
    )
}

/// Frames, signs and wraps a proposal from a non-member as a PublicMessage.
fn sign_external(
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
    epoch: u64,
    sender: Sender,
    signer: &SignaturePrivateKey,
    proposal: Proposal,
) -> Result<MlsMessage> {
    let content = FramedContent {
        group_id: group_id.to_vec(),
        epoch,
        sender,
        authenticated_data: Vec::new(),
        content: FramedContentBody::Proposal(proposal),
    };
    let auth = sign_content(cs, WireFormat::PUBLIC_MESSAGE, content, None, signer, None)?;
    Ok(MlsMessage::PublicMessage(public::protect(
        cs, auth, None, None,
    )?))
}
