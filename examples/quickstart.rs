//! What Tessera is for, in one run: a group is created, members join from
//! their KeyPackages, messages are exchanged end to end, a member is removed
//! and can no longer read, and the members compare a safety code.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```
//!
//! Every value that crosses "the network" here is a byte string; in an app a
//! delivery service (HTTP, WebSocket, a broker, ...) carries it. No setup, no
//! files: everything lives in memory.

use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use tessera::group::{
    CommitOptions, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions, KeyPackagePrivate,
    ProcessedMessage, generate_key_package,
};
use tessera::messages::{Add, Credential, KeyPackage, MlsMessage, Proposal, Remove};

/// The current time, in seconds since the Unix epoch: the app passes its clock in.
const NOW: u64 = 1_800_000_000;
const SUITE: CipherSuite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;

/// One device: a name, its identity and the group once it is in one.
struct Member {
    name: &'static str,
    identity: Identity,
    group: Option<Group>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = RustCryptoProvider::new();
    let cs = provider.cipher_suite_provider(SUITE)?;
    println!(
        "Tessera quick start: MLS (RFC 9420), cipher suite 0x0001 (X25519, AES-128-GCM, SHA-256, Ed25519)\n"
    );

    let mut members: Vec<Member> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|name| {
            Ok(Member {
                name,
                identity: Identity::generate(&*cs, Credential::basic(name))?,
                group: None,
            })
        })
        .collect::<Result<_, tessera::Error>>()?;

    // Bob and Carol publish KeyPackages (the bytes go to a directory server);
    // each keeps the private part.
    let mut published = Vec::new();
    for m in &members[1..] {
        let options = KeyPackageOptions::valid_for(NOW, 30 * 86400);
        let (kp, private) = generate_key_package(&*cs, &m.identity, options)?;
        let bytes = MlsMessage::KeyPackage(kp).to_bytes()?;
        println!(
            "{:>5} publishes a KeyPackage ({} bytes)",
            m.name,
            bytes.len()
        );
        published.push((bytes, private));
    }

    // Alice creates the group and adds both from their KeyPackage bytes in one commit.
    let mut alice = Group::create(
        &provider,
        GroupConfig::default(),
        SUITE,
        b"quickstart-team".to_vec(),
        &members[0].identity,
        KeyPackageOptions::valid_for(NOW, 30 * 86400),
        vec![],
    )?;
    println!(
        "alice creates group \"quickstart-team\" (epoch {})",
        alice.epoch()
    );
    let key_packages: Vec<KeyPackage> = published
        .iter()
        .map(|(bytes, _)| key_package(bytes))
        .collect::<Result<_, _>>()?;
    let adds = key_packages
        .iter()
        .map(|kp| {
            Proposal::Add(Add {
                key_package: kp.clone(),
            })
        })
        .collect();
    let out = alice.commit(
        CommitOptions {
            proposals: adds,
            ..Default::default()
        },
        &(),
        Some(NOW),
    )?;
    alice.merge_pending_commit()?; // the delivery service accepted the commit
    let welcome = out
        .welcome
        .ok_or("an Add commit carries a Welcome")?
        .to_bytes()?;
    println!(
        "alice adds bob and carol (epoch {}); Welcome: {} bytes",
        alice.epoch(),
        welcome.len()
    );
    members[0].group = Some(alice);

    // Bob and Carol join from the Welcome with their KeyPackage's private keys.
    for (m, (kp, (_, private))) in members[1..]
        .iter_mut()
        .zip(key_packages.iter().zip(&published))
    {
        m.group = Some(join(&provider, &welcome, kp, private, &m.identity)?);
        println!("{:>5} joins from the Welcome", m.name);
    }
    compare_safety_codes(&members);

    // Everyone sends one message; the others decrypt it.
    for i in 0..members.len() {
        let text = format!("hello from {}", members[i].name);
        let ciphertext = group(&mut members[i])?
            .encrypt_application(text.as_bytes(), b"")?
            .to_bytes()?;
        println!(
            "{:>5} sends {:?} ({} bytes on the wire)",
            members[i].name,
            text,
            ciphertext.len()
        );
        for j in (0..members.len()).filter(|&j| j != i) {
            let plaintext = receive(group(&mut members[j])?, &ciphertext)?;
            println!("{:>12} reads {:?}", members[j].name, plaintext);
        }
    }

    // Alice removes Carol: the commit rekeys the group. Bob follows it; Carol
    // learns she was removed.
    let carol_leaf = group(&mut members[2])?.own_leaf();
    let alice = group(&mut members[0])?;
    let remove = Proposal::Remove(Remove {
        removed: carol_leaf.0,
    });
    let out = alice.commit(
        CommitOptions {
            proposals: vec![remove],
            ..Default::default()
        },
        &(),
        Some(NOW),
    )?;
    alice.merge_pending_commit()?;
    let commit = out.commit.to_bytes()?;
    println!(
        "\nalice removes carol (epoch {}): a {}-byte commit",
        alice.epoch(),
        commit.len()
    );
    for m in &mut members[1..] {
        let name = m.name;
        let g = group(m)?;
        match g.process_message(&MlsMessage::decode_exact(&commit)?, &(), Some(NOW))? {
            // A removed member does not merge: the group is over for her
            // (her state stays at the old epoch, history still readable).
            ProcessedMessage::Commit(staged) if staged.summary().self_removed => {
                println!("{name:>5} processes the commit: she was removed");
            }
            ProcessedMessage::Commit(staged) => {
                g.merge_staged_commit(*staged)?;
                println!("{name:>5} processes the commit (epoch {})", g.epoch());
            }
            other => return Err(format!("{name} expected a commit, got {other:?}").into()),
        }
    }

    // Alice writes in the new epoch: Bob reads it, Carol cannot.
    let ciphertext = group(&mut members[0])?
        .encrypt_application(b"carol can't read this", b"")?
        .to_bytes()?;
    println!("alice sends \"carol can't read this\"");
    println!(
        "{:>12} reads {:?}",
        "bob",
        receive(group(&mut members[1])?, &ciphertext)?
    );
    match receive(group(&mut members[2])?, &ciphertext) {
        Ok(text) => return Err(format!("a removed member decrypted {text:?}").into()),
        Err(e) => println!("{:>12} cannot decrypt it: {e}", "carol"),
    }
    members.truncate(2);
    println!();
    compare_safety_codes(&members);
    println!("\ndone: every member agreed, and the removed member was locked out.");
    Ok(())
}

/// Decodes a published KeyPackage.
fn key_package(bytes: &[u8]) -> Result<KeyPackage, Box<dyn std::error::Error>> {
    match MlsMessage::decode_exact(bytes)? {
        MlsMessage::KeyPackage(kp) => Ok(kp),
        _ => Err("not a KeyPackage".into()),
    }
}

/// Joins a group from Welcome bytes (the ratchet tree is inside the Welcome).
fn join(
    provider: &RustCryptoProvider,
    welcome: &[u8],
    key_package: &KeyPackage,
    private: &KeyPackagePrivate,
    identity: &Identity,
) -> Result<Group, Box<dyn std::error::Error>> {
    let MlsMessage::Welcome(welcome) = MlsMessage::decode_exact(welcome)? else {
        return Err("not a Welcome".into());
    };
    let input = JoinInput {
        key_package,
        key_package_private: private,
        signer: identity.signer().clone(),
        ratchet_tree: None,
        psk_store: &(),
        now: Some(NOW),
    };
    Ok(Group::join(
        provider,
        GroupConfig::default(),
        &welcome,
        input,
    )?)
}

/// Decrypts an application message and returns its text.
fn receive(group: &mut Group, bytes: &[u8]) -> Result<String, Box<dyn std::error::Error>> {
    match group.process_message(&MlsMessage::decode_exact(bytes)?, &(), Some(NOW))? {
        ProcessedMessage::Application { data, .. } => {
            Ok(String::from_utf8_lossy(&data).into_owned())
        }
        other => Err(format!("expected an application message, got {other:?}").into()),
    }
}

fn group(m: &mut Member) -> Result<&mut Group, Box<dyn std::error::Error>> {
    m.group
        .as_mut()
        .ok_or_else(|| format!("{} is not in a group", m.name).into())
}

/// Each member shows a safety code derived from the epoch authenticator
/// (RFC 9420 §8.7); they compare them out of band, like Signal's safety numbers.
fn compare_safety_codes(members: &[Member]) {
    let mut codes = Vec::new();
    for m in members {
        let Some(g) = &m.group else { continue };
        // Four groups of five digits, each from five bytes of the authenticator.
        let code: Vec<String> = g.epoch_authenticator().as_bytes()[..20]
            .chunks(5)
            .map(|c| c.iter().fold(0u64, |n, b| n << 8 | u64::from(*b)) % 100_000)
            .map(|n| format!("{n:05}"))
            .collect();
        let code = code.join(" ");
        println!("{:>5} epoch {} safety code: {code}", m.name, g.epoch());
        codes.push(code);
    }
    let agree = codes.windows(2).all(|w| w[0] == w[1]);
    println!(
        "safety codes {}",
        if agree {
            "match"
        } else {
            "DIFFER: the group forked!"
        }
    );
}
