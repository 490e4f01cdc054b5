//! Feeds arbitrary bytes to a member of a live three-member group: as a
//! message to process (raw, or as byte flips of the group's real messages,
//! which gets past parsing into framing, signature and commit checks), as a
//! Welcome to join from, and as a saved group state. Nothing may panic, and a
//! message that fails to process must leave the member's state unchanged.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use tessera::group::{
    CommitOptions, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions, KeyPackagePrivate,
    generate_key_package,
};
use tessera::messages::{Add, Credential, KeyPackage, MlsMessage, Proposal, Remove, Welcome};

const NOW: u64 = 1_800_000_000;

struct Fixture {
    provider: RustCryptoProvider,
    /// Bob's saved state, in the epoch every message below belongs to.
    bob: Vec<u8>,
    /// Real messages to Bob: application data, a commit with a path, a
    /// remove commit, Carol's Welcome.
    messages: Vec<Vec<u8>>,
    /// Dave, who has a KeyPackage but was never added.
    dave: (Identity, KeyPackage, KeyPackagePrivate),
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| build().expect("the fixture group builds"))
}

fn build() -> Result<Fixture, tessera::Error> {
    let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    let provider = RustCryptoProvider::with_seed([9; 32]);
    let cs = provider.cipher_suite_provider(suite)?;
    let options = || KeyPackageOptions::valid_for(NOW, 86400);
    let id = |name: &str| Identity::generate(&*cs, Credential::basic(name));
    let (alice_id, bob_id, carol_id, dave_id) =
        (id("alice")?, id("bob")?, id("carol")?, id("dave")?);
    let (bob_kp, bob_priv) = generate_key_package(&*cs, &bob_id, options())?;
    let (carol_kp, _) = generate_key_package(&*cs, &carol_id, options())?;
    let (dave_kp, dave_priv) = generate_key_package(&*cs, &dave_id, options())?;

    let mut alice = Group::create(
        &provider,
        GroupConfig::default(),
        suite,
        b"fuzz".to_vec(),
        &alice_id,
        options(),
        vec![],
    )?;
    let add = |kp: &KeyPackage| {
        Proposal::Add(Add {
            key_package: kp.clone(),
        })
    };
    let out = alice.commit(
        CommitOptions {
            proposals: vec![add(&bob_kp)],
            ..Default::default()
        },
        &(),
        Some(NOW),
    )?;
    alice.merge_pending_commit()?;
    let Some(MlsMessage::Welcome(welcome)) = out.welcome else {
        return Err(tessera::Error::Internal("no Welcome"));
    };
    let bob = Group::join(
        &provider,
        GroupConfig::default(),
        &welcome,
        JoinInput {
            key_package: &bob_kp,
            key_package_private: &bob_priv,
            signer: bob_id.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: Some(NOW),
        },
    )?;
    let bob_state = bob.to_bytes()?.as_bytes().to_vec();

    // Every message below is from Alice's current epoch, in which Bob is.
    let mut messages = vec![alice.encrypt_application(b"hello", b"")?.to_bytes()?];
    let fork = || Group::from_bytes(&provider, alice.to_bytes()?.as_bytes());
    let mut a = fork()?;
    let out = a.commit(
        CommitOptions {
            proposals: vec![add(&carol_kp)],
            force_path: true,
            ..Default::default()
        },
        &(),
        Some(NOW),
    )?;
    messages.push(out.commit.to_bytes()?);
    if let Some(w) = out.welcome {
        messages.push(w.to_bytes()?);
    }
    let mut a = fork()?;
    let out = a.commit(
        CommitOptions {
            proposals: vec![Proposal::Remove(Remove { removed: 1 })],
            ..Default::default()
        },
        &(),
        Some(NOW),
    )?;
    messages.push(out.commit.to_bytes()?);
    Ok(Fixture {
        provider,
        bob: bob_state,
        messages,
        dave: (dave_id, dave_kp, dave_priv),
    })
}

/// Bob processes `bytes`; on failure his state must be what it was.
fn process(f: &Fixture, bytes: &[u8]) {
    let Ok(message) = MlsMessage::decode_exact(bytes) else {
        return;
    };
    if let MlsMessage::Welcome(w) = &message {
        join(f, w);
    }
    let mut bob = Group::from_bytes(&f.provider, &f.bob).expect("Bob's state loads");
    let before = bob.to_bytes().expect("Bob's state saves");
    if bob.process_message(&message, &(), Some(NOW)).is_err() {
        let after = bob.to_bytes().expect("Bob's state saves");
        assert!(
            after.as_bytes() == before.as_bytes(),
            "a failed message changed the state"
        );
    }
}

fn join(f: &Fixture, welcome: &Welcome) {
    let (id, kp, private) = &f.dave;
    let _ = Group::join(
        &f.provider,
        GroupConfig::default(),
        welcome,
        JoinInput {
            key_package: kp,
            key_package_private: private,
            signer: id.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: Some(NOW),
        },
    );
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => process(f, rest),
        1 => {
            let _ = Group::from_bytes(&f.provider, rest);
        }
        _ => {
            // Flip bytes of a real message: rest = [which, (pos_hi, pos_lo, xor)*].
            let Some((&which, flips)) = rest.split_first() else {
                return;
            };
            let mut msg = f.messages[usize::from(which) % f.messages.len()].clone();
            for flip in flips.chunks_exact(3) {
                let pos = usize::from(u16::from_be_bytes([flip[0], flip[1]])) % msg.len();
                msg[pos] ^= flip[2];
            }
            process(f, &msg);
        }
    }
});
