//! Issue 11, item 7: a configurable maximum group size
//! (`GroupConfig::max_group_size`), refused early with
//! `ProtocolError::GroupTooLarge`: a Welcome's tree (in the GroupInfo or out
//! of band), a GroupInfo's tree for an external join, a commit's Adds and an
//! external joiner. The bound is validated and saved with the group.

use super::*;
use crate::error::{ApiError, ProtocolError};
use crate::group::{CommitOutput, ExternalJoinOptions};
use crate::messages::{GroupInfo, MlsMessage};

fn too_large(leaves: u64, max: u32) -> Error {
    ProtocolError::GroupTooLarge { leaves, max }.into()
}

fn config_with_max(max: u32) -> GroupConfig {
    GroupConfig {
        max_group_size: max,
        ..GroupConfig::default()
    }
}

/// Dave, added by Alice to the fixture's group (leaves 0-2) at leaf 3: his
/// Welcome spans 4 leaves.
fn dave_joining(
    fx: &mut Fixture,
    tree_in_welcome: bool,
) -> (Identity, (KeyPackage, KeyPackagePrivate), CommitOutput) {
    let (dave, kp, private) = fx.new_client("dave");
    let out = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: vec![add(&kp)],
                ratchet_tree_in_welcome: tree_in_welcome,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    // Alice keeps her epoch: the Welcome stays valid for the test.
    fx.groups[ALICE].discard_pending_commit();
    (dave, (kp, private), out)
}

fn join_with(
    fx: &Fixture,
    config: GroupConfig,
    dave: &Identity,
    kp: &(KeyPackage, KeyPackagePrivate),
    out: &CommitOutput,
    tree: Option<crate::messages::RatchetTreeExtension>,
) -> Result<Group> {
    Group::join(
        &fx.provider,
        config,
        &welcome_of(out.welcome.as_ref().unwrap()),
        JoinInput {
            key_package: &kp.0,
            key_package_private: &kp.1,
            signer: dave.signer().clone(),
            ratchet_tree: tree,
            psk_store: &(),
            now: Some(NOW),
        },
    )
}

#[test]
fn item7_join_refuses_a_tree_wider_than_the_maximum() {
    let mut fx = Fixture::new(130);
    for tree_in_welcome in [true, false] {
        let (dave, kp, out) = dave_joining(&mut fx, tree_in_welcome);
        let tree = out.ratchet_tree.clone().filter(|_| !tree_in_welcome);
        assert_eq!(
            join_with(&fx, config_with_max(3), &dave, &kp, &out, tree.clone()).unwrap_err(),
            too_large(4, 3),
            "tree in welcome: {tree_in_welcome}"
        );
        let joined = join_with(&fx, config_with_max(4), &dave, &kp, &out, tree).unwrap();
        assert_eq!(joined.config.max_group_size, 4);
    }
}

#[test]
fn item7_commit_adding_beyond_the_maximum_is_refused() {
    let mut fx = Fixture::new(131);
    fx.groups[BOB].config.max_group_size = 4;
    let adds: Vec<Proposal> = (0..2)
        .map(|i| add(&fx.new_client(&format!("new {i}")).1))
        .collect();
    // Alice (default maximum) commits two Adds: leaves 3 and 4.
    let out = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: adds.clone(),
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    fx.groups[ALICE].discard_pending_commit();
    assert_rejected(
        &mut fx.groups,
        BOB,
        &out.commit,
        ProtocolError::GroupTooLarge { leaves: 5, max: 4 },
    );
    // One Add (leaf 3) fits.
    let out = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: adds[..1].to_vec(),
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    fx.groups[ALICE].merge_pending_commit().unwrap();
    apply(&mut fx.groups[BOB], &out.commit);
    // Bob himself cannot commit an Add beyond it, and stays as he was.
    let before = fx.groups[BOB].snapshot();
    let one_more = add(&fx.new_client("one more").1);
    let err = fx.groups[BOB]
        .commit(
            CommitOptions {
                proposals: vec![one_more],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap_err();
    assert_eq!(err, too_large(5, 4));
    assert_eq!(fx.groups[BOB].snapshot(), before);
}

fn group_info_of(g: &Group) -> GroupInfo {
    match g.group_info(true).unwrap() {
        MlsMessage::GroupInfo(gi) => gi,
        other => panic!("{other:?}"),
    }
}

#[test]
fn item7_external_join_beyond_the_maximum_is_refused() {
    let mut fx = Fixture::new(132);
    let gi = group_info_of(&fx.groups[ALICE]);
    let eve = Identity::generate(&*fx.cs, Credential::basic("eve")).unwrap();
    let join = |config: GroupConfig| {
        Group::join_external(
            &fx.provider,
            config,
            &gi,
            &eve,
            ExternalJoinOptions::default(),
            &(),
            Some(NOW),
        )
    };
    // The tree spans 3 leaves; Eve would take leaf 3.
    assert_eq!(join(config_with_max(3)).unwrap_err(), too_large(4, 3));
    assert_eq!(join(config_with_max(2)).unwrap_err(), too_large(3, 2));
    let (_, commit) = join(config_with_max(4)).unwrap();
    // A member whose maximum is 3 refuses the external commit.
    fx.groups[CAROL].config.max_group_size = 3;
    assert_rejected(
        &mut fx.groups,
        CAROL,
        &commit,
        ProtocolError::GroupTooLarge { leaves: 4, max: 3 },
    );
}

#[test]
fn item7_max_group_size_validated_and_saved() {
    let mut fx = Fixture::new(133);
    let (dave, kp, out) = dave_joining(&mut fx, true);
    for bad in [0, GroupConfig::MAX_GROUP_SIZE + 1] {
        assert_eq!(
            join_with(&fx, config_with_max(bad), &dave, &kp, &out, None).unwrap_err(),
            ApiError::ConfigOutOfRange {
                field: "GroupConfig.max_group_size",
                value: bad.into(),
                min: 1,
                max: GroupConfig::MAX_GROUP_SIZE.into(),
            }
            .into()
        );
    }
    let g = join_with(&fx, config_with_max(77), &dave, &kp, &out, None).unwrap();
    let saved = g.to_bytes().unwrap();
    let restored = Group::from_bytes(&fx.provider, saved.as_bytes()).unwrap();
    assert_eq!(restored.config.max_group_size, 77);

    // A state saved before the field existed (the config section four
    // bytes shorter) gets the default.
    let bytes = saved.as_bytes();
    // magic (4), version (2), tag 1 (2), then a one-byte length.
    assert_eq!(&bytes[6..8], &[0, 1]);
    let len = bytes[8] as usize;
    assert!(len < 64);
    let mut old = bytes[..8].to_vec();
    old.push((len - 4) as u8);
    old.extend_from_slice(&bytes[9..9 + len - 4]);
    old.extend_from_slice(&bytes[9 + len..]);
    let restored = Group::from_bytes(&fx.provider, &old).unwrap();
    assert_eq!(
        restored.config.max_group_size,
        GroupConfig::DEFAULT_MAX_GROUP_SIZE
    );
}
