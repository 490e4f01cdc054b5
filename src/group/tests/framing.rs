//! RFC 9420 §6 (framing) as `process_message` checks it for PublicMessages:
//! group, epoch, sender, content type, membership tag, signature, and who may
//! send what (§6.1, §12.1.8).

use super::forge::{Forge, non_member_message};
use super::*;
use crate::crypto::Tag;
use crate::error::CryptoError;
use crate::error::ProtocolError;
use crate::messages::{
    Commit, ExternalSender, ExternalSenders, FramedContentBody, Remove, Sender, SenderType, Update,
};

#[test]
fn message_for_another_group() {
    let mut fx = Fixture::new(70);
    let c = fx.groups[ALICE].forge_commit(
        Forge::new(vec![])
            .with_path()
            .edit_content(|c| c.group_id = b"another group".to_vec()),
    );
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::WrongGroup);
}

#[test]
fn commit_of_a_future_epoch() {
    let mut fx = Fixture::new(71);
    let c = fx.groups[ALICE].forge_commit(
        Forge::new(vec![])
            .with_path()
            .edit_content(|c| c.epoch += 1),
    );
    assert_rejected(
        &mut fx.groups,
        BOB,
        &c,
        ProtocolError::WrongEpoch {
            message: 3,
            current: 2,
        },
    );
}

#[test]
fn replayed_commit_of_the_previous_epoch() {
    // A genuine commit, delivered again after it was merged.
    let mut fx = Fixture::new(72);
    let out = fx.groups[CAROL]
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    fx.groups[CAROL].merge_pending_commit().unwrap();
    apply(&mut fx.groups[ALICE], &out.commit);
    apply(&mut fx.groups[BOB], &out.commit);
    assert_rejected(
        &mut fx.groups,
        BOB,
        &out.commit,
        ProtocolError::WrongEpoch {
            message: 2,
            current: 3,
        },
    );
}

#[test]
fn sender_at_a_blank_leaf() {
    // §6.1: the sender's leaf must hold a member (leaf 3 is blank).
    let mut fx = Fixture::new(73);
    let c = fx.groups[ALICE].forge_commit(
        Forge::new(vec![])
            .with_path()
            .edit_content(|c| c.sender = Sender::Member(3)),
    );
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::SenderNotMember(3));
}

#[test]
fn sender_outside_the_tree() {
    let mut fx = Fixture::new(74);
    let c = fx.groups[ALICE].forge_commit(
        Forge::new(vec![])
            .with_path()
            .edit_content(|c| c.sender = Sender::Member(40)),
    );
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::SenderNotMember(40));
}

#[test]
fn application_data_as_public_message() {
    // §6.2: application data MUST be sent as PrivateMessage.
    let mut fx = Fixture::new(75);
    let g = &fx.groups[ALICE];
    let m = g.forge_public(g.framed(FramedContentBody::Application(b"hi".to_vec()), Vec::new()));
    assert_rejected(
        &mut fx.groups,
        BOB,
        &m,
        ProtocolError::ApplicationInPublicMessage,
    );
}

#[test]
fn wrong_membership_tag() {
    // §6.2: "the application MUST check membership_tag".
    let mut fx = Fixture::new(76);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![]).with_path().edit_message(|m| {
        let mut tag = m.membership_tag.take().unwrap().as_bytes().to_vec();
        tag[0] ^= 1;
        m.membership_tag = Some(Tag::from(tag));
    }));
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::InvalidMembershipTag);
}

#[test]
fn proposal_with_a_wrong_membership_tag() {
    let mut fx = Fixture::new(77);
    let (m, _) = fx.groups[CAROL].forge_proposal(Proposal::Remove(Remove { removed: 0 }));
    let MlsMessage::PublicMessage(mut m) = m else {
        unreachable!()
    };
    m.membership_tag = Some(Tag::from(vec![0; 32]));
    assert_rejected(
        &mut fx.groups,
        BOB,
        &MlsMessage::PublicMessage(m),
        ProtocolError::InvalidMembershipTag,
    );
}

#[test]
fn commit_signed_by_another_member() {
    // §6.1: Carol, a member with the membership key, claims to be Alice.
    let mut fx = Fixture::new(78);
    let c = fx.groups[CAROL].forge_commit(
        Forge::new(vec![])
            .with_path()
            .edit_content(|c| c.sender = Sender::Member(0)),
    );
    assert_rejected(&mut fx.groups, BOB, &c, CryptoError::InvalidSignature);
}

#[test]
fn commit_with_a_corrupted_signature() {
    let mut fx = Fixture::new(79);
    let c = fx.groups[ALICE].forge_commit(
        Forge::new(vec![])
            .with_path()
            .edit_auth(|a| a.signature[5] ^= 0x10),
    );
    assert_rejected(&mut fx.groups, BOB, &c, CryptoError::InvalidSignature);
}

#[test]
fn message_that_is_not_a_handshake() {
    // §6: process_message takes PublicMessages (and, later, PrivateMessages).
    let mut fx = Fixture::new(80);
    let (_, kp, _) = fx.new_client("dave");
    assert_rejected(
        &mut fx.groups,
        BOB,
        &MlsMessage::KeyPackage(kp),
        ProtocolError::UnsupportedWireFormat(5),
    );
}

#[test]
fn member_proposing_external_init() {
    // §12.1.6: ExternalInit only appears in external commits.
    let mut fx = Fixture::new(81);
    let (m, _) =
        fx.groups[ALICE].forge_proposal(Proposal::ExternalInit(crate::messages::ExternalInit {
            kem_output: vec![1; 32],
        }));
    assert_rejected(
        &mut fx.groups,
        BOB,
        &m,
        ProtocolError::ProposalSenderNotAllowed {
            proposal_type: 6,
            sender_type: SenderType::Member.to_u8(),
        },
    );
}

// --- External senders (§12.1.8.1) and new members (§12.1.8). ---

/// The fixture with one external sender (index 0), and its identity.
fn with_external_sender(seed: u8) -> (Fixture, Identity) {
    let cs = RustCryptoProvider::with_seed([seed.wrapping_add(100); 32])
        .cipher_suite_provider(SUITE)
        .unwrap();
    let ds = Identity::generate(&*cs, Credential::basic("delivery service")).unwrap();
    let senders = ExternalSenders(vec![ExternalSender {
        signature_key: ds.signature_key().clone(),
        credential: ds.credential().clone(),
    }]);
    let fx = Fixture::with_extensions(seed, vec![Extension::from_typed(&senders).unwrap()]);
    (fx, ds)
}

fn external(fx: &Fixture, index: u32, proposal: Proposal, signer: &Identity) -> MlsMessage {
    non_member_message(
        &*fx.cs,
        &fx.groups[ALICE],
        Sender::External(index),
        FramedContentBody::Proposal(proposal),
        signer.signer(),
    )
}

#[test]
fn external_proposal_without_external_senders() {
    let mut fx = Fixture::new(82);
    let ds = Identity::generate(&*fx.cs, Credential::basic("ds")).unwrap();
    let m = external(&fx, 0, Proposal::Remove(Remove { removed: 2 }), &ds);
    assert_rejected(
        &mut fx.groups,
        BOB,
        &m,
        ProtocolError::UnknownExternalSender(0),
    );
}

#[test]
fn external_proposal_from_an_unlisted_index() {
    let (mut fx, ds) = with_external_sender(83);
    let m = external(&fx, 1, Proposal::Remove(Remove { removed: 2 }), &ds);
    assert_rejected(
        &mut fx.groups,
        BOB,
        &m,
        ProtocolError::UnknownExternalSender(1),
    );
}

#[test]
fn external_remove_from_a_listed_sender_is_valid() {
    // The control for the external-sender tests: accepted and committed.
    let (mut fx, ds) = with_external_sender(84);
    let m = external(&fx, 0, Proposal::Remove(Remove { removed: 2 }), &ds);
    receive_proposal(&mut fx.groups[ALICE], &m);
    receive_proposal(&mut fx.groups[BOB], &m);
    let out = fx.groups[ALICE]
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap();
    fx.groups[ALICE].merge_pending_commit().unwrap();
    apply(&mut fx.groups[BOB], &out.commit);
    assert_eq!(fx.groups[BOB].members().len(), 2);
}

#[test]
fn external_proposal_with_a_wrong_signature() {
    let (mut fx, _) = with_external_sender(85);
    let m = external(
        &fx,
        0,
        Proposal::Remove(Remove { removed: 2 }),
        &fx.ids[CAROL].clone(),
    );
    assert_rejected(&mut fx.groups, BOB, &m, CryptoError::InvalidSignature);
}

#[test]
fn external_update_proposal() {
    // §6.1: an external sender's "proposal_type MUST be a value that is
    // allowed for external senders" (not update, §12.1.8).
    let (mut fx, ds) = with_external_sender(86);
    let leaf = update_leaf(&fx.groups[BOB], |_| {});
    let m = external(&fx, 0, Proposal::Update(Update { leaf_node: leaf }), &ds);
    assert_rejected(
        &mut fx.groups,
        BOB,
        &m,
        ProtocolError::ProposalSenderNotAllowed {
            proposal_type: 2,
            sender_type: SenderType::External.to_u8(),
        },
    );
}

#[test]
fn external_sender_sending_a_commit() {
    // §6.1: "The content_type of the message MUST be proposal."
    let (mut fx, ds) = with_external_sender(87);
    let m = non_member_message(
        &*fx.cs,
        &fx.groups[ALICE],
        Sender::External(0),
        FramedContentBody::Commit(Commit {
            proposals: Vec::new(),
            path: None,
        }),
        ds.signer(),
    );
    assert_rejected(
        &mut fx.groups,
        BOB,
        &m,
        ProtocolError::InvalidSenderForContent,
    );
}

#[test]
fn new_member_proposal_that_is_not_an_add() {
    // §6.1: for new_member_proposal "the proposal_type of the Proposal MUST be add".
    let mut fx = Fixture::new(88);
    let (dave, _, _) = fx.new_client("dave");
    let m = non_member_message(
        &*fx.cs,
        &fx.groups[ALICE],
        Sender::NewMemberProposal,
        FramedContentBody::Proposal(Proposal::Remove(Remove { removed: 2 })),
        dave.signer(),
    );
    assert_rejected(
        &mut fx.groups,
        BOB,
        &m,
        ProtocolError::InvalidSenderForContent,
    );
}

#[test]
fn new_member_add_signed_by_someone_else() {
    // §6.1: signed with the key of the KeyPackage's leaf.
    let mut fx = Fixture::new(89);
    let (_, kp, _) = fx.new_client("dave");
    let m = non_member_message(
        &*fx.cs,
        &fx.groups[ALICE],
        Sender::NewMemberProposal,
        FramedContentBody::Proposal(add(&kp)),
        fx.ids[CAROL].signer(),
    );
    assert_rejected(&mut fx.groups, BOB, &m, CryptoError::InvalidSignature);
}

#[test]
fn new_member_add_is_valid() {
    // The control for the two tests above.
    let mut fx = Fixture::new(90);
    let (dave, kp, _) = fx.new_client("dave");
    let m = non_member_message(
        &*fx.cs,
        &fx.groups[ALICE],
        Sender::NewMemberProposal,
        FramedContentBody::Proposal(add(&kp)),
        dave.signer(),
    );
    receive_proposal(&mut fx.groups[BOB], &m);
}
