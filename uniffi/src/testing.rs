//! Test-only exports (feature `testing`, which `run-tests.sh` enables and
//! apps never do): deliberate panics to show none crosses the boundary, and
//! the Rust side of the 1 KiB timing comparison.

#![allow(clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite as CoreSuite, CryptoProvider, RustCryptoProvider};
use tessera::group::{
    CommitOptions, Group, GroupConfig, Identity as CoreIdentity, JoinInput, KeyPackageOptions,
    ProcessedMessage, generate_key_package,
};
use tessera::messages::{Add, MlsMessage, Proposal};

use crate::client::MlsClient;
use crate::error::{TesseraError, guard};
use crate::events::Event;
use crate::group::MlsGroup;
use crate::identity::Identity;
use crate::types::{CipherSuite, Credential, Received};
use crate::validator::{CredentialCheck, CredentialValidator, CredentialVerdict};

/// Panics inside the bindings' guard: the caller gets `TesseraError.Internal`.
#[uniffi::export]
pub fn testing_panic(message: String) -> Result<(), TesseraError> {
    guard(|| panic!("{message}"))
}

/// Panics with no guard of ours: UniFFI's scaffolding catches it and the
/// caller gets UniFFI's generic internal exception (Kotlin
/// `InternalException`, Python `InternalError`), not a crash.
#[uniffi::export]
pub fn testing_panic_unguarded(message: String) -> Result<(), TesseraError> {
    panic!("{message}")
}

/// Panics while `group` is locked: this call fails with `Internal`, and
/// every later call on `group` fails with `Internal` too (its state may be
/// half updated), instead of using it.
#[uniffi::export]
pub fn testing_panic_inside(group: Arc<MlsGroup>) -> Result<(), TesseraError> {
    group.with_state(|_| panic!("deliberate panic while the group is locked"))
}

/// Median cost of one call, in nanoseconds, measured in Rust.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RustTiming {
    /// Payload size.
    pub payload_bytes: u32,
    /// Messages encrypted and decrypted.
    pub iterations: u32,
    /// `Group::encrypt_application` + `to_bytes` (the core, directly).
    pub core_encrypt_ns: u64,
    /// `MlsMessage::decode_exact` + `Group::process_message` (the core).
    pub core_decrypt_ns: u64,
    /// `MlsGroup::encrypt` called from Rust (the adapter, without FFI).
    pub adapter_encrypt_ns: u64,
    /// `MlsGroup::process` called from Rust (the adapter, without FFI).
    pub adapter_decrypt_ns: u64,
}

/// Measures encrypt and decrypt of `payload_bytes` between two members,
/// `iterations` times each, through the core and through the adapter, in
/// Rust, in this process: the figures the foreign timings are printed
/// beside. Medians, after a warm-up of a tenth of the iterations.
#[uniffi::export]
pub fn testing_rust_timing(
    iterations: u32,
    payload_bytes: u32,
) -> Result<RustTiming, TesseraError> {
    guard(|| {
        if iterations == 0 {
            return Err(TesseraError::api("iterations must be positive"));
        }
        let payload = vec![0x5a; payload_bytes as usize];
        let (core_encrypt_ns, core_decrypt_ns) = core_timing(iterations, &payload)?;
        let (adapter_encrypt_ns, adapter_decrypt_ns) = adapter_timing(iterations, &payload)?;
        Ok(RustTiming {
            payload_bytes,
            iterations,
            core_encrypt_ns,
            core_decrypt_ns,
            adapter_encrypt_ns,
            adapter_decrypt_ns,
        })
    })
}

const SUITE: CoreSuite = CoreSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;

fn core_timing(iterations: u32, payload: &[u8]) -> Result<(u64, u64), TesseraError> {
    let provider = RustCryptoProvider::new();
    let cs = provider.cipher_suite_provider(SUITE)?;
    let now = crate::now()?;
    let alice_id = CoreIdentity::generate(&*cs, tessera::messages::Credential::basic("alice"))?;
    let bob_id = CoreIdentity::generate(&*cs, tessera::messages::Credential::basic("bob"))?;
    let (kp, private) =
        generate_key_package(&*cs, &bob_id, KeyPackageOptions::valid_for(now, 3600))?;
    let mut alice = Group::create(
        &provider,
        GroupConfig::default(),
        SUITE,
        b"timing".to_vec(),
        &alice_id,
        KeyPackageOptions::valid_for(now, 3600),
        vec![],
    )?;
    let out = alice.commit(
        CommitOptions {
            proposals: vec![Proposal::Add(Add {
                key_package: kp.clone(),
            })],
            ..Default::default()
        },
        &(),
        Some(now),
    )?;
    alice.merge_pending_commit()?;
    let Some(MlsMessage::Welcome(welcome)) = out.welcome else {
        return Err(TesseraError::internal("an Add commit without a Welcome"));
    };
    let mut bob = Group::join(
        &provider,
        GroupConfig::default(),
        &welcome,
        JoinInput {
            key_package: &kp,
            key_package_private: &private,
            signer: bob_id.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: None,
        },
    )?;
    measure(
        iterations,
        || Ok(alice.encrypt_application(payload, b"")?.to_bytes()?),
        |bytes| match bob.process_message(&MlsMessage::decode_exact(&bytes)?, &(), None)? {
            ProcessedMessage::Application { data, .. } if data == payload => Ok(()),
            other => Err(TesseraError::internal(format!("unexpected {other:?}"))),
        },
    )
}

struct AcceptAll;

impl CredentialValidator for AcceptAll {
    fn validate(&self, _check: CredentialCheck) -> Result<CredentialVerdict, TesseraError> {
        Ok(CredentialVerdict::Accept)
    }

    fn same_participant(&self, old: Credential, new: Credential) -> Result<bool, TesseraError> {
        Ok(old == new)
    }
}

fn adapter_timing(iterations: u32, payload: &[u8]) -> Result<(u64, u64), TesseraError> {
    let suite = CipherSuite::Mls128Dhkemx25519Aes128gcmSha256Ed25519;
    let basic = |name: &str| Credential::Basic {
        identity: name.as_bytes().to_vec(),
    };
    let validator: Arc<dyn CredentialValidator> = Arc::new(AcceptAll);
    let alice_id = Identity::new(basic("alice"), suite)?;
    let bob_id = Identity::new(basic("bob"), suite)?;
    let kp = bob_id.generate_key_package(3600)?;
    let alice = MlsGroup::create(alice_id, b"timing".to_vec(), validator.clone())?;
    let bundle = alice.add_members(vec![kp.key_package()])?;
    alice.merge_pending_commit()?;
    let welcome = bundle
        .welcome
        .ok_or_else(|| TesseraError::internal("an Add commit without a Welcome"))?;
    let bob = MlsGroup::join(bob_id, kp, welcome, validator)?;
    measure(
        iterations,
        || alice.encrypt(payload.to_vec()),
        |bytes| match bob.process(bytes)? {
            Received::Application { data, .. } if data == payload => Ok(()),
            other => Err(TesseraError::internal(format!("unexpected {other:?}"))),
        },
    )
}

/// Median cost of one call, in nanoseconds, measured in Rust, with each
/// client on its own SQLite store (the default settings) in `dir`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RustClientTiming {
    /// Payload size.
    pub payload_bytes: u32,
    /// Messages encrypted and decrypted.
    pub iterations: u32,
    /// `tessera::client::Client::encrypt` (the core, directly).
    pub core_encrypt_ns: u64,
    /// `tessera::client::Client::process` (the core, directly).
    pub core_decrypt_ns: u64,
    /// `ClientGroup::encrypt` called from Rust (the adapter, without FFI).
    pub adapter_encrypt_ns: u64,
    /// `MlsClient::process` called from Rust (the adapter, without FFI).
    pub adapter_decrypt_ns: u64,
}

/// Measures encrypt and decrypt of `payload_bytes` between two Clients,
/// each on its own SQLite database in the directory `dir`, `iterations`
/// times each, through the core and through the adapter, in Rust, in this
/// process: the figures the foreign timings of `MlsClient` are printed
/// beside. Medians, after a warm-up of a tenth of the iterations.
#[uniffi::export]
pub fn testing_rust_client_timing(
    dir: String,
    iterations: u32,
    payload_bytes: u32,
) -> Result<RustClientTiming, TesseraError> {
    guard(|| {
        if iterations == 0 {
            return Err(TesseraError::api("iterations must be positive"));
        }
        let payload = vec![0x5a; payload_bytes as usize];
        let dir = std::path::Path::new(&dir);
        let (core_encrypt_ns, core_decrypt_ns) = core_client_timing(dir, iterations, &payload)?;
        let (adapter_encrypt_ns, adapter_decrypt_ns) =
            adapter_client_timing(dir, iterations, &payload)?;
        Ok(RustClientTiming {
            payload_bytes,
            iterations,
            core_encrypt_ns,
            core_decrypt_ns,
            adapter_encrypt_ns,
            adapter_decrypt_ns,
        })
    })
}

fn core_client_timing(
    dir: &std::path::Path,
    iterations: u32,
    payload: &[u8],
) -> Result<(u64, u64), TesseraError> {
    use tessera::client::Client;
    use tessera::storage::{SqliteStore, StoreKey};
    let key = StoreKey::generate()?;
    let store = |name: &str| SqliteStore::open(dir.join(name), &key);
    let alice = Client::create(
        tessera::messages::Credential::basic("alice"),
        store("rust-core-alice.db")?,
    )?;
    let bob = Client::create(
        tessera::messages::Credential::basic("bob"),
        store("rust-core-bob.db")?,
    )?;
    let kp = bob.generate_key_packages(1)?;
    let group = alice.create_group("timing")?;
    let added = alice.add(&group, &kp)?;
    alice.confirm_commit(&group)?;
    bob.join(&added.welcome)?;
    measure(
        iterations,
        || Ok(alice.encrypt(&group, payload)?),
        |bytes| match bob.process(&bytes)?.data() {
            Some(data) if data == payload => Ok(()),
            other => Err(TesseraError::internal(format!("unexpected {other:?}"))),
        },
    )
}

fn adapter_client_timing(
    dir: &std::path::Path,
    iterations: u32,
    payload: &[u8],
) -> Result<(u64, u64), TesseraError> {
    let key = crate::generate_store_key()?;
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let basic = |name: &str| Credential::Basic {
        identity: name.as_bytes().to_vec(),
    };
    let validator: Arc<dyn CredentialValidator> = Arc::new(AcceptAll);
    let alice = MlsClient::create(
        path("rust-adapter-alice.db"),
        key.clone(),
        basic("alice"),
        validator.clone(),
        None,
        None,
        None,
    )?;
    let bob = MlsClient::create(
        path("rust-adapter-bob.db"),
        key,
        basic("bob"),
        validator,
        None,
        None,
        None,
    )?;
    let kp = bob.generate_key_packages(1)?;
    let group = alice.create_group(b"timing".to_vec())?;
    let added = group.add(kp)?;
    group.confirm_commit()?;
    let welcome = added
        .welcome
        .ok_or_else(|| TesseraError::internal("an Add commit without a Welcome"))?;
    bob.clone().join(welcome)?;
    measure(
        iterations,
        || group.encrypt(payload.to_vec()),
        |bytes| match bob.process(bytes)?.as_slice() {
            [Event::Application { data, .. }] if data == payload => Ok(()),
            other => Err(TesseraError::internal(format!("unexpected {other:?}"))),
        },
    )
}

/// Median nanoseconds of `encrypt` and of `decrypt`, each timed alone.
fn measure(
    iterations: u32,
    mut encrypt: impl FnMut() -> Result<Vec<u8>, TesseraError>,
    mut decrypt: impl FnMut(Vec<u8>) -> Result<(), TesseraError>,
) -> Result<(u64, u64), TesseraError> {
    for _ in 0..iterations / 10 {
        decrypt(encrypt()?)?;
    }
    let mut enc = Vec::with_capacity(iterations as usize);
    let mut dec = Vec::with_capacity(iterations as usize);
    for _ in 0..iterations {
        let t0 = Instant::now();
        let bytes = encrypt()?;
        let t1 = Instant::now();
        decrypt(bytes)?;
        let t2 = Instant::now();
        enc.push(nanos(t1 - t0));
        dec.push(nanos(t2 - t1));
    }
    Ok((median(enc), median(dec)))
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}
