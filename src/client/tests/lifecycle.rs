//! Lifetimes, held messages, removal, restarts.

use super::*;

fn short_lived(name: &str, secs: u64) -> Member {
    Member::with(
        name,
        ClientConfig {
            key_package_lifetime: secs,
            ..ClientConfig::default()
        },
        DefaultProposalPolicy::default(),
    )
}

#[test]
fn a_commit_is_processed_after_its_added_key_package_expired() {
    let m = group_of(&["alice", "bob"]);
    let carol = short_lived("carol", DAY);
    let added = m[0].client.add(GROUP, &[carol.key_package()]).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    // Bob was offline for a week: Carol's KeyPackage has expired by his clock.
    m[1].clock.set(NOW + 7 * DAY);
    let events = m[1].client.process(&added.commit).unwrap().events;
    assert!(matches!(&events[0], Event::CommitMerged(c) if c.added.len() == 1));
    carol.clock.set(NOW + 7 * DAY);
    carol.client.join(&added.welcome).unwrap();
    assert_agree(&[m.into_iter().next().unwrap(), carol]);
}

#[test]
fn adding_an_expired_key_package_is_refused() {
    let m = group_of(&["alice"]);
    let carol = short_lived("carol", DAY);
    let kp = carol.key_package();
    m[0].clock.set(NOW + 2 * DAY);
    let before = Snapshot::of(&m[0]);
    let err = m[0].client.add(GROUP, &[kp]).unwrap_err();
    assert!(matches!(
        err,
        Error::Protocol(ProtocolError::LeafLifetimeInvalid { .. })
    ));
    assert_eq!(Snapshot::of(&m[0]), before);
}

#[test]
fn a_joiner_joins_a_group_older_than_its_creator_leaf() {
    let alice = short_lived("alice", DAY);
    alice.client.create_group(GROUP).unwrap();
    alice.clock.set(NOW + 30 * DAY);
    let bob = Member::new("bob");
    bob.clock.set(NOW + 30 * DAY);
    let added = alice.client.add(GROUP, &[bob.key_package()]).unwrap();
    alice.client.confirm_commit(GROUP).unwrap();
    bob.client.join(&added.welcome).unwrap();
    assert_agree(&[alice, bob]);

    // Checking the tree's lifetimes on join is a choice of the application.
    let alice = short_lived("alice", DAY);
    alice.client.create_group(GROUP).unwrap();
    alice.clock.set(NOW + 30 * DAY);
    let strict = Member::with(
        "carol",
        ClientConfig {
            lifetime: LifetimePolicy {
                check_tree_on_join: true,
                ..LifetimePolicy::default()
            },
            ..ClientConfig::default()
        },
        DefaultProposalPolicy::default(),
    );
    strict.clock.set(NOW + 30 * DAY);
    let added = alice.client.add(GROUP, &[strict.key_package()]).unwrap();
    let err = strict.client.join(&added.welcome).unwrap_err();
    assert!(matches!(
        err,
        Error::Protocol(ProtocolError::LeafLifetimeInvalid { .. })
    ));
}

#[test]
fn a_removed_member_cannot_send_but_reads_its_history() {
    let m = group_of(&["alice", "bob", "carol"]);
    let late = m[2].client.encrypt(GROUP, b"before the removal").unwrap();
    let out = m[0].client.remove(GROUP, &[LeafIndex(1)]).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    m[2].client.process(&out.commit).unwrap();
    let events = m[1].client.process(&out.commit).unwrap().events;
    assert_eq!(
        events,
        [Event::Removed {
            group: GroupId(GROUP.to_vec()),
            epoch: 1,
            by: Some(LeafIndex(0)),
        }]
    );
    let bob = &m[1].client;
    assert_eq!(
        bob.status(GROUP).unwrap().inactive,
        Some(InactiveReason::Removed)
    );
    for attempt in [
        bob.encrypt(GROUP, b"x").map(drop),
        bob.update(GROUP).map(drop),
        bob.leave(GROUP).map(drop),
        bob.remove(GROUP, &[LeafIndex(0)]).map(drop),
    ] {
        assert_eq!(attempt.unwrap_err(), ApiError::GroupInactive.into());
    }
    // A message of the epoch he was in still reads; later ones do not.
    assert_eq!(
        bob.process(&late).unwrap().data(),
        Some(&b"before the removal"[..])
    );
    let after = m[0].client.encrypt(GROUP, b"after").unwrap();
    assert_eq!(
        bob.process(&after).unwrap_err(),
        ApiError::GroupInactive.into()
    );
    // The state survives a restart; deleting the group removes everything.
    let bob = m[1].reopen();
    assert_eq!(
        bob.client.status(GROUP).unwrap().inactive,
        Some(InactiveReason::Removed)
    );
    assert!(bob.client.delete_group(GROUP).unwrap());
    assert!(!bob.client.delete_group(GROUP).unwrap());
    assert_eq!(
        bob.client.status(GROUP).unwrap_err(),
        ApiError::UnknownGroup.into()
    );
    assert_eq!(bob.store.len(), 1, "only the identity is left");
}

#[test]
fn leaving_is_a_proposal_that_another_member_commits() {
    let m = group_of(&["alice", "bob"]);
    let leave = m[1].client.leave(GROUP).unwrap();
    m[0].client.process(&leave).unwrap();
    let out = m[0].client.commit(GROUP).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    assert!(matches!(
        m[1].client.process(&out.commit).unwrap().events[0],
        Event::Removed { .. }
    ));
    assert_eq!(m[0].client.members(GROUP).unwrap().len(), 1);
}

#[test]
fn a_message_one_epoch_early_is_held_until_its_commit() {
    let m = group_of(&["alice", "bob"]);
    let out = m[0].client.update(GROUP).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    let early = m[0].client.encrypt(GROUP, b"from epoch 2").unwrap();
    // The delivery service hands Bob the message before the commit.
    let events = m[1].client.process(&early).unwrap().events;
    assert_eq!(
        events,
        [Event::MessageHeld {
            group: GroupId(GROUP.to_vec()),
            epoch: 2
        }]
    );
    assert_eq!(m[1].client.status(GROUP).unwrap().held_messages, [2]);
    // Held messages survive a restart.
    let bob = m[1].reopen();
    assert_eq!(bob.client.status(GROUP).unwrap().held_messages, [2]);
    let events = bob.client.process(&out.commit).unwrap().events;
    assert!(matches!(&events[0], Event::CommitMerged(c) if c.epoch == 2));
    let Event::Application(msg) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(msg.data, b"from epoch 2");
    assert_eq!(msg.epoch, 2);
    assert!(bob.client.status(GROUP).unwrap().held_messages.is_empty());
    assert_eq!(bob.store.count(crate::storage::RecordKind::HeldMessage), 0);
}

#[test]
fn held_messages_are_bounded_and_failures_reported() {
    let config = ClientConfig {
        max_held_messages: 2,
        ..ClientConfig::default()
    };
    let m = [
        Member::new("alice"),
        Member::with("bob", config, DefaultProposalPolicy::default()),
    ];
    setup(&m);
    let out = m[0].client.update(GROUP).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    let first = m[0].client.encrypt(GROUP, b"first").unwrap();
    let mut broken = m[0].client.encrypt(GROUP, b"broken").unwrap();
    *broken.last_mut().unwrap() ^= 1;
    let third = m[0].client.encrypt(GROUP, b"third").unwrap();
    m[1].client.process(&first).unwrap();
    m[1].client.process(&broken).unwrap();
    let before = Snapshot::of(&m[1]);
    assert_refused(
        &m[1],
        &before,
        m[1].client.process(&third),
        ProtocolError::TooManyHeldMessages(2),
    );
    let events = m[1].client.process(&out.commit).unwrap().events;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(matches!(events[0], Event::CommitMerged(_)));
    assert_eq!(events[1].as_application().unwrap().data, b"first");
    assert!(matches!(
        &events[2],
        Event::HeldMessageFailed { epoch: 2, .. }
    ));
    assert_eq!(
        m[1].client.process(&third).unwrap().data(),
        Some(&b"third"[..])
    );
    assert_eq!(m[1].store.count(crate::storage::RecordKind::HeldMessage), 0);
}

#[test]
fn a_client_rebuilt_from_its_store_continues() {
    let m = group_of(&["alice", "bob", "carol"]);
    let mut sent = Vec::new();
    for i in 0..3 {
        let msg = m[0]
            .client
            .encrypt(GROUP, format!("m{i}").as_bytes())
            .unwrap();
        assert_eq!(
            m[1].client.process(&msg).unwrap().data(),
            Some(format!("m{i}").as_bytes())
        );
        sent.push(msg);
    }
    // One message Bob has not read yet, one out of order.
    let unread = m[0].client.encrypt(GROUP, b"unread").unwrap();
    let later = m[0].client.encrypt(GROUP, b"later").unwrap();
    assert_eq!(
        m[1].client.process(&later).unwrap().data(),
        Some(&b"later"[..])
    );
    // Carol has a commit pending when she stops.
    let pending = m[2].client.update(GROUP).unwrap();

    // Bob and Carol restart from their stores.
    let bob = m[1].reopen();
    let carol = m[2].reopen();
    drop(m[1].client.unload_groups());
    assert_eq!(bob.client.credential(), &Credential::basic("bob"));
    assert_eq!(
        bob.client.process(&unread).unwrap().data(),
        Some(&b"unread"[..])
    );
    // Nothing decrypts twice: read messages' keys are gone from the store.
    for msg in sent.iter().chain([&later, &unread]) {
        assert_eq!(
            bob.client.process(msg).unwrap_err(),
            ProtocolError::KeyAlreadyUsed(match msg {
                m if m == &later => 4,
                m if m == &unread => 3,
                _ => sent.iter().position(|s| s == msg).unwrap() as u32,
            })
            .into()
        );
    }
    // Carol's pending commit is still hers to confirm.
    assert!(carol.client.status(GROUP).unwrap().pending_commit);
    carol.client.confirm_commit(GROUP).unwrap();
    m[0].client.process(&pending.commit).unwrap();
    bob.client.process(&pending.commit).unwrap();
    let world = [m.into_iter().next().unwrap(), bob, carol];
    assert_agree(&world);
    // The conversation goes on: messages and commits in every direction.
    for sender in 0..3 {
        let msg = world[sender].client.encrypt(GROUP, b"again").unwrap();
        for p in broadcast(&world, sender, &msg) {
            assert_eq!(p.data(), Some(&b"again"[..]));
        }
        update(&world, sender);
    }
    let world: Vec<Member> = world.iter().map(Member::reopen).collect();
    update(&world, 1);
}

#[test]
fn join_refuses_a_known_group_and_uses_up_the_key_package() {
    let alice = Member::new("alice");
    let bob = Member::new("bob");
    alice.client.create_group(GROUP).unwrap();
    let kp = bob.key_package();
    assert_eq!(bob.client.key_packages().unwrap().len(), 1);
    let added = alice.client.add(GROUP, &[kp]).unwrap();
    alice.client.confirm_commit(GROUP).unwrap();
    let joined = bob.client.process(&added.welcome).unwrap().events;
    assert!(matches!(&joined[0], Event::Joined { epoch: 1, members, .. } if members.len() == 2));
    assert!(bob.client.key_packages().unwrap().is_empty());
    // The same Welcome again: the KeyPackage is gone.
    assert_eq!(
        bob.client.join(&added.welcome).unwrap_err(),
        ProtocolError::WelcomeNotForUs.into()
    );
    assert_eq!(
        bob.client.create_group(GROUP).unwrap_err(),
        ApiError::GroupExists.into()
    );

    // A last-resort KeyPackage is kept; a Welcome into a group the client
    // already has is refused, changing nothing.
    let carol = Member::new("carol");
    let last = carol.client.generate_last_resort_key_package().unwrap();
    carol.client.create_group(b"other").unwrap();
    alice.client.create_group(b"other").unwrap();
    let added = alice
        .client
        .add(b"other", std::slice::from_ref(&last))
        .unwrap();
    let before = Snapshot::of(&carol);
    assert_eq!(
        carol.client.join(&added.welcome).unwrap_err(),
        ApiError::GroupExists.into()
    );
    assert_eq!(Snapshot::of(&carol), before);
    carol.client.delete_group(b"other").unwrap();
    carol.client.join(&added.welcome).unwrap();
    let kps = carol.client.key_packages().unwrap();
    assert_eq!(kps.len(), 1);
    assert!(kps[0].last_resort);
    carol
        .client
        .set_last_resort(&kps[0].reference, false)
        .unwrap();
    assert!(!carol.client.key_packages().unwrap()[0].last_resort);
    assert!(carol.client.delete_key_package(&kps[0].reference).unwrap());
    assert!(carol.client.key_packages().unwrap().is_empty());
}
