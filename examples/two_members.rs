//! Alice and Bob: create a group, add a member, exchange messages, rekey.
//!
//! Every value that crosses "the network" here is bytes; in an app a
//! delivery service (HTTP, WebSocket, a broker, ...) carries them.
//!
//! ```text
//! cargo run --example two_members
//! ```

use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use tessera::group::{
    CommitOptions, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions, ProcessedMessage,
    generate_key_package,
};
use tessera::messages::{Add, Credential, MlsMessage, Proposal};

fn main() -> Result<(), tessera::Error> {
    let now = 1_800_000_000; // seconds since the Unix epoch; the app passes its clock in
    let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    let provider = RustCryptoProvider::new();
    let cs = provider.cipher_suite_provider(suite)?;

    // Each client has an identity (credential + signature key pair).
    let alice_id = Identity::generate(&*cs, Credential::basic("alice"))?;
    let bob_id = Identity::generate(&*cs, Credential::basic("bob"))?;

    // Bob publishes a KeyPackage and keeps its private keys.
    let (bob_kp, bob_kp_private) =
        generate_key_package(&*cs, &bob_id, KeyPackageOptions::valid_for(now, 30 * 86400))?;
    let bob_kp_bytes = MlsMessage::KeyPackage(bob_kp).to_bytes()?;

    // Alice creates the group and adds Bob in one commit.
    let options = KeyPackageOptions::valid_for(now, 30 * 86400);
    let mut alice = Group::create(
        &provider,
        GroupConfig::default(),
        suite,
        b"team".to_vec(),
        &alice_id,
        options,
        vec![],
    )?;
    let MlsMessage::KeyPackage(kp) = MlsMessage::decode_exact(&bob_kp_bytes)? else {
        unreachable!("Bob sent a KeyPackage");
    };
    let add = Proposal::Add(Add {
        key_package: kp.clone(),
    });
    let out = alice.commit(
        CommitOptions {
            proposals: vec![add],
            ..Default::default()
        },
        &(),
        Some(now),
    )?;
    // Once the delivery service accepted the commit, Alice merges it.
    alice.merge_pending_commit()?;
    let welcome_bytes = out.welcome.expect("Bob was added").to_bytes()?;

    // Bob joins from the Welcome.
    let MlsMessage::Welcome(welcome) = MlsMessage::decode_exact(&welcome_bytes)? else {
        unreachable!("Alice sent a Welcome");
    };
    let mut bob = Group::join(
        &provider,
        GroupConfig::default(),
        &welcome,
        JoinInput {
            key_package: &kp,
            key_package_private: &bob_kp_private,
            signer: bob_id.signer().clone(),
            ratchet_tree: None, // it is inside the Welcome
            psk_store: &(),
            now: Some(now),
        },
    )?;
    assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());

    // Application messages are always encrypted.
    let ciphertext = alice.encrypt_application(b"hello Bob", b"")?.to_bytes()?;
    if let ProcessedMessage::Application { data, .. } =
        bob.process_message(&MlsMessage::decode_exact(&ciphertext)?, &(), Some(now))?
    {
        println!("Bob reads: {}", String::from_utf8_lossy(&data));
    }

    // Bob rekeys the group (a commit with a fresh path); Alice follows.
    let out = bob.commit(
        CommitOptions {
            force_path: true,
            ..Default::default()
        },
        &(),
        Some(now),
    )?;
    bob.merge_pending_commit()?;
    if let ProcessedMessage::Commit(staged) = alice.process_message(&out.commit, &(), Some(now))? {
        alice.merge_staged_commit(*staged)?;
    }
    assert_eq!(alice.epoch(), 2);
    assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());
    println!("both members are in epoch {}", alice.epoch());
    Ok(())
}
