//! `message-protection.json`: PublicMessage (membership tag and signature,
//! RFC 9420 §6.1, §6.2) and PrivateMessage (§6.3) protect and unprotect.
//!
//! For each of proposal, commit and application, with member 1 of a
//! two-member group as the sender:
//! * the given PublicMessage (not for application) unprotects with
//!   `membership_key` and `signature_pub` to the given value;
//! * protecting the value as a PublicMessage with `membership_key` and
//!   `signature_priv` gives a message that unprotects to it again; for
//!   application data, protecting as a PublicMessage fails;
//! * the given PrivateMessage unprotects with a secret tree from
//!   `encryption_secret`, `sender_data_secret` and `signature_pub`;
//! * protecting the value as a PrivateMessage (with a fresh sender's secret
//!   tree and padding) gives a message a fresh receiver's tree unprotects.

use super::Outcome;
use super::json::{Case, hex, outcome, uint};
use tessera::codec::{Decode, Encode};
use tessera::crypto::{
    CipherSuite, CipherSuiteProvider, RustCryptoProvider, Secret, SignaturePrivateKey,
    SignaturePublicKey, Tag,
};
use tessera::error::{ApiError, Error};
use tessera::framing::{self, PaddingPolicy, SignedContent, private, public};
use tessera::key_schedule::SenderDataSecret;
use tessera::messages::{
    AuthenticatedContent, FramedContent, FramedContentBody, GroupContext, MlsMessage, Proposal,
    ProtocolVersion, Sender, WireFormat,
};
use tessera::secret_tree::{SecretTree, SecretTreeConfig};
use tessera::tree_math::{LeafIndex, TreeSize};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

/// The sender of every message in these vectors.
const SENDER: u32 = 1;

struct Fixture<'a> {
    cs: &'a dyn CipherSuiteProvider,
    context: GroupContext,
    signature_priv: SignaturePrivateKey,
    signature_pub: SignaturePublicKey,
    encryption_secret: Vec<u8>,
    sender_data_secret: SenderDataSecret,
    membership_key: Secret,
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = RustCryptoProvider::new()
        .suite(suite)
        .map_err(|e| format!("{suite:?}: {e}"))?;
    let f = Fixture {
        cs: &cs,
        context: GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: suite,
            group_id: hex(case, "group_id")?,
            epoch: uint(case, "epoch")?,
            tree_hash: hex(case, "tree_hash")?,
            confirmed_transcript_hash: hex(case, "confirmed_transcript_hash")?,
            extensions: vec![],
        },
        signature_priv: SignaturePrivateKey::new(hex(case, "signature_priv")?),
        signature_pub: SignaturePublicKey(hex(case, "signature_pub")?),
        encryption_secret: hex(case, "encryption_secret")?,
        sender_data_secret: SenderDataSecret::from_secret(Secret::from(hex(
            case,
            "sender_data_secret",
        )?)),
        membership_key: Secret::from(hex(case, "membership_key")?),
    };

    let proposal =
        Proposal::decode_exact(&hex(case, "proposal")?).map_err(|e| format!("proposal: {e}"))?;
    let commit = tessera::messages::Commit::decode_exact(&hex(case, "commit")?)
        .map_err(|e| format!("commit: {e}"))?;
    let application = hex(case, "application")?;

    for (name, body) in [
        ("proposal", FramedContentBody::Proposal(proposal)),
        ("commit", FramedContentBody::Commit(commit)),
    ] {
        let public_message = hex(case, &format!("{name}_pub"))?;
        let private_message = hex(case, &format!("{name}_priv"))?;
        let got = f
            .unprotect_public(&public_message)
            .map_err(|e| format!("{name}_pub: {e}"))?;
        f.check_content(name, &got, &body)?;
        // A commit carries a confirmation tag, which framing only passes on.
        let tag = got.auth.confirmation_tag.clone();
        f.round_trip_public(&body, tag.clone())
            .map_err(|e| format!("{name}: PublicMessage round trip: {e}"))?;
        let got = f
            .unprotect_private(&private_message)
            .map_err(|e| format!("{name}_priv: {e}"))?;
        f.check_content(name, &got, &body)?;
        f.round_trip_private(&body, tag)
            .map_err(|e| format!("{name}: PrivateMessage round trip: {e}"))?;
    }

    let body = FramedContentBody::Application(application);
    let got = f
        .unprotect_private(&hex(case, "application_priv")?)
        .map_err(|e| format!("application_priv: {e}"))?;
    f.check_content("application", &got, &body)?;
    f.round_trip_private(&body, None)
        .map_err(|e| format!("application: PrivateMessage round trip: {e}"))?;
    f.public_application_refused()?;
    Ok(())
}

impl Fixture<'_> {
    fn content(&self, body: &FramedContentBody) -> FramedContent {
        FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender: Sender::Member(SENDER),
            authenticated_data: vec![],
            content: body.clone(),
        }
    }

    fn tree(&self) -> Result<SecretTree, Error> {
        let size = TreeSize::new(2).ok_or(Error::Internal("two leaves"))?;
        Ok(SecretTree::new(
            self.cs,
            Secret::from(self.encryption_secret.clone()),
            size,
            SecretTreeConfig::default(),
        ))
    }

    fn signature_key_for(&self, leaf: LeafIndex) -> Result<SignaturePublicKey, Error> {
        if leaf == LeafIndex(SENDER) {
            Ok(self.signature_pub.clone())
        } else {
            Err(ApiError::InvalidArgument("sender data names a leaf other than the sender").into())
        }
    }

    fn check_content(
        &self,
        name: &str,
        got: &AuthenticatedContent,
        want: &FramedContentBody,
    ) -> Result<(), String> {
        let c = &got.content;
        if c.sender != Sender::Member(SENDER)
            || c.group_id != self.context.group_id
            || c.epoch != self.context.epoch
        {
            return Err(format!("{name}: wrong framing {c:?}"));
        }
        if &c.content != want {
            return Err(format!("{name}: content differs"));
        }
        Ok(())
    }

    fn unprotect_public(&self, bytes: &[u8]) -> Result<AuthenticatedContent, Error> {
        let MlsMessage::PublicMessage(m) = MlsMessage::decode_exact(bytes)? else {
            return Err(ApiError::InvalidArgument("not a PublicMessage").into());
        };
        public::unprotect(
            self.cs,
            m,
            &self.context,
            &self.membership_key,
            &self.signature_pub,
        )
    }

    fn unprotect_private(&self, bytes: &[u8]) -> Result<AuthenticatedContent, Error> {
        let MlsMessage::PrivateMessage(m) = MlsMessage::decode_exact(bytes)? else {
            return Err(ApiError::InvalidArgument("not a PrivateMessage").into());
        };
        private::unprotect(
            self.cs,
            &m,
            &self.context,
            &self.sender_data_secret,
            &mut self.tree()?,
            |leaf| self.signature_key_for(leaf),
        )
    }

    fn round_trip_public(&self, body: &FramedContentBody, tag: Option<Tag>) -> Result<(), String> {
        let signed = framing::sign_content(
            self.cs,
            WireFormat::PUBLIC_MESSAGE,
            self.content(body),
            Some(&self.context),
            &self.signature_priv,
            tag,
        )
        .map_err(|e| format!("sign: {e}"))?;
        let message = public::protect(
            self.cs,
            signed.clone(),
            Some(&self.context),
            Some(&self.membership_key),
        )
        .map_err(|e| format!("protect: {e}"))?;
        let bytes = MlsMessage::PublicMessage(message)
            .to_bytes()
            .map_err(|e| format!("encode: {e}"))?;
        let got = self
            .unprotect_public(&bytes)
            .map_err(|e| format!("unprotect: {e}"))?;
        if got != signed {
            return Err("unprotected content differs from the protected one".into());
        }
        Ok(())
    }

    fn round_trip_private(&self, body: &FramedContentBody, tag: Option<Tag>) -> Result<(), String> {
        let signed = framing::sign_content(
            self.cs,
            WireFormat::PRIVATE_MESSAGE,
            self.content(body),
            Some(&self.context),
            &self.signature_priv,
            tag,
        )
        .map_err(|e| format!("sign: {e}"))?;
        let mut sender_tree = self.tree().map_err(|e| e.to_string())?;
        let padding = PaddingPolicy::MultipleOf(
            core::num::NonZeroUsize::new(32).ok_or("a multiple of zero")?,
        );
        let message = private::protect(
            self.cs,
            &signed,
            &mut sender_tree,
            &self.sender_data_secret,
            padding,
        )
        .map_err(|e| format!("protect: {e}"))?;
        let bytes = MlsMessage::PrivateMessage(message)
            .to_bytes()
            .map_err(|e| format!("encode: {e}"))?;
        let got = self
            .unprotect_private(&bytes)
            .map_err(|e| format!("unprotect: {e}"))?;
        if got != signed {
            return Err("unprotected content differs from the protected one".into());
        }
        Ok(())
    }

    /// Application data cannot be signed for, or protected as, a PublicMessage (§6).
    fn public_application_refused(&self) -> Result<(), String> {
        let body = FramedContentBody::Application(b"data".to_vec());
        let want = Error::from(ApiError::ApplicationMessageMustBePrivate);
        let signed = SignedContent::sign(
            self.cs,
            WireFormat::PUBLIC_MESSAGE,
            self.content(&body),
            Some(&self.context),
            &self.signature_priv,
        );
        if signed.as_ref().err() != Some(&want) {
            return Err(format!(
                "signing application data as PublicMessage: {signed:?}"
            ));
        }
        // Content signed for a PrivateMessage is refused by public::protect too.
        let private = framing::sign_content(
            self.cs,
            WireFormat::PRIVATE_MESSAGE,
            self.content(&body),
            Some(&self.context),
            &self.signature_priv,
            None,
        )
        .map_err(|e| format!("sign: {e}"))?;
        let protected = public::protect(
            self.cs,
            private,
            Some(&self.context),
            Some(&self.membership_key),
        );
        if protected.as_ref().err() != Some(&want) {
            return Err(format!(
                "protecting application data as PublicMessage: {protected:?}"
            ));
        }
        Ok(())
    }
}
