//! Framing round trips, and one negative test per receiver check, each
//! expecting its specific error.

use core::num::NonZeroUsize;
use std::sync::Arc;

use super::*;
use crate::codec::Encode;
use crate::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, RustCryptoProvider, Secret,
    SignaturePrivateKey, SignaturePublicKey, Tag,
};
use crate::error::{ApiError, CryptoError, DecodeError, Error, ProtocolError};
use crate::key_schedule::SenderDataSecret;
use crate::messages::{
    AuthenticatedContent, Commit, ContentType, FramedContent, FramedContentBody, GroupContext,
    PrivateMessage, PrivateMessageContent, Proposal, ProtocolVersion, PublicMessage, Remove,
    Sender, SenderData, WireFormat,
};
use crate::secret_tree::{RatchetKind, SecretTree, SecretTreeConfig};
use crate::tree_math::{LeafIndex, TreeSize};

const SENDER: u32 = 2;

struct Fx {
    cs: Arc<dyn CipherSuiteProvider>,
    sk: SignaturePrivateKey,
    pk: SignaturePublicKey,
    context: GroupContext,
    membership_key: Secret,
    sender_data_secret: SenderDataSecret,
}

fn fx() -> Fx {
    let cs = RustCryptoProvider::with_seed([7; 32])
        .cipher_suite_provider(CipherSuite(1))
        .unwrap();
    let (sk, pk) = cs.signature_generate_key_pair().unwrap();
    Fx {
        cs,
        sk,
        pk,
        context: GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite(1),
            group_id: b"group".to_vec(),
            epoch: 3,
            tree_hash: vec![1; 32],
            confirmed_transcript_hash: vec![2; 32],
            extensions: vec![],
        },
        membership_key: Secret::from(vec![3; 32]),
        sender_data_secret: SenderDataSecret::from_secret(Secret::from(vec![4; 32])),
    }
}

fn remove(leaf: u32) -> FramedContentBody {
    FramedContentBody::Proposal(Proposal::Remove(Remove { removed: leaf }))
}

fn commit() -> FramedContentBody {
    FramedContentBody::Commit(Commit {
        proposals: vec![],
        path: None,
    })
}

impl Fx {
    fn cs(&self) -> &dyn CipherSuiteProvider {
        self.cs.as_ref()
    }

    fn framed(&self, sender: Sender, body: FramedContentBody) -> FramedContent {
        FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender,
            authenticated_data: b"aad".to_vec(),
            content: body,
        }
    }

    fn tag_for(body: &FramedContentBody) -> Option<Tag> {
        matches!(body, FramedContentBody::Commit(_)).then(|| Tag::from(vec![9; 32]))
    }

    fn signed(
        &self,
        wf: WireFormat,
        sender: Sender,
        body: FramedContentBody,
    ) -> AuthenticatedContent {
        let tag = Self::tag_for(&body);
        sign_content(
            self.cs(),
            wf,
            self.framed(sender, body),
            Some(&self.context),
            &self.sk,
            tag,
        )
        .unwrap()
    }

    fn public(&self, sender: Sender, body: FramedContentBody) -> PublicMessage {
        let ac = self.signed(WireFormat::PUBLIC_MESSAGE, sender, body);
        public::protect(
            self.cs(),
            ac,
            Some(&self.context),
            Some(&self.membership_key),
        )
        .unwrap()
    }

    fn unprotect_public(&self, m: PublicMessage) -> Result<AuthenticatedContent, Error> {
        public::unprotect(self.cs(), m, &self.context, &self.membership_key, &self.pk)
    }

    /// Recomputes the membership tag of a message edited after protection.
    fn retag(&self, m: &mut PublicMessage) {
        let ac = AuthenticatedContent {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: m.content.clone(),
            auth: m.auth.clone(),
        };
        m.membership_tag = Some(
            public::membership_tag(self.cs(), &ac, &self.context, &self.membership_key).unwrap(),
        );
    }

    fn tree(&self) -> SecretTree {
        SecretTree::new(
            self.cs(),
            Secret::from(vec![5; 32]),
            TreeSize::new(4).unwrap(),
            SecretTreeConfig::default(),
        )
    }

    fn private(&self, tree: &mut SecretTree, body: FramedContentBody) -> PrivateMessage {
        let ac = self.signed(WireFormat::PRIVATE_MESSAGE, Sender::Member(SENDER), body);
        private::protect(
            self.cs(),
            &ac,
            tree,
            &self.sender_data_secret,
            PaddingPolicy::MultipleOf(NonZeroUsize::new(64).unwrap()),
        )
        .unwrap()
    }

    fn unprotect_private(
        &self,
        tree: &mut SecretTree,
        m: &PrivateMessage,
    ) -> Result<AuthenticatedContent, Error> {
        private::unprotect(
            self.cs(),
            m,
            &self.context,
            &self.sender_data_secret,
            tree,
            |leaf| {
                if leaf == LeafIndex(SENDER) {
                    Ok(self.pk.clone())
                } else {
                    Err(ApiError::InvalidArgument("blank leaf").into())
                }
            },
        )
    }

    /// Encrypts an arbitrary plaintext as a PrivateMessage from `leaf` under
    /// `kind`'s next key: a sender that breaks the rules `protect` follows.
    fn seal_raw(
        &self,
        tree: &mut SecretTree,
        content_type: ContentType,
        kind: RatchetKind,
        leaf: u32,
        plaintext: &[u8],
    ) -> PrivateMessage {
        let cs = self.cs();
        let key = tree.next_key(cs, LeafIndex(leaf), kind).unwrap();
        let reuse_guard = [1, 2, 3, 4];
        let mut nonce = key.nonce.as_bytes().to_vec();
        for i in 0..4 {
            nonce[i] ^= reuse_guard[i];
        }
        let mut m = PrivateMessage {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            content_type,
            authenticated_data: vec![],
            encrypted_sender_data: vec![],
            ciphertext: vec![],
        };
        m.ciphertext = cs
            .aead_seal(
                key.key.as_bytes(),
                &nonce,
                &m.content_aad().to_bytes().unwrap(),
                plaintext,
            )
            .unwrap();
        let sd = SenderData {
            leaf_index: leaf,
            generation: key.generation,
            reuse_guard,
        };
        let k = self
            .sender_data_secret
            .key_and_nonce(cs, &m.ciphertext)
            .unwrap();
        m.encrypted_sender_data = cs
            .aead_seal(
                k.key.as_bytes(),
                k.nonce.as_bytes(),
                &m.sender_data_aad().to_bytes().unwrap(),
                &sd.to_bytes().unwrap(),
            )
            .unwrap();
        m
    }

    /// A well-formed plaintext for `body`, signed for `wf`, with `padding`.
    fn plaintext(&self, wf: WireFormat, body: FramedContentBody, padding: usize) -> Vec<u8> {
        let mut framed = self.framed(Sender::Member(SENDER), body);
        framed.authenticated_data.clear();
        let tag = Self::tag_for(&framed.content);
        let ac = sign_content(self.cs(), wf, framed, Some(&self.context), &self.sk, tag).unwrap();
        PrivateMessageContent {
            content: ac.content.content,
            auth: ac.auth,
            padding,
        }
        .to_bytes()
        .unwrap()
    }
}

fn protocol(e: ProtocolError) -> Result<AuthenticatedContent, Error> {
    Err(e.into())
}

fn crypto(e: CryptoError) -> Result<AuthenticatedContent, Error> {
    Err(e.into())
}

// ---------------------------------------------------------------- PublicMessage

#[test]
fn public_round_trips_for_every_sender_type() {
    let f = fx();
    let cases = [
        (Sender::Member(SENDER), remove(1)),
        (Sender::Member(SENDER), commit()),
        (Sender::External(0), remove(1)),
        (Sender::NewMemberCommit, commit()),
    ];
    for (sender, body) in cases {
        let m = f.public(sender, body);
        assert_eq!(
            m.membership_tag.is_some(),
            matches!(sender, Sender::Member(_))
        );
        let ac = f.unprotect_public(m.clone()).unwrap();
        assert_eq!(ac.wire_format, WireFormat::PUBLIC_MESSAGE);
        assert_eq!(ac.content, m.content);
        assert_eq!(ac.auth, m.auth);
    }
}

#[test]
fn bad_membership_tag_is_refused() {
    let f = fx();
    let m = f.public(Sender::Member(SENDER), remove(1));
    let mut bad = m.clone();
    let mut tag = bad.membership_tag.take().unwrap().as_bytes().to_vec();
    tag[5] ^= 1;
    bad.membership_tag = Some(Tag::from(tag));
    assert_eq!(
        f.unprotect_public(bad),
        protocol(ProtocolError::InvalidMembershipTag)
    );
    // A missing tag, or one made with another epoch's membership key.
    let mut bad = m.clone();
    bad.membership_tag = None;
    assert_eq!(
        f.unprotect_public(bad),
        protocol(ProtocolError::InvalidMembershipTag)
    );
    assert_eq!(
        public::unprotect(f.cs(), m, &f.context, &Secret::from(vec![6; 32]), &f.pk),
        protocol(ProtocolError::InvalidMembershipTag)
    );
}

#[test]
fn bad_signature_is_refused() {
    let f = fx();
    let m = f.public(Sender::Member(SENDER), remove(1));
    // A flipped signature bit, with a membership tag that matches it.
    let mut bad = m.clone();
    bad.auth.signature[0] ^= 1;
    f.retag(&mut bad);
    assert_eq!(
        f.unprotect_public(bad),
        crypto(CryptoError::InvalidSignature)
    );
    // Content changed after signing (the membership tag is recomputed by an insider).
    let mut bad = m.clone();
    bad.content.authenticated_data = b"other".to_vec();
    f.retag(&mut bad);
    assert_eq!(
        f.unprotect_public(bad),
        crypto(CryptoError::InvalidSignature)
    );
    // Another member's key.
    let (_, other) = f.cs.signature_generate_key_pair().unwrap();
    assert_eq!(
        public::unprotect(f.cs(), m, &f.context, &f.membership_key, &other),
        crypto(CryptoError::InvalidSignature)
    );
    // External senders have no membership tag: the signature is all there is.
    let mut ext = f.public(Sender::External(0), remove(1));
    ext.auth.signature[3] ^= 0x80;
    assert_eq!(
        f.unprotect_public(ext),
        crypto(CryptoError::InvalidSignature)
    );
}

#[test]
fn signature_covers_the_wire_format() {
    // Content signed for a PrivateMessage does not verify as a PublicMessage.
    let f = fx();
    let ac = f.signed(
        WireFormat::PRIVATE_MESSAGE,
        Sender::Member(SENDER),
        remove(1),
    );
    let mut m = PublicMessage {
        content: ac.content,
        auth: ac.auth,
        membership_tag: None,
    };
    f.retag(&mut m);
    assert_eq!(f.unprotect_public(m), crypto(CryptoError::InvalidSignature));
}

#[test]
fn application_data_in_public_message_is_refused() {
    let f = fx();
    let body = FramedContentBody::Application(b"hi".to_vec());
    // Sending: neither signing nor protecting will make one.
    assert_eq!(
        SignedContent::sign(
            f.cs(),
            WireFormat::PUBLIC_MESSAGE,
            f.framed(Sender::Member(SENDER), body.clone()),
            Some(&f.context),
            &f.sk
        ),
        Err(ApiError::ApplicationMessageMustBePrivate.into())
    );
    let ac = f.signed(WireFormat::PRIVATE_MESSAGE, Sender::Member(SENDER), body);
    assert_eq!(
        public::protect(
            f.cs(),
            ac.clone(),
            Some(&f.context),
            Some(&f.membership_key)
        ),
        Err(ApiError::ApplicationMessageMustBePrivate.into())
    );
    // Receiving one built by hand, however well tagged.
    let mut m = PublicMessage {
        content: ac.content,
        auth: ac.auth,
        membership_tag: None,
    };
    f.retag(&mut m);
    assert_eq!(
        public::check_not_application(&m),
        Err(ProtocolError::ApplicationInPublicMessage.into())
    );
    assert_eq!(
        f.unprotect_public(m),
        protocol(ProtocolError::ApplicationInPublicMessage)
    );
}

#[test]
fn content_not_allowed_for_sender_is_refused() {
    let f = fx();
    // Commits from external senders and new-member proposals other than Add.
    for (sender, body) in [
        (Sender::External(0), commit()),
        (Sender::NewMemberProposal, remove(1)),
        (Sender::NewMemberCommit, remove(1)),
    ] {
        assert!(
            SignedContent::sign(
                f.cs(),
                WireFormat::PUBLIC_MESSAGE,
                f.framed(sender, body.clone()),
                Some(&f.context),
                &f.sk
            )
            .is_err()
        );
        // Receiving: build and sign the TBS by hand.
        let content = f.framed(sender, body);
        let tbs = crate::messages::FramedContentTbs {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: &content,
            context: tbs_context(&sender, Some(&f.context)).unwrap(),
        };
        let signature = crate::crypto::labeled::sign_with_label(
            f.cs(),
            &f.sk,
            b"FramedContentTBS",
            &tbs.to_bytes().unwrap(),
        )
        .unwrap();
        let confirmation_tag = Fx::tag_for(&content.content);
        let m = PublicMessage {
            content,
            auth: crate::messages::FramedContentAuthData {
                signature,
                confirmation_tag,
            },
            membership_tag: None,
        };
        assert_eq!(
            f.unprotect_public(m),
            protocol(ProtocolError::InvalidSenderForContent)
        );
    }
}

#[test]
fn wrong_group_or_epoch_is_refused() {
    let f = fx();
    let m = f.public(Sender::Member(SENDER), remove(1));
    let mut other = f.context.clone();
    other.epoch += 1;
    assert_eq!(
        public::unprotect(f.cs(), m.clone(), &other, &f.membership_key, &f.pk),
        protocol(ProtocolError::WrongEpoch {
            message: 3,
            current: 4
        })
    );
    let mut other = f.context.clone();
    other.group_id = b"elsewhere".to_vec();
    assert_eq!(
        public::unprotect(f.cs(), m, &other, &f.membership_key, &f.pk),
        protocol(ProtocolError::WrongGroup)
    );
    let mut tree = f.tree();
    let p = f.private(&mut tree, remove(1));
    let mut other = f.context.clone();
    other.epoch = 2;
    assert_eq!(
        private::unprotect(
            f.cs(),
            &p,
            &other,
            &f.sender_data_secret,
            &mut f.tree(),
            |_| { Ok(f.pk.clone()) }
        ),
        protocol(ProtocolError::WrongEpoch {
            message: 3,
            current: 2
        })
    );
}

#[test]
fn member_signatures_need_the_group_context() {
    let f = fx();
    assert!(
        SignedContent::sign(
            f.cs(),
            WireFormat::PUBLIC_MESSAGE,
            f.framed(Sender::Member(SENDER), remove(1)),
            None,
            &f.sk
        )
        .is_err()
    );
    // External senders' signatures do not cover it, whatever is passed.
    let with = f.signed(WireFormat::PUBLIC_MESSAGE, Sender::External(1), remove(1));
    verify_content_signature(f.cs(), &with, None, &f.pk).unwrap();
}

// --------------------------------------------------------------- PrivateMessage

#[test]
fn private_round_trips_with_padding_and_fresh_generations() {
    let f = fx();
    let mut sender = f.tree();
    let mut receiver = f.tree();
    let bodies = [
        FramedContentBody::Application(b"hello".to_vec()),
        remove(1),
        commit(),
        FramedContentBody::Application(vec![0xab; 200]),
    ];
    let mut generations = vec![];
    for body in bodies {
        let m = f.private(&mut sender, body.clone());
        let sd = private::decrypt_sender_data(f.cs(), &m, &f.sender_data_secret).unwrap();
        assert_eq!(sd.leaf_index, SENDER);
        generations.push(sd.generation);
        // Plaintext padded to a multiple of 64, plus the 16-byte AEAD tag.
        assert_eq!((m.ciphertext.len() - 16) % 64, 0);
        let ac = f.unprotect_private(&mut receiver, &m).unwrap();
        assert_eq!(ac.wire_format, WireFormat::PRIVATE_MESSAGE);
        assert_eq!(ac.content, f.framed(Sender::Member(SENDER), body));
    }
    // Application and handshake ratchets are separate.
    assert_eq!(generations, [0, 0, 1, 1]);
}

#[test]
fn reuse_guard_differs_per_message() {
    let f = fx();
    let mut a = f.tree();
    let mut b = f.tree();
    let body = FramedContentBody::Application(b"same".to_vec());
    let m1 = f.private(&mut a, body.clone());
    let m2 = f.private(&mut b, body);
    // Same key and generation, different reuse guard: different ciphertexts.
    assert_ne!(m1.ciphertext, m2.ciphertext);
    let s1 = private::decrypt_sender_data(f.cs(), &m1, &f.sender_data_secret).unwrap();
    let s2 = private::decrypt_sender_data(f.cs(), &m2, &f.sender_data_secret).unwrap();
    assert_eq!(s1.generation, s2.generation);
    assert_ne!(s1.reuse_guard, s2.reuse_guard);
}

#[test]
fn tampered_ciphertext_is_refused() {
    let f = fx();
    let m = f.private(&mut f.tree(), remove(1));
    // Past the sample the sender data key is derived from: the content AEAD fails.
    let mut bad = m.clone();
    *bad.ciphertext.last_mut().unwrap() ^= 1;
    assert_eq!(
        f.unprotect_private(&mut f.tree(), &bad),
        crypto(CryptoError::AeadOpenFailed)
    );
    // Authenticated data is in the content AAD.
    let mut bad = m.clone();
    bad.authenticated_data.push(0);
    assert_eq!(
        f.unprotect_private(&mut f.tree(), &bad),
        crypto(CryptoError::AeadOpenFailed)
    );
    // Inside the sample: the sender data key changes, so it fails first.
    let mut bad = m;
    bad.ciphertext[0] ^= 1;
    assert_eq!(
        f.unprotect_private(&mut f.tree(), &bad),
        protocol(ProtocolError::SenderDataInvalid)
    );
}

#[test]
fn tampered_sender_data_is_refused() {
    let f = fx();
    let m = f.private(&mut f.tree(), remove(1));
    for i in [0, m.encrypted_sender_data.len() - 1] {
        let mut bad = m.clone();
        bad.encrypted_sender_data[i] ^= 0x40;
        assert_eq!(
            private::decrypt_sender_data(f.cs(), &bad, &f.sender_data_secret),
            Err(ProtocolError::SenderDataInvalid.into())
        );
        assert_eq!(
            f.unprotect_private(&mut f.tree(), &bad),
            protocol(ProtocolError::SenderDataInvalid)
        );
    }
    // Another epoch's sender data secret.
    let other = SenderDataSecret::from_secret(Secret::from(vec![0x44; 32]));
    assert_eq!(
        private::decrypt_sender_data(f.cs(), &m, &other),
        Err(ProtocolError::SenderDataInvalid.into())
    );
}

#[test]
fn non_zero_padding_is_refused() {
    let f = fx();
    let mut plaintext = f.plaintext(WireFormat::PRIVATE_MESSAGE, remove(1), 8);
    // Well-formed, zero padding: accepted.
    let m = f.seal_raw(
        &mut f.tree(),
        ContentType::Proposal,
        RatchetKind::Handshake,
        SENDER,
        &plaintext,
    );
    f.unprotect_private(&mut f.tree(), &m).unwrap();
    *plaintext.last_mut().unwrap() = 1;
    let m = f.seal_raw(
        &mut f.tree(),
        ContentType::Proposal,
        RatchetKind::Handshake,
        SENDER,
        &plaintext,
    );
    assert_eq!(
        f.unprotect_private(&mut f.tree(), &m),
        Err(DecodeError::NonZeroPadding.into())
    );
}

#[test]
fn wrong_content_type_is_refused() {
    let f = fx();
    // The header's content type is in the sender data AAD.
    let m = f.private(&mut f.tree(), remove(1));
    let mut bad = m.clone();
    bad.content_type = ContentType::Commit;
    assert_eq!(
        f.unprotect_private(&mut f.tree(), &bad),
        protocol(ProtocolError::SenderDataInvalid)
    );
    // A proposal keyed by the application ratchet: the receiver takes the
    // handshake ratchet for a proposal, and the content does not decrypt.
    let plaintext = f.plaintext(WireFormat::PRIVATE_MESSAGE, remove(1), 0);
    let m = f.seal_raw(
        &mut f.tree(),
        ContentType::Proposal,
        RatchetKind::Application,
        SENDER,
        &plaintext,
    );
    assert_eq!(
        f.unprotect_private(&mut f.tree(), &m),
        crypto(CryptoError::AeadOpenFailed)
    );
    // Application data announced as a proposal does not decode as one.
    let plaintext = f.plaintext(
        WireFormat::PRIVATE_MESSAGE,
        FramedContentBody::Application(b"not a proposal".to_vec()),
        0,
    );
    let m = f.seal_raw(
        &mut f.tree(),
        ContentType::Proposal,
        RatchetKind::Handshake,
        SENDER,
        &plaintext,
    );
    assert!(matches!(
        f.unprotect_private(&mut f.tree(), &m),
        Err(Error::Decode(_))
    ));
}

#[test]
fn replayed_generation_is_refused() {
    let f = fx();
    let mut sender = f.tree();
    let mut receiver = f.tree();
    let m = f.private(
        &mut sender,
        FramedContentBody::Application(b"once".to_vec()),
    );
    f.unprotect_private(&mut receiver, &m).unwrap();
    assert_eq!(
        f.unprotect_private(&mut receiver, &m),
        protocol(ProtocolError::KeyAlreadyUsed(0))
    );
}

#[test]
fn sender_leaf_is_checked_before_a_key_is_spent() {
    let f = fx();
    let mut receiver = f.tree();
    let m = f.private(&mut f.tree(), remove(1));
    let refused = private::unprotect(
        f.cs(),
        &m,
        &f.context,
        &f.sender_data_secret,
        &mut receiver,
        |leaf| {
            assert_eq!(leaf, LeafIndex(SENDER));
            Err(ApiError::InvalidArgument("blank leaf").into())
        },
    );
    assert_eq!(refused, Err(ApiError::InvalidArgument("blank leaf").into()));
    // The key is still there.
    f.unprotect_private(&mut receiver, &m).unwrap();
    // A leaf outside the tree fails in the secret tree.
    let plaintext = f.plaintext(WireFormat::PRIVATE_MESSAGE, remove(1), 0);
    let mut big = SecretTree::new(
        f.cs(),
        Secret::from(vec![5; 32]),
        TreeSize::new(16).unwrap(),
        SecretTreeConfig::default(),
    );
    let m = f.seal_raw(
        &mut big,
        ContentType::Proposal,
        RatchetKind::Handshake,
        9,
        &plaintext,
    );
    let sd = private::decrypt_sender_data(f.cs(), &m, &f.sender_data_secret).unwrap();
    assert_eq!(sd.leaf_index, 9);
    assert_eq!(
        private::decrypt_content(f.cs(), &m, &sd, &mut f.tree()),
        protocol(ProtocolError::LeafIndexOutOfRange(9))
    );
}

#[test]
fn private_signature_is_checked() {
    let f = fx();
    // Signed for a PublicMessage, sent in a PrivateMessage: the receiver
    // rebuilds the TBS with the private wire format and the signature fails.
    let plaintext = f.plaintext(WireFormat::PUBLIC_MESSAGE, remove(1), 0);
    let m = f.seal_raw(
        &mut f.tree(),
        ContentType::Proposal,
        RatchetKind::Handshake,
        SENDER,
        &plaintext,
    );
    assert_eq!(
        f.unprotect_private(&mut f.tree(), &m),
        crypto(CryptoError::InvalidSignature)
    );
    // The right format but another key.
    let m = f.private(&mut f.tree(), remove(1));
    let (_, other) = f.cs.signature_generate_key_pair().unwrap();
    assert_eq!(
        private::unprotect(
            f.cs(),
            &m,
            &f.context,
            &f.sender_data_secret,
            &mut f.tree(),
            |_| Ok(other.clone())
        ),
        crypto(CryptoError::InvalidSignature)
    );
}

/// Issue 11, item 8: a PrivateMessage that decrypts but fails a later check
/// (here its signature, or a tampered ciphertext) deletes no key: the tree
/// is unchanged and the genuine message of that generation still opens.
#[test]
fn item8_refused_private_message_keeps_its_key() {
    let f = fx();
    let mut receiver = f.tree();
    let state = |t: &SecretTree| {
        let mut out = Vec::new();
        t.write_state(&mut out).unwrap();
        out
    };
    let before = state(&receiver);
    let plaintext = f.plaintext(WireFormat::PUBLIC_MESSAGE, remove(1), 0);
    let wrong_signature = f.seal_raw(
        &mut f.tree(),
        ContentType::Proposal,
        RatchetKind::Handshake,
        SENDER,
        &plaintext,
    );
    assert_eq!(
        f.unprotect_private(&mut receiver, &wrong_signature),
        crypto(CryptoError::InvalidSignature)
    );
    let genuine = f.private(&mut f.tree(), remove(1));
    let mut tampered = genuine.clone();
    *tampered.ciphertext.last_mut().unwrap() ^= 1;
    assert!(f.unprotect_private(&mut receiver, &tampered).is_err());
    assert_eq!(state(&receiver), before);
    f.unprotect_private(&mut receiver, &genuine).unwrap();
    assert_ne!(state(&receiver), before);
}

#[test]
fn private_protect_refuses_misuse() {
    let f = fx();
    let mut tree = f.tree();
    let public = f.signed(
        WireFormat::PUBLIC_MESSAGE,
        Sender::Member(SENDER),
        remove(1),
    );
    assert!(matches!(
        private::protect(
            f.cs(),
            &public,
            &mut tree,
            &f.sender_data_secret,
            PaddingPolicy::None
        ),
        Err(Error::Api(_))
    ));
    let external = f.signed(WireFormat::PUBLIC_MESSAGE, Sender::External(0), remove(1));
    let external = AuthenticatedContent {
        wire_format: WireFormat::PRIVATE_MESSAGE,
        ..external
    };
    assert!(matches!(
        private::protect(
            f.cs(),
            &external,
            &mut tree,
            &f.sender_data_secret,
            PaddingPolicy::None
        ),
        Err(Error::Api(_))
    ));
    // A commit without its confirmation tag.
    let mut c = f.signed(
        WireFormat::PRIVATE_MESSAGE,
        Sender::Member(SENDER),
        commit(),
    );
    c.auth.confirmation_tag = None;
    assert!(matches!(
        private::protect(
            f.cs(),
            &c,
            &mut tree,
            &f.sender_data_secret,
            PaddingPolicy::None
        ),
        Err(Error::Api(_))
    ));
    // None of these spent a key.
    let m = f.private(&mut tree, remove(1));
    let sd = private::decrypt_sender_data(f.cs(), &m, &f.sender_data_secret).unwrap();
    assert_eq!(sd.generation, 0);
}
