//! mls-rs 0.57 with mls-rs-crypto-rustcrypto (in-memory storage), as
//! benches/compare drives it, with default features (RFC-compliant: by-ref
//! proposals, PSKs, private messages).
//!
//! - Wire format: `EncryptionOptions::new(encrypt_control_messages, PaddingMode::None)`.
//! - Whether Welcomes carry the ratchet tree: `CommitOptions::ratchet_tree_extension`,
//!   read from shared rules on every commit, so it can change per commit.
//! - ReInit: `CommitBuilder::reinit` / `Group::propose_reinit`, then
//!   `Group::get_reinit_client` and `ReinitClient::{generate_key_package, commit, join}`;
//!   branch: `Group::branch` and `Group::join_subgroup`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use mls_rs::client_builder::{
    BaseConfig, PaddingMode, WithCryptoProvider, WithIdentityProvider, WithMlsRules,
};
use mls_rs::group::{CommitEffect, ExportedTree, ReceivedMessage, ReinitClient, Roster};
use mls_rs::identity::SigningIdentity;
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::mls_rules::{
    CommitDirection, CommitOptions, CommitSource, EncryptionOptions, ProposalBundle,
};
use mls_rs::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, ExtensionList, MlsMessage, MlsRules,
    ProtocolVersion,
};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;

use crate::harness::{
    Client, CommitOut, EXPORTER_CONTEXT, EXPORTER_LABEL, Impl, Member, R, Received, Reiniting,
    Resumption, Wire,
};

pub fn client(name: &str, suite: u16, wire: Wire) -> Box<dyn Client> {
    Box::new(MClient::new(name, suite, wire))
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("mls-rs: {e:?}")
}

fn msg(bytes: &[u8]) -> R<MlsMessage> {
    MlsMessage::from_bytes(bytes).map_err(err)
}

fn out(m: &MlsMessage) -> Vec<u8> {
    m.to_bytes().expect("serialize")
}

fn tree(bytes: Option<&[u8]>) -> R<Option<ExportedTree<'static>>> {
    bytes
        .map(|b| ExportedTree::from_bytes(b).map_err(err))
        .transpose()
}

/// MLS rules whose options the test changes between commits.
#[derive(Clone, Debug)]
struct Rules(Arc<Mutex<(CommitOptions, EncryptionOptions)>>);

impl MlsRules for Rules {
    type Error = Infallible;

    fn filter_proposals(
        &self,
        _: CommitDirection,
        _: CommitSource,
        _: &Roster,
        _: &mls_rs::group::GroupContext,
        proposals: ProposalBundle,
    ) -> Result<ProposalBundle, Infallible> {
        Ok(proposals)
    }

    fn commit_options(
        &self,
        _: &Roster,
        _: &mls_rs::group::GroupContext,
        _: &ProposalBundle,
    ) -> Result<CommitOptions, Infallible> {
        Ok(self.0.lock().expect("rules").0)
    }

    fn encryption_options(
        &self,
        _: &Roster,
        _: &mls_rs::group::GroupContext,
    ) -> Result<EncryptionOptions, Infallible> {
        Ok(self.0.lock().expect("rules").1)
    }
}

type Config = WithMlsRules<
    Rules,
    WithIdentityProvider<BasicIdentityProvider, WithCryptoProvider<RustCryptoProvider, BaseConfig>>,
>;

struct MClient {
    name: String,
    rules: Rules,
    client: mls_rs::Client<Config>,
}

impl MClient {
    fn new(name: &str, suite: u16, wire: Wire) -> Self {
        let suite = CipherSuite::from(suite);
        let crypto = RustCryptoProvider::default();
        let cs = crypto.cipher_suite_provider(suite).expect("suite");
        let (secret, public) = cs.signature_key_generate().expect("signature key");
        let identity = SigningIdentity::new(
            BasicCredential::new(name.as_bytes().to_vec()).into_credential(),
            public,
        );
        let rules = Rules(Arc::new(Mutex::new((
            CommitOptions::new().with_ratchet_tree_extension(true),
            EncryptionOptions::new(wire == Wire::Private, PaddingMode::None),
        ))));
        let client = mls_rs::Client::builder()
            .crypto_provider(crypto)
            .identity_provider(BasicIdentityProvider)
            .mls_rules(rules.clone())
            .signing_identity(identity, secret, suite)
            .build();
        Self {
            name: name.to_string(),
            rules,
            client,
        }
    }

    fn new_key_package(&self) -> Vec<u8> {
        out(&self
            .client
            .generate_key_package_message(ExtensionList::default(), ExtensionList::default(), None)
            .expect("KeyPackage"))
    }
}

impl Client for MClient {
    fn implementation(&self) -> Impl {
        Impl::MlsRs
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn key_package(&mut self) -> Vec<u8> {
        self.new_key_package()
    }

    fn create(self: Box<Self>, group_id: &[u8]) -> Box<dyn Member> {
        let group = self
            .client
            .create_group_with_id(
                group_id.to_vec(),
                ExtensionList::default(),
                ExtensionList::default(),
                None,
            )
            .expect("create");
        Box::new(MMember {
            client: *self,
            group,
        })
    }

    fn join(self: Box<Self>, welcome: &[u8], tree_bytes: Option<&[u8]>) -> R<Box<dyn Member>> {
        let (group, _) = self
            .client
            .join_group(tree(tree_bytes)?, &msg(welcome)?, None)
            .map_err(err)?;
        Ok(Box::new(MMember {
            client: *self,
            group,
        }))
    }

    fn join_external(
        self: Box<Self>,
        group_info: &[u8],
        tree_bytes: Option<&[u8]>,
    ) -> R<(Box<dyn Member>, Vec<u8>)> {
        let mut builder = self.client.external_commit_builder().map_err(err)?;
        if let Some(t) = tree(tree_bytes)? {
            builder = builder.with_tree_data(t);
        }
        let (group, commit) = builder.build(msg(group_info)?).map_err(err)?;
        Ok((
            Box::new(MMember {
                client: *self,
                group,
            }),
            out(&commit),
        ))
    }
}

struct MMember {
    client: MClient,
    group: mls_rs::Group<Config>,
}

impl MMember {
    fn finish(&mut self, output: mls_rs::group::CommitOutput) -> R<CommitOut> {
        self.group.apply_pending_commit().map_err(err)?;
        Ok(CommitOut {
            commit: out(&output.commit_message),
            welcome: output.welcome_messages.first().map(out),
            tree: output
                .ratchet_tree
                .as_ref()
                .map(|t| t.to_bytes().expect("serialize")),
        })
    }
}

impl Member for MMember {
    fn implementation(&self) -> Impl {
        Impl::MlsRs
    }

    fn name(&self) -> &str {
        &self.client.name
    }

    fn epoch(&self) -> u64 {
        self.group.current_epoch()
    }

    fn epoch_authenticator(&self) -> Vec<u8> {
        self.group
            .epoch_authenticator()
            .expect("epoch authenticator")
            .as_bytes()
            .to_vec()
    }

    fn exporter(&self) -> Vec<u8> {
        self.group
            .export_secret(EXPORTER_LABEL.as_bytes(), EXPORTER_CONTEXT, 32)
            .expect("exporter")
            .as_bytes()
            .to_vec()
    }

    fn own_leaf(&self) -> u32 {
        self.group.current_member_index()
    }

    fn roster(&self) -> Vec<(u32, Vec<u8>)> {
        self.group
            .roster()
            .members_iter()
            .map(|m| {
                let id = m
                    .signing_identity
                    .credential
                    .as_basic()
                    .expect("basic credential")
                    .identifier()
                    .to_vec();
                (m.index, id)
            })
            .collect()
    }

    fn set_tree_in_welcome(&mut self, on: bool) {
        let mut rules = self.client.rules.0.lock().expect("rules");
        rules.0 = rules.0.with_ratchet_tree_extension(on);
    }

    fn key_package(&mut self) -> Vec<u8> {
        self.client.new_key_package()
    }

    fn add(&mut self, key_packages: &[Vec<u8>]) -> R<CommitOut> {
        let mut builder = self.group.commit_builder();
        for kp in key_packages {
            builder = builder.add_member(msg(kp)?).map_err(err)?;
        }
        let output = builder.build().map_err(err)?;
        self.finish(output)
    }

    fn update(&mut self) -> R<Vec<u8>> {
        // An empty commit carries a path (RFC 9420 §12.4).
        let output = self.group.commit(Vec::new()).map_err(err)?;
        Ok(self.finish(output)?.commit)
    }

    fn remove(&mut self, leaves: &[u32]) -> R<Vec<u8>> {
        let mut builder = self.group.commit_builder();
        for &leaf in leaves {
            builder = builder.remove_member(leaf).map_err(err)?;
        }
        let output = builder.build().map_err(err)?;
        Ok(self.finish(output)?.commit)
    }

    fn propose_add(&mut self, key_package: &[u8]) -> R<Vec<u8>> {
        Ok(out(&self
            .group
            .propose_add(msg(key_package)?, Vec::new())
            .map_err(err)?))
    }

    fn propose_remove(&mut self, leaf: u32) -> R<Vec<u8>> {
        Ok(out(&self
            .group
            .propose_remove(leaf, Vec::new())
            .map_err(err)?))
    }

    fn propose_update(&mut self) -> R<Vec<u8>> {
        Ok(out(&self.group.propose_update(Vec::new()).map_err(err)?))
    }

    fn commit_pending(&mut self) -> R<CommitOut> {
        let output = self.group.commit(Vec::new()).map_err(err)?;
        self.finish(output)
    }

    fn process(&mut self, message: &[u8]) -> R<Received> {
        match self
            .group
            .process_incoming_message(msg(message)?)
            .map_err(err)?
        {
            ReceivedMessage::ApplicationMessage(a) => Ok(Received::Application(a.data().to_vec())),
            ReceivedMessage::Proposal(_) => Ok(Received::Proposal),
            ReceivedMessage::Commit(c) => Ok(match c.effect {
                CommitEffect::Removed { .. } => Received::Removed,
                _ => Received::Commit,
            }),
            _ => Err("mls-rs: unexpected message".into()),
        }
    }

    fn encrypt(&mut self, data: &[u8]) -> R<Vec<u8>> {
        Ok(out(&self
            .group
            .encrypt_application_message(data, Vec::new())
            .map_err(err)?))
    }

    fn group_info(&mut self, with_tree: bool) -> R<Vec<u8>> {
        Ok(out(&self
            .group
            .group_info_message_allowing_ext_commit(with_tree)
            .map_err(err)?))
    }

    fn ratchet_tree(&self) -> Vec<u8> {
        self.group.export_tree().to_bytes().expect("serialize")
    }

    fn resumption(&mut self) -> Option<&mut dyn Resumption> {
        Some(self)
    }

    fn into_reinit(self: Box<Self>, new_suite: u16) -> R<Box<dyn Reiniting>> {
        // A new signature key in the new suite, with the same credential.
        let suite = CipherSuite::from(new_suite);
        let crypto = RustCryptoProvider::default();
        let cs = crypto.cipher_suite_provider(suite).ok_or("mls-rs: suite")?;
        let (secret, public) = cs.signature_key_generate().map_err(err)?;
        let identity = SigningIdentity::new(
            BasicCredential::new(self.client.name.as_bytes().to_vec()).into_credential(),
            public,
        );
        let name = self.client.name.clone();
        let reinit = self
            .group
            .get_reinit_client(Some(secret), Some(identity))
            .map_err(err)?;
        Ok(Box::new(MReinit {
            name,
            rules: self.client.rules,
            client: reinit,
        }))
    }
}

impl Resumption for MMember {
    fn propose_reinit(&mut self, group_id: &[u8], suite: u16) -> R<Vec<u8>> {
        Ok(out(&self
            .group
            .propose_reinit(
                Some(group_id.to_vec()),
                ProtocolVersion::MLS_10,
                CipherSuite::from(suite),
                ExtensionList::default(),
                Vec::new(),
            )
            .map_err(err)?))
    }

    fn commit_reinit(&mut self, group_id: &[u8], suite: u16) -> R<Vec<u8>> {
        let output = self
            .group
            .commit_builder()
            .reinit(
                Some(group_id.to_vec()),
                ProtocolVersion::MLS_10,
                CipherSuite::from(suite),
                ExtensionList::default(),
            )
            .map_err(err)?
            .build()
            .map_err(err)?;
        Ok(self.finish(output)?.commit)
    }

    fn refuses_to_send(&mut self) -> bool {
        self.group.commit(Vec::new()).is_err()
    }

    fn branch(
        &mut self,
        group_id: &[u8],
        key_packages: &[Vec<u8>],
    ) -> R<(Box<dyn Member>, Vec<u8>)> {
        let kps = key_packages
            .iter()
            .map(|kp| msg(kp))
            .collect::<R<Vec<_>>>()?;
        let (group, welcomes) = self
            .group
            .branch(group_id.to_vec(), kps, None)
            .map_err(err)?;
        let welcome = out(welcomes.first().ok_or("mls-rs: no Welcome")?);
        Ok((Box::new(self.sibling(group)), welcome))
    }

    fn join_branch(&mut self, welcome: &[u8]) -> R<Box<dyn Member>> {
        let (group, _) = self
            .group
            .join_subgroup(&msg(welcome)?, None, None)
            .map_err(err)?;
        Ok(Box::new(self.sibling(group)))
    }
}

impl MMember {
    /// A member of another group of the same client.
    fn sibling(&self, group: mls_rs::Group<Config>) -> MMember {
        MMember {
            client: MClient {
                name: self.client.name.clone(),
                rules: self.client.rules.clone(),
                client: self.client.client.clone(),
            },
            group,
        }
    }
}

/// An mls-rs member after a ReInit.
struct MReinit {
    name: String,
    rules: Rules,
    client: ReinitClient<Config>,
}

impl MReinit {
    fn member(name: String, rules: Rules, group: mls_rs::Group<Config>) -> Box<dyn Member> {
        // The Client of the new group is only used for fresh KeyPackages,
        // which the harness does not ask of a reinitialized member.
        let client = mls_rs::Client::builder()
            .crypto_provider(RustCryptoProvider::default())
            .identity_provider(BasicIdentityProvider)
            .mls_rules(rules.clone())
            .build();
        Box::new(MMember {
            client: MClient {
                name,
                rules,
                client,
            },
            group,
        })
    }
}

impl Reiniting for MReinit {
    fn key_package(&mut self) -> Vec<u8> {
        out(&self.client.generate_key_package(None).expect("KeyPackage"))
    }

    fn create(self: Box<Self>, key_packages: &[Vec<u8>]) -> R<(Box<dyn Member>, Vec<u8>)> {
        let kps = key_packages
            .iter()
            .map(|kp| msg(kp))
            .collect::<R<Vec<_>>>()?;
        let (group, welcomes) = self
            .client
            .commit(kps, ExtensionList::default(), None)
            .map_err(err)?;
        let welcome = out(welcomes.first().ok_or("mls-rs: no Welcome")?);
        Ok((Self::member(self.name, self.rules, group), welcome))
    }

    fn join(self: Box<Self>, welcome: &[u8]) -> R<Box<dyn Member>> {
        let (group, _) = self.client.join(&msg(welcome)?, None, None).map_err(err)?;
        Ok(Self::member(self.name, self.rules, group))
    }
}
