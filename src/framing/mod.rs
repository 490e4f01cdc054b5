//! Message framing (RFC 9420 §6): turning content into authenticated
//! PublicMessages and PrivateMessages and back.
//!
//! This layer answers "who sent these authenticated bytes", never "what to do
//! about them". It knows no ratchet tree and no group state: the caller
//! passes the epoch's GroupContext and keys, and resolves senders to
//! signature keys.
//!
//! Sending:
//!
//! 1. [`SignedContent::sign`] (or [`sign_content`] for anything but a commit)
//!    signs a [`FramedContent`](crate::messages::FramedContent) for a wire format (§6.1);
//! 2. for a commit, [`SignedContent::confirmed_transcript_hash`] feeds the new
//!    epoch's key schedule, whose `confirmation_key` gives the tag
//!    ([`crate::transcript::confirmation_tag`]), attached by
//!    [`SignedContent::into_authenticated`];
//! 3. [`public::protect`] adds the membership tag (§6.2), or
//!    [`private::protect`] encrypts (§6.3).
//!
//! Receiving: [`public::unprotect`] or [`private::unprotect`] give the
//! [`AuthenticatedContent`](crate::messages::AuthenticatedContent) once the
//! membership tag or AEAD, and the signature, hold. Their steps are public
//! for callers that need to act in between ([`private::decrypt_sender_data`],
//! [`private::decrypt_content`], [`public::verify_membership_tag`],
//! [`verify_content_signature`]).

mod content;
mod padding;
pub mod private;
pub mod public;

pub use content::{
    SignedContent, check_content_for_sender, check_group_and_epoch, sign_content, tbs_context,
    verify_content_signature,
};
pub use padding::PaddingPolicy;

#[cfg(test)]
mod tests;
