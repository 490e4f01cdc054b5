//! Issue 11, item 1: one verdict per signature. KeyPackages and tree leaves
//! signed with a small torsion component (a mixed-order `R`, or a
//! mixed-order key whose challenge does not kill the torsion) fail single
//! strict verification, so they must fail wherever they appear: among the
//! 70 KeyPackages of one commit and among the leaves of a joined tree, with
//! the feature `parallel` on or off and with 1 or 2 rayon threads. A
//! mixed-order key whose challenges do kill the torsion passes single
//! verification, so it must pass there too.

use super::*;
use crate::crypto::labeled::decrypt_with_label;
use crate::crypto::torsion::{TorsionProvider, Tweak, torsion_point};
use crate::crypto::{SignaturePrivateKey, labeled::encrypt_with_label};
use crate::error::ProtocolError;
use crate::group::join::resolve_psks;
use crate::key_schedule::JoinerSecret;
use crate::messages::{
    EncryptedGroupSecrets, ExtensionList, GroupInfo, GroupSecrets, Node, RatchetTreeExtension,
};
use crate::tree::RatchetTree;
use forge::Forge;

/// Runs `check` on the calling thread and, with the feature `parallel`,
/// inside local rayon pools of 1 and 2 threads.
fn on_every_thread_count(mut check: impl FnMut(&str) + Send) {
    check("calling thread");
    #[cfg(feature = "parallel")]
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| check(&format!("{threads} rayon thread(s)")));
    }
}

/// A suite that signs with `tweak` around the fixture's real one.
fn tweaked(fx: &Fixture, tweak: Tweak) -> TorsionProvider {
    TorsionProvider::new(fx.cs.clone(), tweak)
}

/// A KeyPackage of a new client `name` signed (leaf and KeyPackage) by
/// `cs`, drawn again until `keep` accepts it.
fn crafted_key_package(
    cs: &TorsionProvider,
    name: &str,
    keep: impl Fn(&KeyPackage) -> bool,
) -> KeyPackage {
    let (signer, _) = cs.signature_generate_key_pair().unwrap();
    let id = Identity::from_keys(cs, Credential::basic(name), signer).unwrap();
    (0..1000)
        .map(|_| generate_key_package(cs, &id, kp_options(false)).unwrap().0)
        .find(|kp| keep(kp))
        .expect("a KeyPackage with the wanted verdicts")
}

/// Whether the KeyPackage signature and its leaf signature each pass
/// single verification.
fn single_verdicts(fx: &Fixture, kp: &KeyPackage) -> (bool, bool) {
    (
        kp.verify_signature(&*fx.cs).is_ok(),
        kp.leaf_node.verify_signature(&*fx.cs, None).is_ok(),
    )
}

/// 70 valid KeyPackages with `crafted` at index 45, committed by Alice.
fn add_commit_with(fx: &Fixture, crafted: &KeyPackage) -> MlsMessage {
    let mut kps: Vec<KeyPackage> = (0..70)
        .map(|i| fx.new_client(&format!("member {i}")).1)
        .collect();
    kps[45] = crafted.clone();
    let proposals = kps.iter().map(|kp| by_value(add(kp))).collect();
    fx.groups[ALICE].forge_commit(Forge::new(proposals))
}

/// Bob must refuse `commit` with `expected` and stay unchanged, on every
/// thread count; then the group goes on.
fn bob_refuses_everywhere(fx: &mut Fixture, commit: &MlsMessage, expected: ProtocolError) {
    let groups = &mut fx.groups;
    on_every_thread_count(|threads| {
        let g = &mut groups[BOB];
        let before = g.snapshot();
        let err = deliver(g, commit, &()).expect_err(threads);
        assert_eq!(err, expected.clone().into(), "{threads}");
        assert_eq!(
            g.snapshot(),
            before,
            "{threads}: a refused commit changed Bob"
        );
    });
    valid_commit(&mut fx.groups, CAROL);
}

#[test]
fn item1_mixed_order_r_rejected_in_add_batch() {
    for (seed, order) in [(110u8, 2u8), (111, 4), (112, 8)] {
        let mut fx = Fixture::new(seed);
        let cs = tweaked(&fx, Tweak::MixedR(torsion_point(order)));
        let kp = crafted_key_package(&cs, "mallory", |_| true);
        assert_eq!(single_verdicts(&fx, &kp), (false, false), "order {order}");
        let commit = add_commit_with(&fx, &kp);
        bob_refuses_everywhere(&mut fx, &commit, ProtocolError::KeyPackageSignatureInvalid);
    }
}

#[test]
fn item1_mixed_order_key_rejected_in_add_batch() {
    let mut fx = Fixture::new(113);
    let cs = tweaked(&fx, Tweak::MixedKey(torsion_point(8)));
    // The KeyPackage signature fails single verification: refused for it.
    let kp = crafted_key_package(&cs, "mallory", |kp| !single_verdicts(&fx, kp).0);
    let commit = add_commit_with(&fx, &kp);
    bob_refuses_everywhere(&mut fx, &commit, ProtocolError::KeyPackageSignatureInvalid);
    // Only the leaf signature fails: refused for it.
    let kp = crafted_key_package(&cs, "mallory", |kp| {
        single_verdicts(&fx, kp) == (true, false)
    });
    let commit = add_commit_with(&fx, &kp);
    bob_refuses_everywhere(&mut fx, &commit, ProtocolError::LeafNodeSignatureInvalid);
}

#[test]
fn item1_mixed_order_key_accepted_when_single_verification_accepts() {
    // Torsion of order 2: both challenges even is likely enough to draw.
    // Strict single verification accepts such a key and its signatures, so
    // every member must, on every thread count.
    let mut fx = Fixture::new(114);
    let cs = tweaked(&fx, Tweak::MixedKey(torsion_point(2)));
    let kp = crafted_key_package(&cs, "mixed", |kp| single_verdicts(&fx, kp) == (true, true));
    let commit = add_commit_with(&fx, &kp);
    let groups = &mut fx.groups;
    on_every_thread_count(|threads| {
        let g = &mut groups[BOB];
        match deliver(g, &commit, &()) {
            Ok(ProcessedMessage::Commit(staged)) => assert_eq!(staged.summary().added.len(), 70),
            other => panic!("{threads}: {other:?}"),
        }
    });
}

/// A group of 40 members added by Alice in one commit without a path (so
/// no parent node is set and a leaf can be re-signed without touching any
/// parent hash), and the Welcome of that commit for Dave, the last one.
struct BigJoin {
    fx: Fixture,
    dave: (Identity, (KeyPackage, KeyPackagePrivate)),
    welcome: Welcome,
}

/// Alice's group `group_id` with `members` members, all but her added in one
/// commit without a path: the provider, the suite, Alice's group, every
/// identity (Alice's first), the added members' KeyPackages (in leaf order,
/// from leaf 1) and the Welcome of that commit.
#[allow(clippy::type_complexity)]
fn added_in_one_commit(
    seed: u8,
    group_id: &[u8],
    members: usize,
) -> (
    RustCryptoProvider,
    Arc<dyn CipherSuiteProvider>,
    Group,
    Vec<Identity>,
    Vec<(KeyPackage, KeyPackagePrivate)>,
    Welcome,
) {
    let provider = RustCryptoProvider::with_seed([seed; 32]);
    let cs = provider.cipher_suite_provider(SUITE).unwrap();
    let alice = Identity::generate(&*cs, Credential::basic("alice")).unwrap();
    let mut group = Group::create(
        &provider,
        GroupConfig::default(),
        SUITE,
        group_id.to_vec(),
        &alice,
        kp_options(false),
        vec![],
    )
    .unwrap();
    let mut ids = vec![alice];
    let mut kps = Vec::new();
    for i in 1..members {
        let id = Identity::generate(&*cs, Credential::basic(format!("m{i}"))).unwrap();
        kps.push(generate_key_package(&*cs, &id, kp_options(false)).unwrap());
        ids.push(id);
    }
    let out = group
        .commit(
            CommitOptions {
                proposals: kps.iter().map(|kp| add(&kp.0)).collect(),
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    group.merge_pending_commit().unwrap();
    let welcome = welcome_of(&out.welcome.unwrap());
    (provider, cs, group, ids, kps, welcome)
}

fn big_join(seed: u8) -> BigJoin {
    let (provider, cs, group, mut ids, mut kps, welcome) =
        added_in_one_commit(seed, b"joined tree", 40);
    assert!(
        (0..group.tree.size().node_count())
            .all(|n| n % 2 == 0 || group.tree.is_blank(crate::tree_math::NodeIndex(n))),
        "no parent node is set"
    );
    let dave_id = ids.pop().unwrap();
    let dave_kp = kps.pop().unwrap();
    BigJoin {
        fx: Fixture {
            provider,
            cs,
            ids,
            groups: vec![group],
        },
        dave: (dave_id, dave_kp),
        welcome,
    }
}

impl BigJoin {
    /// The Welcome with leaf `leaf`'s node replaced by `edit` of it, the
    /// tree hash updated and the GroupInfo signed again by Alice.
    fn with_leaf(&self, leaf: usize, edit: impl FnOnce(&mut crate::messages::LeafNode)) -> Welcome {
        let cs = &*self.fx.cs;
        let kp = &self.dave.1;
        let reference = kp.0.reference(cs).unwrap();
        let entry = self
            .welcome
            .secrets
            .iter()
            .find(|s| s.new_member == reference)
            .unwrap();
        let secrets = GroupSecrets::decode_exact(
            &decrypt_with_label(
                cs,
                &kp.1.init_key,
                b"Welcome",
                &self.welcome.encrypted_group_info,
                &entry.encrypted_group_secrets,
            )
            .unwrap(),
        )
        .unwrap();
        let psk = resolve_psks(cs, &secrets.psks, &(), &|_| None).unwrap();
        let kn = JoinerSecret::from_secret(secrets.joiner_secret.clone())
            .into_intermediate(cs, psk)
            .unwrap()
            .welcome_secret(cs)
            .unwrap()
            .key_and_nonce(cs)
            .unwrap();
        let (key, nonce) = (kn.key.as_bytes(), kn.nonce.as_bytes());
        let plaintext = cs
            .aead_open(key, nonce, &[], &self.welcome.encrypted_group_info)
            .unwrap();
        let mut info = GroupInfo::decode_exact(&plaintext).unwrap();

        let mut tree: RatchetTreeExtension = info.extensions.parse().unwrap().unwrap();
        match tree.0[2 * leaf].as_mut().map(std::sync::Arc::make_mut) {
            Some(Node::Leaf(l)) => edit(l),
            other => panic!("leaf {leaf} is {other:?}"),
        }
        info.group_context.tree_hash = RatchetTree::from_extension(SUITE, tree.clone())
            .unwrap()
            .tree_hash(cs)
            .unwrap();
        for e in &mut info.extensions {
            if e.extension_type == crate::messages::ExtensionType::RATCHET_TREE {
                *e = Extension::from_typed(&tree).unwrap();
            }
        }
        info.sign(cs, self.fx.ids[ALICE].signer()).unwrap();

        let encrypted_group_info = cs
            .aead_seal(key, nonce, &[], &info.to_bytes().unwrap())
            .unwrap();
        let encrypted_group_secrets = encrypt_with_label(
            cs,
            &kp.0.init_key,
            b"Welcome",
            &encrypted_group_info,
            &secrets.to_bytes().unwrap(),
        )
        .unwrap();
        Welcome {
            cipher_suite: self.welcome.cipher_suite,
            secrets: vec![EncryptedGroupSecrets {
                new_member: reference,
                encrypted_group_secrets,
            }],
            encrypted_group_info,
        }
    }

    /// Dave must be refused with `expected` on every thread count; the
    /// genuine Welcome still works.
    fn refused_everywhere(&self, welcome: &Welcome, expected: ProtocolError) {
        let (dave, kp) = &self.dave;
        on_every_thread_count(|threads| {
            let err = join(&self.fx.provider, welcome, kp, dave, None, &()).unwrap_err();
            assert_eq!(err, expected.clone().into(), "{threads}");
        });
        let joined = join(&self.fx.provider, &self.welcome, kp, dave, None, &()).unwrap();
        assert_eq!(
            joined.epoch_authenticator(),
            self.fx.groups[ALICE].epoch_authenticator()
        );
    }

    fn signer(&self, leaf: usize) -> &SignaturePrivateKey {
        self.fx.ids[leaf].signer()
    }
}

#[test]
fn item1_mixed_order_r_rejected_in_joined_tree() {
    let j = big_join(115);
    for (leaf, order) in [(1usize, 2u8), (17, 4), (38, 8)] {
        let cs = tweaked(&j.fx, Tweak::MixedR(torsion_point(order)));
        // Several signatures (each with another nonce): a batch equation
        // would let some of them through.
        for _ in 0..6 {
            let w = j.with_leaf(leaf, |l| l.sign(&cs, j.signer(leaf), None).unwrap());
            j.refused_everywhere(&w, ProtocolError::LeafNodeSignatureInvalid);
        }
    }
}

#[test]
fn item1_mixed_order_key_rejected_in_joined_tree() {
    let j = big_join(116);
    let leaf = 23;
    let cs = tweaked(&j.fx, Tweak::MixedKey(torsion_point(8)));
    for _ in 0..6 {
        let w = j.with_leaf(leaf, |l| {
            l.signature_key = cs.signature_public_key(j.signer(leaf)).unwrap();
            // Signed (again) until single verification refuses it (7 times in 8).
            l.sign(&cs, j.signer(leaf), None).unwrap();
            while l.verify_signature(&*j.fx.cs, None).is_ok() {
                l.sign(&cs, j.signer(leaf), None).unwrap();
            }
        });
        j.refused_everywhere(&w, ProtocolError::LeafNodeSignatureInvalid);
    }
}

/// Issue 16: a commit larger than the threshold above which its signature,
/// membership tag and transcript hash are computed on two threads (an
/// UpdatePath to about 3,500 leaves, over 256 KiB) is accepted with the same
/// result, and refused with the same error when its membership tag or its
/// signature is wrong, on the calling thread and with 1 and 2 rayon threads.
#[test]
fn large_commit_same_verdict_on_every_thread_count() {
    const MEMBERS: usize = 3500;
    let (provider, cs, group, ids, kps, welcome) =
        added_in_one_commit(16, b"large commit", MEMBERS);
    let mut bob = join(&provider, &welcome, &kps[0], &ids[1], None, &()).unwrap();
    let commit = bob
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap()
        .commit;
    let size = commit.to_bytes().unwrap().len();
    assert!(size > 256 * 1024, "the commit is {size} bytes");
    let public = |m: &MlsMessage| match m {
        MlsMessage::PublicMessage(p) => p.clone(),
        _ => panic!("a PublicMessage"),
    };
    let mut bad_tag = public(&commit);
    if let Some(tag) = bad_tag.membership_tag.as_mut() {
        let mut bytes = tag.as_bytes().to_vec();
        bytes[0] ^= 1;
        *tag = crate::crypto::Tag::from(bytes);
    }
    // A wrong signature under a valid membership tag (the tag covers the
    // signature, so it is computed again).
    let mut bad_signature = public(&commit);
    bad_signature.auth.signature[0] ^= 1;
    bad_signature.membership_tag = Some(
        crate::framing::public::membership_tag(
            &*cs,
            &crate::messages::AuthenticatedContent {
                wire_format: crate::messages::WireFormat::PUBLIC_MESSAGE,
                content: bad_signature.content.clone(),
                auth: bad_signature.auth.clone(),
            },
            &group.context,
            &group.keys.membership_key,
        )
        .unwrap(),
    );

    let state = group.to_bytes().unwrap();
    let fork = |_: &Group| Group::from_bytes(&provider, state.as_bytes()).unwrap();
    let mut accepted = Vec::new();
    on_every_thread_count(|label| {
        let mut g = fork(&group);
        match deliver(&mut g, &commit, &()).expect(label) {
            ProcessedMessage::Commit(staged) => g.merge_staged_commit(*staged).expect(label),
            other => panic!("{label}: not a commit: {other:?}"),
        }
        accepted.push(g.epoch_authenticator().as_bytes().to_vec());
        for (m, expected) in [
            (&bad_tag, Error::from(ProtocolError::InvalidMembershipTag)),
            (
                &bad_signature,
                crate::error::CryptoError::InvalidSignature.into(),
            ),
        ] {
            let mut g = fork(&group);
            let before = g.snapshot();
            let err = deliver(&mut g, &MlsMessage::PublicMessage(m.clone()), &()).expect_err(label);
            assert_eq!(err, expected, "{label}");
            assert_eq!(g.snapshot(), before, "{label}");
        }
    });
    assert!(accepted.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(accepted[0], bob_epoch_after(&mut bob));

    fn bob_epoch_after(bob: &mut Group) -> Vec<u8> {
        bob.merge_pending_commit().unwrap();
        bob.epoch_authenticator().as_bytes().to_vec()
    }
}
