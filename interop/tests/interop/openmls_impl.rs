//! openmls 0.9 with openmls_rust_crypto (RustCrypto primitives, in-memory
//! storage), as benches/compare drives it.
//!
//! - Wire format: `PURE_PLAINTEXT_WIRE_FORMAT_POLICY` or
//!   `PURE_CIPHERTEXT_WIRE_FORMAT_POLICY` (handshakes as PublicMessage or
//!   PrivateMessage; openmls then refuses handshakes in the other format,
//!   except external commits).
//! - Whether Welcomes carry the ratchet tree is group configuration
//!   (`use_ratchet_tree_extension`), changed with `set_configuration`.
//! - openmls has no ReInit or branch API.

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;

use crate::harness::{
    Client, CommitOut, EXPORTER_CONTEXT, EXPORTER_LABEL, Impl, Member, R, Received, Wire,
};

pub fn client(name: &str, suite: u16, wire: Wire) -> Box<dyn Client> {
    Box::new(OClient::new(name, suite, wire))
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("openmls: {e:?}")
}

fn parse(bytes: &[u8]) -> R<MlsMessageBodyIn> {
    Ok(MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(err)?
        .extract())
}

fn out(m: &MlsMessageOut) -> Vec<u8> {
    m.to_bytes().expect("serialize")
}

fn tree_in(bytes: Option<&[u8]>) -> R<Option<RatchetTreeIn>> {
    bytes
        .map(|b| RatchetTreeIn::tls_deserialize_exact(b).map_err(err))
        .transpose()
}

struct OClient {
    name: String,
    suite: Ciphersuite,
    wire: Wire,
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
}

impl OClient {
    fn new(name: &str, suite: u16, wire: Wire) -> Self {
        let suite = Ciphersuite::try_from(suite).expect("suite");
        let signer = SignatureKeyPair::new(suite.signature_algorithm()).expect("signature key");
        let credential = CredentialWithKey {
            credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
            signature_key: signer.to_public_vec().into(),
        };
        Self {
            name: name.to_string(),
            suite,
            wire,
            provider: OpenMlsRustCrypto::default(),
            signer,
            credential,
        }
    }

    fn policy(&self) -> WireFormatPolicy {
        match self.wire {
            Wire::Public => PURE_PLAINTEXT_WIRE_FORMAT_POLICY,
            Wire::Private => PURE_CIPHERTEXT_WIRE_FORMAT_POLICY,
        }
    }

    fn join_config(&self, tree_in_welcome: bool) -> MlsGroupJoinConfig {
        MlsGroupJoinConfig::builder()
            .wire_format_policy(self.policy())
            .use_ratchet_tree_extension(tree_in_welcome)
            .build()
    }

    fn new_key_package(&mut self) -> Vec<u8> {
        let bundle = KeyPackage::builder()
            .build(
                self.suite,
                &self.provider,
                &self.signer,
                self.credential.clone(),
            )
            .expect("KeyPackage");
        out(&MlsMessageOut::from(bundle.key_package().clone()))
    }
}

impl Client for OClient {
    fn implementation(&self) -> Impl {
        Impl::OpenMls
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn key_package(&mut self) -> Vec<u8> {
        self.new_key_package()
    }

    fn create(self: Box<Self>, group_id: &[u8]) -> Box<dyn Member> {
        let config = MlsGroupCreateConfig::builder()
            .ciphersuite(self.suite)
            .wire_format_policy(self.policy())
            .use_ratchet_tree_extension(true)
            .build();
        let group = MlsGroup::new_with_group_id(
            &self.provider,
            &self.signer,
            &config,
            GroupId::from_slice(group_id),
            self.credential.clone(),
        )
        .expect("create");
        Box::new(OMember {
            client: *self,
            group,
            tree_in_welcome: true,
        })
    }

    fn join(self: Box<Self>, welcome: &[u8], tree: Option<&[u8]>) -> R<Box<dyn Member>> {
        let MlsMessageBodyIn::Welcome(welcome) = parse(welcome)? else {
            return Err("openmls: not a Welcome".into());
        };
        let group = StagedWelcome::new_from_welcome(
            &self.provider,
            &self.join_config(true),
            welcome,
            tree_in(tree)?,
        )
        .map_err(err)?
        .into_group(&self.provider)
        .map_err(err)?;
        Ok(Box::new(OMember {
            client: *self,
            group,
            tree_in_welcome: true,
        }))
    }

    fn join_external(
        self: Box<Self>,
        group_info: &[u8],
        tree: Option<&[u8]>,
    ) -> R<(Box<dyn Member>, Vec<u8>)> {
        let MlsMessageBodyIn::GroupInfo(info) = parse(group_info)? else {
            return Err("openmls: not a GroupInfo".into());
        };
        let mut builder = MlsGroup::external_commit_builder().with_config(self.join_config(true));
        if let Some(tree) = tree_in(tree)? {
            builder = builder.with_ratchet_tree(tree);
        }
        let (group, bundle) = builder
            .build_group(&self.provider, info, self.credential.clone())
            .map_err(err)?
            .load_psks(self.provider.storage())
            .map_err(err)?
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .map_err(err)?
            .finalize(&self.provider)
            .map_err(err)?;
        let commit = out(bundle.commit());
        Ok((
            Box::new(OMember {
                client: *self,
                group,
                tree_in_welcome: true,
            }),
            commit,
        ))
    }
}

struct OMember {
    client: OClient,
    group: MlsGroup,
    tree_in_welcome: bool,
}

impl OMember {
    fn key_package_in(&self, bytes: &[u8]) -> R<KeyPackage> {
        match parse(bytes)? {
            MlsMessageBodyIn::KeyPackage(kp) => kp
                .validate(self.client.provider.crypto(), ProtocolVersion::Mls10)
                .map_err(err),
            _ => Err("openmls: not a KeyPackage".into()),
        }
    }

    fn merge(&mut self) -> R<()> {
        self.group
            .merge_pending_commit(&self.client.provider)
            .map_err(err)
    }

    fn commit_out(&self, commit: MlsMessageOut, welcome: Option<MlsMessageOut>) -> CommitOut {
        CommitOut {
            commit: out(&commit),
            welcome: welcome.as_ref().map(out),
            tree: (!self.tree_in_welcome).then(|| self.ratchet_tree()),
        }
    }
}

impl Member for OMember {
    fn implementation(&self) -> Impl {
        Impl::OpenMls
    }

    fn name(&self) -> &str {
        &self.client.name
    }

    fn epoch(&self) -> u64 {
        self.group.epoch().as_u64()
    }

    fn epoch_authenticator(&self) -> Vec<u8> {
        self.group.epoch_authenticator().as_slice().to_vec()
    }

    fn exporter(&self) -> Vec<u8> {
        self.group
            .export_secret(
                self.client.provider.crypto(),
                EXPORTER_LABEL,
                EXPORTER_CONTEXT,
                32,
            )
            .expect("exporter")
    }

    fn own_leaf(&self) -> u32 {
        self.group.own_leaf_index().u32()
    }

    fn roster(&self) -> Vec<(u32, Vec<u8>)> {
        self.group
            .members()
            .map(|m| {
                let basic = BasicCredential::try_from(m.credential).expect("basic credential");
                (m.index.u32(), basic.identity().to_vec())
            })
            .collect()
    }

    fn set_tree_in_welcome(&mut self, on: bool) {
        self.tree_in_welcome = on;
        let config = self.client.join_config(on);
        self.group
            .set_configuration(self.client.provider.storage(), &config)
            .expect("configuration");
    }

    fn key_package(&mut self) -> Vec<u8> {
        self.client.new_key_package()
    }

    fn add(&mut self, key_packages: &[Vec<u8>]) -> R<CommitOut> {
        let kps = key_packages
            .iter()
            .map(|kp| self.key_package_in(kp))
            .collect::<R<Vec<_>>>()?;
        let (commit, welcome, _) = self
            .group
            .add_members(&self.client.provider, &self.client.signer, &kps)
            .map_err(err)?;
        self.merge()?;
        Ok(self.commit_out(commit, Some(welcome)))
    }

    fn update(&mut self) -> R<Vec<u8>> {
        let bundle = self
            .group
            .self_update(
                &self.client.provider,
                &self.client.signer,
                LeafNodeParameters::default(),
            )
            .map_err(err)?;
        self.merge()?;
        Ok(out(bundle.commit()))
    }

    fn remove(&mut self, leaves: &[u32]) -> R<Vec<u8>> {
        let leaves: Vec<LeafNodeIndex> = leaves.iter().map(|&l| LeafNodeIndex::new(l)).collect();
        let (commit, _, _) = self
            .group
            .remove_members(&self.client.provider, &self.client.signer, &leaves)
            .map_err(err)?;
        self.merge()?;
        Ok(out(&commit))
    }

    fn propose_add(&mut self, key_package: &[u8]) -> R<Vec<u8>> {
        let kp = self.key_package_in(key_package)?;
        let (m, _) = self
            .group
            .propose_add_member(&self.client.provider, &self.client.signer, &kp)
            .map_err(err)?;
        Ok(out(&m))
    }

    fn propose_remove(&mut self, leaf: u32) -> R<Vec<u8>> {
        let (m, _) = self
            .group
            .propose_remove_member(
                &self.client.provider,
                &self.client.signer,
                LeafNodeIndex::new(leaf),
            )
            .map_err(err)?;
        Ok(out(&m))
    }

    fn propose_update(&mut self) -> R<Vec<u8>> {
        let (m, _) = self
            .group
            .propose_self_update(
                &self.client.provider,
                &self.client.signer,
                LeafNodeParameters::default(),
            )
            .map_err(err)?;
        Ok(out(&m))
    }

    fn commit_pending(&mut self) -> R<CommitOut> {
        let (commit, welcome, _) = self
            .group
            .commit_to_pending_proposals(&self.client.provider, &self.client.signer)
            .map_err(err)?;
        self.merge()?;
        Ok(self.commit_out(commit, welcome))
    }

    fn process(&mut self, message: &[u8]) -> R<Received> {
        let m = MlsMessageIn::tls_deserialize_exact(message)
            .map_err(err)?
            .try_into_protocol_message()
            .map_err(err)?;
        let processed = self
            .group
            .process_message(&self.client.provider, m)
            .map_err(err)?;
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(a) => {
                Ok(Received::Application(a.into_bytes()))
            }
            ProcessedMessageContent::ProposalMessage(p) => {
                self.group
                    .store_pending_proposal(self.client.provider.storage(), *p)
                    .map_err(err)?;
                Ok(Received::Proposal)
            }
            ProcessedMessageContent::ExternalJoinProposalMessage(p) => {
                self.group
                    .store_pending_proposal(self.client.provider.storage(), *p)
                    .map_err(err)?;
                Ok(Received::Proposal)
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                let removed = staged.self_removed();
                self.group
                    .merge_staged_commit(&self.client.provider, *staged)
                    .map_err(err)?;
                Ok(if removed {
                    Received::Removed
                } else {
                    Received::Commit
                })
            }
            other => Err(format!("openmls: unexpected {other:?}")),
        }
    }

    fn encrypt(&mut self, data: &[u8]) -> R<Vec<u8>> {
        let m = self
            .group
            .create_message(&self.client.provider, &self.client.signer, data)
            .map_err(err)?;
        Ok(out(&m))
    }

    fn group_info(&mut self, with_tree: bool) -> R<Vec<u8>> {
        let m = self
            .group
            .export_group_info(
                self.client.provider.crypto(),
                &self.client.signer,
                with_tree,
            )
            .map_err(err)?;
        Ok(out(&m))
    }

    fn ratchet_tree(&self) -> Vec<u8> {
        self.group
            .export_ratchet_tree()
            .tls_serialize_detached()
            .expect("serialize")
    }
}
