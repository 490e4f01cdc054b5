//! Issue 11 (security hardening): one test per item, named after it. Each
//! refused input leaves the receiver's saved state (`to_bytes`) byte for
//! byte as it was.

use super::forge::Forge;
use super::*;
use crate::crypto::labeled::sign_with_label;
use crate::error::{ApiError, ProtocolError};
use crate::group::ExternalJoinOptions;
use crate::messages::{FramedContentBody, LeafNode, Update};

/// The group context extension of type [`EXT`] that the item-3 groups use.
fn ext() -> Extension {
    Extension {
        extension_type: EXT,
        extension_data: b"in use".to_vec(),
    }
}

/// The saved state of `g`, to compare before and after a refusal.
fn saved(g: &Group) -> Vec<u8> {
    g.to_bytes().unwrap().as_bytes().to_vec()
}

/// A new client `name` whose KeyPackage leaf is changed by `edit`, then
/// signed again (leaf and KeyPackage) by the client.
fn client_with_leaf(
    fx: &Fixture,
    name: &str,
    ext: bool,
    edit: impl FnOnce(&mut LeafNode),
) -> (Identity, (KeyPackage, KeyPackagePrivate)) {
    let id = Identity::generate(&*fx.cs, Credential::basic(name)).unwrap();
    let (mut kp, private) = generate_key_package(&*fx.cs, &id, kp_options(ext)).unwrap();
    edit(&mut kp.leaf_node);
    kp.leaf_node.sign(&*fx.cs, id.signer(), None).unwrap();
    kp.sign(&*fx.cs, id.signer()).unwrap();
    (id, (kp, private))
}

/// A leaf whose capabilities list neither the group's cipher suite nor its
/// protocol version.
fn without_suite_and_version(leaf: &mut LeafNode) {
    leaf.capabilities.cipher_suites =
        vec![CipherSuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519];
    leaf.capabilities.versions = vec![crate::messages::ProtocolVersion(2)];
}

/// `committer` commits `proposals` (by value); every other member follows
/// and all agree. Returns the commit's output.
fn commit_and_follow(
    groups: &mut [Group],
    committer: usize,
    proposals: Vec<Proposal>,
) -> crate::group::CommitOutput {
    let out = groups[committer]
        .commit(
            CommitOptions {
                proposals,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    groups[committer].merge_pending_commit().unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        if i != committer {
            apply(g, &out.commit);
        }
    }
    out
}

// --- Item 2: RFC 9420 §7.3 does not ask capabilities to list the suite ---

#[test]
fn item2_leaf_without_group_suite_in_capabilities_accepted_in_add() {
    let mut fx = Fixture::new(102);
    let (_, (kp, _)) = client_with_leaf(&fx, "dave", false, without_suite_and_version);
    commit_and_follow(&mut fx.groups, ALICE, vec![add(&kp)]);
    assert_eq!(fx.groups[BOB].members().len(), 4);
    valid_commit(&mut fx.groups, CAROL);
}

#[test]
fn item2_leaf_without_group_suite_in_capabilities_accepted_in_join() {
    // Dave's own leaf lacks the suite; then Eve joins a tree holding it.
    let mut fx = Fixture::new(103);
    let (dave, dave_kp) = client_with_leaf(&fx, "dave", false, without_suite_and_version);
    let out = commit_and_follow(&mut fx.groups, ALICE, vec![add(&dave_kp.0)]);
    let welcome = welcome_of(&out.welcome.unwrap());
    let dave = join(&fx.provider, &welcome, &dave_kp, &dave, None, &()).unwrap();
    fx.groups.push(dave);
    let (eve, eve_kp) = client_with_leaf(&fx, "eve", false, without_suite_and_version);
    let out = commit_and_follow(&mut fx.groups, BOB, vec![add(&eve_kp.0)]);
    let welcome = welcome_of(&out.welcome.unwrap());
    let eve = join(&fx.provider, &welcome, &eve_kp, &eve, out.ratchet_tree, &()).unwrap();
    assert_eq!(
        eve.epoch_authenticator(),
        fx.groups[BOB].epoch_authenticator()
    );
    fx.groups.push(eve);
    valid_commit(&mut fx.groups, 3);
}

// --- Item 3: new leaves support the GroupContext extensions (§13.4) ---

/// Alice, Bob and Carol, all supporting [`EXT`], in a group that uses it.
fn ext_fixture(seed: u8) -> Fixture {
    Fixture::build(seed, vec![ext()], true)
}

const LACKS_EXT: ProtocolError = ProtocolError::LeafLacksGroupContextExtension(EXT.0);

#[test]
fn item3_add_of_key_package_lacking_group_context_extension() {
    let mut fx = ext_fixture(104);
    let (_, kp, _) = fx.new_client("dave");
    assert!(!kp.leaf_node.capabilities.extensions.contains(&EXT));
    // The committer refuses to add it, and is unchanged.
    let before = saved(&fx.groups[ALICE]);
    let err = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: vec![add(&kp)],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap_err();
    assert_eq!(err, LACKS_EXT.into());
    assert_eq!(saved(&fx.groups[ALICE]), before);
    // A receiver refuses a commit that adds it.
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_value(add(&kp))]));
    let before = saved(&fx.groups[BOB]);
    assert_rejected_with(&mut fx.groups, BOB, &c, &(), LACKS_EXT);
    assert_eq!(saved(&fx.groups[BOB]), before);
    // A client that supports the extension is added.
    let (_, (kp, _)) = client_with_leaf(&fx, "dave", true, |_| {});
    commit_and_follow(&mut fx.groups, ALICE, vec![add(&kp)]);
}

#[test]
fn item3_update_lacking_group_context_extension() {
    let mut fx = ext_fixture(105);
    let leaf = update_leaf(&fx.groups[BOB], |l| {
        l.capabilities.extensions.retain(|t| *t != EXT)
    });
    let (m, _) = fx.groups[BOB].forge_proposal(Proposal::Update(Update { leaf_node: leaf }));
    let r = receive_proposal(&mut fx.groups[ALICE], &m);
    receive_proposal(&mut fx.groups[CAROL], &m);
    // The committer refuses to commit it.
    let before = saved(&fx.groups[ALICE]);
    let err = fx.groups[ALICE]
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap_err();
    assert_eq!(err, LACKS_EXT.into());
    assert_eq!(saved(&fx.groups[ALICE]), before);
    // A receiver refuses a commit that covers it.
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_ref(&r)]).with_path());
    let before = saved(&fx.groups[CAROL]);
    assert_rejected_with(&mut fx.groups, CAROL, &c, &(), LACKS_EXT);
    assert_eq!(saved(&fx.groups[CAROL]), before);
}

#[test]
fn item3_commit_path_leaf_lacking_group_context_extension() {
    let mut fx = ext_fixture(106);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![]).edit_path(|path, tools| {
        path.leaf_node.capabilities.extensions.retain(|t| *t != EXT);
        tools.resign(&mut path.leaf_node);
    }));
    let before = saved(&fx.groups[BOB]);
    assert_rejected_with(&mut fx.groups, BOB, &c, &(), LACKS_EXT);
    assert_eq!(saved(&fx.groups[BOB]), before);
    valid_commit(&mut fx.groups, CAROL);
}

#[test]
fn item3_external_joiner_lacking_group_context_extension() {
    let mut fx = ext_fixture(107);
    let group_info = match fx.groups[ALICE].group_info(true).unwrap() {
        MlsMessage::GroupInfo(gi) => gi,
        other => panic!("not a GroupInfo: {other:?}"),
    };
    let dave = Identity::generate(&*fx.cs, Credential::basic("dave")).unwrap();
    // The joiner refuses to join without supporting it.
    let err = Group::join_external(
        &fx.provider,
        GroupConfig::default(),
        &group_info,
        &dave,
        ExternalJoinOptions::default(),
        &(),
        Some(NOW),
    )
    .unwrap_err();
    assert_eq!(err, LACKS_EXT.into());

    // A member refuses an external commit whose leaf does not support it:
    // Dave's genuine commit, with the extension dropped from his leaf's
    // capabilities, the leaf and the commit signed again by Dave.
    let mut options = ExternalJoinOptions::default();
    options.capabilities.extensions.push(EXT);
    let (joined, commit) = Group::join_external(
        &fx.provider,
        GroupConfig::default(),
        &group_info,
        &dave,
        options,
        &(),
        Some(NOW),
    )
    .unwrap();
    let MlsMessage::PublicMessage(mut m) = commit.clone() else {
        panic!("an external commit is a PublicMessage");
    };
    let FramedContentBody::Commit(c) = &mut m.content.content else {
        panic!("not a commit");
    };
    let leaf = &mut c.path.as_mut().unwrap().leaf_node;
    leaf.capabilities.extensions.retain(|t| *t != EXT);
    leaf.sign(
        &*fx.cs,
        dave.signer(),
        Some(crate::messages::LeafNodeGroupBinding {
            group_id: fx.groups[BOB].group_id(),
            leaf_index: joined.own_leaf(),
        }),
    )
    .unwrap();
    let tbs = m.to_be_signed(Some(&fx.groups[BOB].context)).unwrap();
    m.auth.signature = sign_with_label(&*fx.cs, dave.signer(), b"FramedContentTBS", &tbs).unwrap();
    let before = saved(&fx.groups[BOB]);
    assert_rejected_with(
        &mut fx.groups,
        BOB,
        &MlsMessage::PublicMessage(m),
        &(),
        LACKS_EXT,
    );
    assert_eq!(saved(&fx.groups[BOB]), before);
    // The genuine commit is followed.
    for g in fx.groups.iter_mut() {
        apply(g, &commit);
    }
    assert_eq!(
        fx.groups[BOB].epoch_authenticator(),
        joined.epoch_authenticator()
    );
}

// --- Item 4: a staged commit merges only into the state it was staged from ---

/// `g` processes commit `m` and returns it staged, unmerged.
fn stage(g: &mut Group, m: &MlsMessage) -> crate::group::StagedCommit {
    match deliver(g, m, &()).unwrap() {
        ProcessedMessage::Commit(staged) => *staged,
        other => panic!("not a commit: {other:?}"),
    }
}

/// `committer`'s commit with a path, kept pending.
fn pending_commit(g: &mut Group) -> MlsMessage {
    g.commit(
        CommitOptions {
            force_path: true,
            ..Default::default()
        },
        &(),
        Some(NOW),
    )
    .unwrap()
    .commit
}

fn assert_merge_refused(g: &mut Group, staged: crate::group::StagedCommit) {
    let before = saved(g);
    assert_eq!(
        g.merge_staged_commit(staged).unwrap_err(),
        ApiError::StagedCommitMismatch.into()
    );
    assert_eq!(saved(g), before, "a refused merge changed the group");
}

#[test]
fn item4_staged_commit_of_other_group_refused() {
    // Two groups with the same group ID, in the same epoch, Bob at the same
    // leaf in both: only their histories differ.
    let mut fx = Fixture::new(108);
    let mut other = Fixture::new(109);
    assert_eq!(fx.groups[BOB].group_id(), other.groups[BOB].group_id());
    assert_eq!(fx.groups[BOB].epoch(), other.groups[BOB].epoch());
    let m = pending_commit(&mut other.groups[ALICE]);
    let foreign = stage(&mut other.groups[BOB], &m);
    assert_merge_refused(&mut fx.groups[BOB], foreign);

    // Another member's staged commit of the same group and epoch.
    let m = pending_commit(&mut fx.groups[ALICE]);
    let carols = stage(&mut fx.groups[CAROL], &m);
    assert_merge_refused(&mut fx.groups[BOB], carols);

    // A group with another group ID.
    let mut renamed = Group::create(
        &fx.provider,
        GroupConfig::default(),
        SUITE,
        b"another group".to_vec(),
        &fx.ids[BOB],
        kp_options(false),
        vec![],
    )
    .unwrap();
    let (_, kp, _) = fx.new_client("dave");
    let staged = renamed
        .commit(
            CommitOptions {
                proposals: vec![add(&kp)],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .map(|_| renamed.pending_commit.take().unwrap().staged)
        .unwrap();
    assert_merge_refused(&mut fx.groups[BOB], staged);

    // Bob's own staged commit still merges.
    let staged = stage(&mut fx.groups[BOB], &m);
    fx.groups[BOB].merge_staged_commit(staged).unwrap();
    fx.groups[ALICE].merge_pending_commit().unwrap();
    assert_eq!(
        fx.groups[BOB].epoch_authenticator(),
        fx.groups[ALICE].epoch_authenticator()
    );
}

#[test]
fn item4_staged_commit_of_an_earlier_state_refused() {
    // Staged, then the group moved on (another commit merged): the stale
    // commit cannot be merged into the newer state.
    let mut fx = Fixture::new(110);
    let m = pending_commit(&mut fx.groups[ALICE]);
    let stale = stage(&mut fx.groups[BOB], &m);
    fx.groups[ALICE].discard_pending_commit();
    valid_commit(&mut fx.groups, CAROL);
    assert_merge_refused(&mut fx.groups[BOB], stale);
    valid_commit(&mut fx.groups, BOB);
}

// --- Item 5: Group::join checks the signer against the KeyPackage leaf ---

#[test]
fn item5_join_with_another_signature_key_refused() {
    let mut fx = Fixture::new(111);
    let (dave, kp, private) = fx.new_client("dave");
    let out = commit_and_follow(&mut fx.groups, ALICE, vec![add(&kp)]);
    let welcome = welcome_of(&out.welcome.unwrap());
    let kp = (kp, private);
    // Carol's signature key instead of Dave's.
    let err = join(&fx.provider, &welcome, &kp, &fx.ids[CAROL], None, &()).unwrap_err();
    assert_eq!(err, ApiError::SignatureKeyMismatch.into());
    // With Dave's, the join works and the state it saves loads again.
    let dave = join(&fx.provider, &welcome, &kp, &dave, None, &()).unwrap();
    let restored = Group::from_bytes(&fx.provider, &saved(&dave)).unwrap();
    assert_eq!(restored.epoch_authenticator(), dave.epoch_authenticator());
}

// --- Item 6: OwnMessage only for what this member really sent ---

/// A PrivateMessage carrying `body` whose sender data names `victim`'s leaf,
/// made by `forger` (a member: it holds the sender data secret and every
/// leaf's ratchets) and signed with the forger's own key, encrypted with
/// `secret_tree` (a copy of the forger's).
fn forge_private_as(
    forger: &Group,
    victim: crate::tree_math::LeafIndex,
    body: FramedContentBody,
    secret_tree: &mut crate::secret_tree::SecretTree,
) -> MlsMessage {
    let content = crate::messages::FramedContent {
        group_id: forger.context.group_id.clone(),
        epoch: forger.context.epoch,
        sender: crate::messages::Sender::Member(victim.0),
        authenticated_data: Vec::new(),
        content: body,
    };
    let auth = crate::framing::sign_content(
        &*forger.cs,
        crate::messages::WireFormat::PRIVATE_MESSAGE,
        content,
        Some(&forger.context),
        &forger.signer,
        None,
    )
    .unwrap();
    let m = crate::framing::private::protect(
        &*forger.cs,
        &auth,
        secret_tree,
        &forger.keys.sender_data_secret,
        forger.config.padding,
    )
    .unwrap();
    MlsMessage::PrivateMessage(m)
}

/// `g` refuses `m` with `expected` and its saved state is unchanged.
fn assert_refused_unchanged(g: &mut Group, m: &MlsMessage, expected: impl Into<crate::Error>) {
    let before = saved(g);
    let err = deliver(g, m, &()).expect_err("the message must be refused");
    assert_eq!(err, expected.into());
    assert_eq!(saved(g), before, "a refused message changed the group");
}

#[test]
fn item6_forged_message_naming_own_leaf_is_not_own_message() {
    let mut fx = Fixture::new(112);
    let alice_leaf = fx.groups[ALICE].own_leaf();
    let bob_tree = fx.groups[BOB].keys.secret_tree.clone();
    let app = || FramedContentBody::Application(b"not from alice".to_vec());
    let bad_signature = crate::error::CryptoError::InvalidSignature;

    // Before Alice sends anything: generation 0 of her ratchet decrypts,
    // and the signature (Bob's, not hers) fails.
    let forged = forge_private_as(&fx.groups[BOB], alice_leaf, app(), &mut bob_tree.clone());
    assert_refused_unchanged(&mut fx.groups[ALICE], &forged, bad_signature.clone());
    // A forged proposal naming her leaf fails alike.
    let proposal =
        FramedContentBody::Proposal(Proposal::Remove(crate::messages::Remove { removed: 2 }));
    let forged = forge_private_as(&fx.groups[BOB], alice_leaf, proposal, &mut bob_tree.clone());
    assert_refused_unchanged(&mut fx.groups[ALICE], &forged, bad_signature.clone());

    // Alice sends generation 0; its echo is hers.
    let sent = fx.groups[ALICE].encrypt_application(b"hello", b"").unwrap();
    assert!(matches!(
        deliver(&mut fx.groups[ALICE], &sent, &()).unwrap(),
        ProcessedMessage::OwnMessage {
            content_type: crate::messages::ContentType::Application
        }
    ));
    // A forgery of the generation she used: its key is gone.
    let forged = forge_private_as(&fx.groups[BOB], alice_leaf, app(), &mut bob_tree.clone());
    assert_refused_unchanged(
        &mut fx.groups[ALICE],
        &forged,
        ProtocolError::KeyAlreadyUsed(0),
    );
    // A forgery of the next generation: the signature.
    let mut ahead = bob_tree.clone();
    let _ = forge_private_as(&fx.groups[BOB], alice_leaf, app(), &mut ahead);
    let forged = forge_private_as(&fx.groups[BOB], alice_leaf, app(), &mut ahead);
    assert_refused_unchanged(&mut fx.groups[ALICE], &forged, bad_signature);
    // Her real message with its sender data encrypted again (same content,
    // same leaf and generation, other reuse guard bytes) is not hers byte
    // for byte: refused like a replay.
    let MlsMessage::PrivateMessage(mut tampered) = sent.clone() else {
        panic!("application messages are PrivateMessages");
    };
    let cs = &*fx.cs;
    let sd_key = fx.groups[BOB]
        .keys
        .sender_data_secret
        .key_and_nonce(cs, &tampered.ciphertext)
        .unwrap();
    let sender_data = crate::messages::SenderData {
        leaf_index: alice_leaf.0,
        generation: 0,
        reuse_guard: [1, 2, 3, 4],
    };
    tampered.encrypted_sender_data = cs
        .aead_seal(
            sd_key.key.as_bytes(),
            sd_key.nonce.as_bytes(),
            &tampered.sender_data_aad().to_bytes().unwrap(),
            &sender_data.to_bytes().unwrap(),
        )
        .unwrap();
    assert_refused_unchanged(
        &mut fx.groups[ALICE],
        &MlsMessage::PrivateMessage(tampered),
        ProtocolError::KeyAlreadyUsed(0),
    );

    // Bob reads the real message; Alice still recognises her echo after a
    // restart, and after a commit (the epoch is kept as a past epoch).
    assert!(matches!(
        deliver(&mut fx.groups[BOB], &sent, &()).unwrap(),
        ProcessedMessage::Application { .. }
    ));
    let mut alice = Group::from_bytes(&fx.provider, &saved(&fx.groups[ALICE])).unwrap();
    assert!(matches!(
        deliver(&mut alice, &sent, &()).unwrap(),
        ProcessedMessage::OwnMessage { .. }
    ));
    valid_commit(&mut fx.groups, CAROL);
    assert!(matches!(
        deliver(&mut fx.groups[ALICE], &sent, &()).unwrap(),
        ProcessedMessage::OwnMessage { .. }
    ));
}

#[test]
fn item6_own_message_window_is_bounded() {
    // Only the last OWN_MESSAGE_WINDOW messages are remembered; an older
    // echo is refused like a replay, and the saved state stays bounded.
    let mut fx = Fixture::new(113);
    let first = fx.groups[ALICE].encrypt_application(b"first", b"").unwrap();
    for _ in 0..crate::group::OWN_MESSAGE_WINDOW {
        fx.groups[ALICE].encrypt_application(b"", b"").unwrap();
    }
    assert_eq!(
        fx.groups[ALICE].own_messages.sent.len(),
        crate::group::OWN_MESSAGE_WINDOW
    );
    assert_refused_unchanged(
        &mut fx.groups[ALICE],
        &first,
        ProtocolError::KeyAlreadyUsed(0),
    );
    // With no past epochs kept, a commit forgets them all.
    let mut alice = Group::from_bytes(&fx.provider, &saved(&fx.groups[ALICE])).unwrap();
    assert_eq!(
        alice.own_messages.sent.len(),
        crate::group::OWN_MESSAGE_WINDOW
    );
    alice.config.max_past_epochs = 0;
    alice
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    alice.merge_pending_commit().unwrap();
    assert!(alice.own_messages.sent.is_empty());
}

// --- Item 10: missing uniqueness and order checks ---

#[test]
fn item10_key_package_with_duplicate_extensions_refused() {
    // RFC 9420 §13.4: no extension list holds a type twice, KeyPackage
    // extensions included.
    let mut fx = Fixture::new(114);
    let unknown = || Extension {
        extension_type: ExtensionType(0xff0b),
        extension_data: vec![2],
    };
    let id = Identity::generate(&*fx.cs, Credential::basic("dave")).unwrap();
    let (mut kp, _) = generate_key_package(&*fx.cs, &id, kp_options(false)).unwrap();
    kp.extensions = vec![unknown(), unknown()];
    kp.sign(&*fx.cs, id.signer()).unwrap();
    let expected = ProtocolError::DuplicateExtension(0xff0b);
    // The committer refuses to add it.
    let before = saved(&fx.groups[ALICE]);
    let err = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: vec![add(&kp)],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap_err();
    assert_eq!(err, expected.clone().into());
    assert_eq!(saved(&fx.groups[ALICE]), before);
    // A receiver refuses a commit that adds it.
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_value(add(&kp))]));
    let before = saved(&fx.groups[BOB]);
    assert_rejected_with(&mut fx.groups, BOB, &c, &(), expected);
    assert_eq!(saved(&fx.groups[BOB]), before);
    // With the extension once, it is added.
    kp.extensions = vec![unknown()];
    kp.sign(&*fx.cs, id.signer()).unwrap();
    commit_and_follow(&mut fx.groups, ALICE, vec![add(&kp)]);
}

// --- Item 11: a failed call changes nothing, wherever it fails ---

/// A suite provider that fails its `fail_at`-th fallible call (counting from
/// 0) with `CryptoError::Other`, and counts the calls.
struct FailingProvider {
    inner: std::sync::Arc<dyn crate::crypto::CipherSuiteProvider>,
    calls: std::sync::atomic::AtomicUsize,
    fail_at: usize,
}

impl FailingProvider {
    fn install(g: &mut Group, fail_at: usize) -> std::sync::Arc<Self> {
        let p = std::sync::Arc::new(Self {
            inner: g.cs.clone(),
            calls: std::sync::atomic::AtomicUsize::new(0),
            fail_at,
        });
        g.cs = p.clone();
        p
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn tick(&self) -> core::result::Result<(), crate::error::CryptoError> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == self.fail_at {
            Err(crate::error::CryptoError::Other("injected failure"))
        } else {
            Ok(())
        }
    }
}

mod failing_provider_impl {
    use super::FailingProvider;
    use crate::crypto::{
        CipherSuite, CipherSuiteProvider, HpkeCiphertext, HpkePrivateKey, HpkePublicKey, Secret,
        SignaturePrivateKey, SignaturePublicKey, Tag,
    };
    use crate::error::CryptoError;

    type R<T> = core::result::Result<T, CryptoError>;

    impl CipherSuiteProvider for FailingProvider {
        fn cipher_suite(&self) -> CipherSuite {
            self.inner.cipher_suite()
        }
        fn hash(&self, data: &[u8]) -> Vec<u8> {
            self.inner.hash(data)
        }
        fn kdf_len(&self) -> usize {
            self.inner.kdf_len()
        }
        fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> R<Secret> {
            self.tick()?;
            self.inner.kdf_extract(salt, ikm)
        }
        fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> R<Secret> {
            self.tick()?;
            self.inner.kdf_expand(prk, info, len)
        }
        fn mac(&self, key: &[u8], data: &[u8]) -> R<Tag> {
            self.tick()?;
            self.inner.mac(key, data)
        }
        fn aead_key_len(&self) -> usize {
            self.inner.aead_key_len()
        }
        fn aead_nonce_len(&self) -> usize {
            self.inner.aead_nonce_len()
        }
        fn aead_seal(&self, key: &[u8], nonce: &[u8], aad: &[u8], pt: &[u8]) -> R<Vec<u8>> {
            self.tick()?;
            self.inner.aead_seal(key, nonce, aad, pt)
        }
        fn aead_open(&self, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> R<Vec<u8>> {
            self.tick()?;
            self.inner.aead_open(key, nonce, aad, ct)
        }
        fn hpke_seal(
            &self,
            public_key: &HpkePublicKey,
            info: &[u8],
            aad: &[u8],
            plaintext: &[u8],
        ) -> R<HpkeCiphertext> {
            self.tick()?;
            self.inner.hpke_seal(public_key, info, aad, plaintext)
        }
        fn hpke_open(
            &self,
            private_key: &HpkePrivateKey,
            ciphertext: &HpkeCiphertext,
            info: &[u8],
            aad: &[u8],
        ) -> R<Vec<u8>> {
            self.tick()?;
            self.inner.hpke_open(private_key, ciphertext, info, aad)
        }
        fn hpke_export_sender(
            &self,
            public_key: &HpkePublicKey,
            info: &[u8],
            exporter_context: &[u8],
            len: usize,
        ) -> R<(Vec<u8>, Secret)> {
            self.tick()?;
            self.inner
                .hpke_export_sender(public_key, info, exporter_context, len)
        }
        fn hpke_export_receiver(
            &self,
            private_key: &HpkePrivateKey,
            kem_output: &[u8],
            info: &[u8],
            exporter_context: &[u8],
            len: usize,
        ) -> R<Secret> {
            self.tick()?;
            self.inner
                .hpke_export_receiver(private_key, kem_output, info, exporter_context, len)
        }
        fn hpke_derive_key_pair(&self, ikm: &[u8]) -> R<(HpkePrivateKey, HpkePublicKey)> {
            self.tick()?;
            self.inner.hpke_derive_key_pair(ikm)
        }
        fn hpke_generate_key_pair(&self) -> R<(HpkePrivateKey, HpkePublicKey)> {
            self.tick()?;
            self.inner.hpke_generate_key_pair()
        }
        fn hpke_public_key(&self, private_key: &HpkePrivateKey) -> R<HpkePublicKey> {
            self.tick()?;
            self.inner.hpke_public_key(private_key)
        }
        fn sign(&self, key: &SignaturePrivateKey, message: &[u8]) -> R<Vec<u8>> {
            self.tick()?;
            self.inner.sign(key, message)
        }
        fn verify(&self, key: &SignaturePublicKey, message: &[u8], signature: &[u8]) -> R<()> {
            self.tick()?;
            self.inner.verify(key, message, signature)
        }
        fn signature_generate_key_pair(&self) -> R<(SignaturePrivateKey, SignaturePublicKey)> {
            self.tick()?;
            self.inner.signature_generate_key_pair()
        }
        fn signature_public_key(&self, key: &SignaturePrivateKey) -> R<SignaturePublicKey> {
            self.tick()?;
            self.inner.signature_public_key(key)
        }
        fn random_bytes(&self, out: &mut [u8]) -> R<()> {
            self.tick()?;
            self.inner.random_bytes(out)
        }
    }
}

/// Runs `op` on `g` with its `k`-th fallible crypto call failing, for every
/// `k` up to the number of calls `op` makes; each failure must leave the
/// saved state as it was. Then `op` runs with nothing failing and must
/// succeed. Returns the number of failure points tried.
fn fail_everywhere(g: &mut Group, mut op: impl FnMut(&mut Group) -> crate::Result<()>) -> usize {
    let inner = g.cs.clone();
    // How many calls `op` makes, on a copy.
    let mut copy = Group::from_bytes(&RustCryptoProvider::new(), &saved(g)).unwrap();
    copy.config = g.config.clone();
    let counter = FailingProvider::install(&mut copy, usize::MAX);
    op(&mut copy).unwrap();
    let total = counter.calls();
    assert!(total > 0);
    for k in 0..total {
        let before = saved(g);
        FailingProvider::install(g, k);
        let result = op(g);
        g.cs = inner.clone();
        assert_eq!(
            result,
            Err(crate::error::CryptoError::Other("injected failure").into()),
            "call {k} of {total}"
        );
        assert_eq!(
            saved(g),
            before,
            "failing call {k} of {total} changed the group"
        );
    }
    op(g).unwrap();
    total
}

#[test]
fn item11_failed_private_commit_leaves_state_unchanged() {
    let mut fx = Fixture::new(116);
    fx.groups[ALICE].config.handshake_format = crate::group::HandshakeFormat::Private;
    // Sealing the Welcome fails (the joiner's init key is no X25519 key),
    // after the commit is signed and its key schedule done.
    let dave = Identity::generate(&*fx.cs, Credential::basic("dave")).unwrap();
    let (mut bad, _) = generate_key_package(&*fx.cs, &dave, kp_options(false)).unwrap();
    bad.init_key = crate::crypto::HpkePublicKey::from(vec![9; 31]);
    bad.sign(&*fx.cs, dave.signer()).unwrap();
    let before = saved(&fx.groups[ALICE]);
    let err = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: vec![add(&bad)],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap_err();
    assert_eq!(err, crate::error::CryptoError::InvalidPublicKey.into());
    assert_eq!(saved(&fx.groups[ALICE]), before);

    // Every crypto call of a private commit with an Add, a Welcome and a
    // GroupInfo fails in turn, the last ones those of encrypting the commit.
    let (_, kp, _) = fx.new_client("erin");
    let alice = &mut fx.groups[ALICE];
    let tried = fail_everywhere(alice, |g| {
        g.commit(
            CommitOptions {
                proposals: vec![add(&kp)],
                force_path: true,
                group_info: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .map(|out| assert!(matches!(out.commit, MlsMessage::PrivateMessage(_))))?;
        g.discard_pending_commit();
        Ok(())
    });
    assert!(tried > 10, "{tried}");
}

#[test]
fn item11_failed_private_messages_leave_state_unchanged() {
    // Proposals and application messages sent as PrivateMessages, and a
    // public commit, fail anywhere without changing the group.
    let mut fx = Fixture::new(117);
    let alice = &mut fx.groups[ALICE];
    fail_everywhere(alice, |g| g.encrypt_application(b"hello", b"").map(|_| ()));
    alice.config.handshake_format = crate::group::HandshakeFormat::Private;
    fail_everywhere(alice, |g| {
        g.propose(Proposal::Remove(crate::messages::Remove { removed: 2 }))
            .map(|_| ())
    });
    alice.config.handshake_format = crate::group::HandshakeFormat::Public;
    fail_everywhere(alice, |g| {
        g.commit(CommitOptions::default(), &(), Some(NOW))?;
        g.discard_pending_commit();
        Ok(())
    });
}

#[test]
fn item11_failed_processing_leaves_state_unchanged() {
    // The receiving side of the same guarantee: every crypto call of
    // processing an application message, a private proposal and a commit
    // with a path and an Add fails in turn without changing the receiver.
    let mut fx = Fixture::new(118);
    let app = fx.groups[ALICE].encrypt_application(b"hi", b"ad").unwrap();
    fx.groups[ALICE].config.handshake_format = crate::group::HandshakeFormat::Private;
    let proposal = fx.groups[ALICE]
        .propose(Proposal::Remove(crate::messages::Remove { removed: 2 }))
        .unwrap();
    let (_, kp, _) = fx.new_client("dave");
    let commit = fx.groups[CAROL]
        .commit(
            CommitOptions {
                proposals: vec![add(&kp)],
                force_path: true,
                include_pending: false,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap()
        .commit;
    let bob = &mut fx.groups[BOB];
    let bob_before = saved(bob);
    fail_everywhere(bob, |g| {
        // Each successful run is undone so the next one starts alike.
        let start = saved(g);
        let result = deliver(g, &app, &()).map(|_| ());
        if result.is_ok() {
            *g = Group::from_bytes(&RustCryptoProvider::new(), &start).unwrap();
        }
        result
    });
    fail_everywhere(bob, |g| {
        let start = saved(g);
        let result = deliver(g, &proposal, &()).map(|_| ());
        if result.is_ok() {
            *g = Group::from_bytes(&RustCryptoProvider::new(), &start).unwrap();
        }
        result
    });
    fail_everywhere(bob, |g| match deliver(g, &commit, &())? {
        ProcessedMessage::Commit(_) => Ok(()),
        other => panic!("not a commit: {other:?}"),
    });
    assert_eq!(saved(bob), bob_before);
}

#[test]
fn item3_creator_must_support_group_context_extensions() {
    // The creator's leaf is held to what new leaves are: its commits would
    // otherwise be refused by every member.
    let provider = RustCryptoProvider::with_seed([119; 32]);
    let cs = provider.cipher_suite_provider(SUITE).unwrap();
    let alice = Identity::generate(&*cs, Credential::basic("alice")).unwrap();
    let create = |ext_supported: bool| {
        Group::create(
            &provider,
            GroupConfig::default(),
            SUITE,
            b"g".to_vec(),
            &alice,
            kp_options(ext_supported),
            vec![ext()],
        )
    };
    assert_eq!(
        create(false).unwrap_err(),
        ProtocolError::UnsupportedGroupContextExtensions(0).into()
    );
    create(true).unwrap();
}
