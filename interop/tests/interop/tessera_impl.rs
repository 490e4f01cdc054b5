//! Tessera, through its low-level `Group` API.

use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use tessera::error::{Error, ProtocolError};
use tessera::group::{
    CommitOptions, CredentialIdentity, ExternalJoinOptions, Group, GroupConfig, HandshakeFormat,
    Identity, JoinInput, KeyPackageOptions, KeyPackagePrivate, ProcessedMessage, ResumptionOptions,
    generate_key_package,
};
use tessera::messages::{
    Add, Credential, KeyPackage, MlsMessage, Proposal, ProtocolVersion, RatchetTreeExtension,
    ReInit, Remove,
};

use crate::harness::{
    Client, CommitOut, EXPORTER_CONTEXT, EXPORTER_LABEL, Impl, Member, R, Received, Reiniting,
    Resumption, Wire, now,
};

pub fn client(name: &str, suite: u16, wire: Wire) -> Box<dyn Client> {
    Box::new(TClient::new(name, CipherSuite(suite), wire))
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("tessera: {e:?}")
}

fn decode(bytes: &[u8]) -> R<MlsMessage> {
    MlsMessage::decode_exact(bytes).map_err(err)
}

fn encode(m: &MlsMessage) -> Vec<u8> {
    m.to_bytes().expect("encode")
}

fn tree(bytes: Option<&[u8]>) -> R<Option<RatchetTreeExtension>> {
    bytes
        .map(|b| RatchetTreeExtension::decode_exact(b).map_err(err))
        .transpose()
}

fn leaf_options() -> KeyPackageOptions {
    KeyPackageOptions::valid_for(now() - 3600, 30 * 24 * 3600)
}

struct TClient {
    name: String,
    suite: CipherSuite,
    wire: Wire,
    provider: RustCryptoProvider,
    identity: Identity,
    /// KeyPackages generated and not used yet.
    key_packages: Vec<(KeyPackage, KeyPackagePrivate)>,
}

impl TClient {
    fn new(name: &str, suite: CipherSuite, wire: Wire) -> Self {
        let provider = RustCryptoProvider::new();
        let cs = provider.cipher_suite_provider(suite).expect("suite");
        let identity = Identity::generate(&*cs, Credential::basic(name)).expect("identity");
        Self {
            name: name.to_string(),
            suite,
            wire,
            provider,
            identity,
            key_packages: Vec::new(),
        }
    }

    fn config(&self) -> GroupConfig {
        GroupConfig {
            handshake_format: match self.wire {
                Wire::Public => HandshakeFormat::Public,
                Wire::Private => HandshakeFormat::Private,
            },
            ..GroupConfig::default()
        }
    }

    fn new_key_package(&mut self) -> Vec<u8> {
        let cs = self
            .provider
            .cipher_suite_provider(self.suite)
            .expect("suite");
        let (kp, private) =
            generate_key_package(&*cs, &self.identity, leaf_options()).expect("KeyPackage");
        let bytes = encode(&MlsMessage::KeyPackage(kp.clone()));
        self.key_packages.push((kp, private));
        bytes
    }

    /// Joins with whichever of its KeyPackages the Welcome is for, with
    /// `old` as the group a resumption PSK may come from.
    fn join_welcome(
        &mut self,
        welcome: &[u8],
        tree_bytes: Option<&[u8]>,
        old: Option<&Group>,
    ) -> R<Group> {
        let MlsMessage::Welcome(welcome) = decode(welcome)? else {
            return Err("tessera: not a Welcome".into());
        };
        let mut last = String::from("tessera: no KeyPackage");
        for i in 0..self.key_packages.len() {
            let (kp, private) = &self.key_packages[i];
            let input = JoinInput {
                key_package: kp,
                key_package_private: private,
                signer: self.identity.signer().clone(),
                ratchet_tree: tree(tree_bytes)?,
                psk_store: &(),
                now: Some(now()),
            };
            let result = match old {
                Some(old) => Group::join_with_resumption(
                    &self.provider,
                    self.config(),
                    &welcome,
                    input,
                    old,
                    &CredentialIdentity,
                ),
                None => Group::join(&self.provider, self.config(), &welcome, input),
            };
            match result {
                Ok(g) => {
                    // A KeyPackage is used once (RFC 9420 §16.8).
                    self.key_packages.remove(i);
                    return Ok(g);
                }
                Err(Error::Protocol(ProtocolError::WelcomeNotForUs)) => {}
                Err(e) => last = err(e),
            }
        }
        Err(last)
    }
}

impl Client for TClient {
    fn implementation(&self) -> Impl {
        Impl::Tessera
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn key_package(&mut self) -> Vec<u8> {
        self.new_key_package()
    }

    fn create(self: Box<Self>, group_id: &[u8]) -> Box<dyn Member> {
        let group = Group::create(
            &self.provider,
            self.config(),
            self.suite,
            group_id.to_vec(),
            &self.identity,
            leaf_options(),
            Vec::new(),
        )
        .expect("create");
        Box::new(TMember::new(*self, group))
    }

    fn join(mut self: Box<Self>, welcome: &[u8], tree: Option<&[u8]>) -> R<Box<dyn Member>> {
        let group = self.join_welcome(welcome, tree, None)?;
        Ok(Box::new(TMember::new(*self, group)))
    }

    fn join_external(
        self: Box<Self>,
        group_info: &[u8],
        tree_bytes: Option<&[u8]>,
    ) -> R<(Box<dyn Member>, Vec<u8>)> {
        let MlsMessage::GroupInfo(info) = decode(group_info)? else {
            return Err("tessera: not a GroupInfo".into());
        };
        let (group, commit) = Group::join_external(
            &self.provider,
            self.config(),
            &info,
            &self.identity,
            ExternalJoinOptions {
                ratchet_tree: tree(tree_bytes)?,
                ..Default::default()
            },
            &(),
            Some(now()),
        )
        .map_err(err)?;
        Ok((Box::new(TMember::new(*self, group)), encode(&commit)))
    }
}

struct TMember {
    client: TClient,
    group: Group,
    tree_in_welcome: bool,
}

impl TMember {
    fn new(client: TClient, group: Group) -> Self {
        Self {
            client,
            group,
            tree_in_welcome: true,
        }
    }

    fn commit_with(&mut self, options: CommitOptions) -> R<CommitOut> {
        let out = self
            .group
            .commit(
                CommitOptions {
                    ratchet_tree_in_welcome: self.tree_in_welcome,
                    ..options
                },
                &(),
                Some(now()),
            )
            .map_err(err)?;
        self.group.merge_pending_commit().map_err(err)?;
        Ok(CommitOut {
            commit: encode(&out.commit),
            welcome: out.welcome.as_ref().map(encode),
            // Tessera hands out the tree with a Welcome (the commit adds someone).
            tree: out
                .ratchet_tree
                .as_ref()
                .filter(|_| !self.tree_in_welcome)
                .map(|t| t.to_bytes().expect("encode")),
        })
    }

    fn key_package_from(kp: &[u8]) -> R<KeyPackage> {
        match decode(kp)? {
            MlsMessage::KeyPackage(kp) => Ok(kp),
            _ => Err("tessera: not a KeyPackage".into()),
        }
    }
}

impl Member for TMember {
    fn implementation(&self) -> Impl {
        Impl::Tessera
    }

    fn name(&self) -> &str {
        &self.client.name
    }

    fn epoch(&self) -> u64 {
        self.group.epoch()
    }

    fn epoch_authenticator(&self) -> Vec<u8> {
        self.group.epoch_authenticator().as_bytes().to_vec()
    }

    fn exporter(&self) -> Vec<u8> {
        self.group
            .export_secret(EXPORTER_LABEL.as_bytes(), EXPORTER_CONTEXT, 32)
            .expect("exporter")
            .as_bytes()
            .to_vec()
    }

    fn own_leaf(&self) -> u32 {
        self.group.own_leaf().0
    }

    fn roster(&self) -> Vec<(u32, Vec<u8>)> {
        self.group
            .members()
            .into_iter()
            .map(|m| {
                let Credential::Basic(id) = m.credential else {
                    panic!("not a basic credential");
                };
                (m.index.0, id)
            })
            .collect()
    }

    fn set_tree_in_welcome(&mut self, on: bool) {
        self.tree_in_welcome = on;
    }

    fn key_package(&mut self) -> Vec<u8> {
        self.client.new_key_package()
    }

    fn add(&mut self, key_packages: &[Vec<u8>]) -> R<CommitOut> {
        let proposals = key_packages
            .iter()
            .map(|kp| {
                Ok(Proposal::Add(Add {
                    key_package: Self::key_package_from(kp)?,
                }))
            })
            .collect::<R<Vec<_>>>()?;
        self.commit_with(CommitOptions {
            proposals,
            include_pending: false,
            ..Default::default()
        })
    }

    fn update(&mut self) -> R<Vec<u8>> {
        Ok(self
            .commit_with(CommitOptions {
                include_pending: false,
                force_path: true,
                ..Default::default()
            })?
            .commit)
    }

    fn remove(&mut self, leaves: &[u32]) -> R<Vec<u8>> {
        Ok(self
            .commit_with(CommitOptions {
                proposals: leaves
                    .iter()
                    .map(|&removed| Proposal::Remove(Remove { removed }))
                    .collect(),
                include_pending: false,
                ..Default::default()
            })?
            .commit)
    }

    fn propose_add(&mut self, key_package: &[u8]) -> R<Vec<u8>> {
        let key_package = Self::key_package_from(key_package)?;
        let m = self
            .group
            .propose(Proposal::Add(Add { key_package }))
            .map_err(err)?;
        Ok(encode(&m))
    }

    fn propose_remove(&mut self, leaf: u32) -> R<Vec<u8>> {
        let m = self
            .group
            .propose(Proposal::Remove(Remove { removed: leaf }))
            .map_err(err)?;
        Ok(encode(&m))
    }

    fn propose_update(&mut self) -> R<Vec<u8>> {
        // Tessera refuses to send Update proposals: a member updates with a
        // commit that carries a path (RFC 9420 §12.1.2 allows either).
        Err("tessera: Update proposals are not sent (update by commit)".into())
    }

    fn commit_pending(&mut self) -> R<CommitOut> {
        self.commit_with(CommitOptions::default())
    }

    fn process(&mut self, message: &[u8]) -> R<Received> {
        let m = decode(message)?;
        match self
            .group
            .process_message(&m, &(), Some(now()))
            .map_err(err)?
        {
            ProcessedMessage::Application { data, .. } => Ok(Received::Application(data)),
            ProcessedMessage::Proposal { .. } => Ok(Received::Proposal),
            ProcessedMessage::Commit(staged) if staged.summary().self_removed => {
                Ok(Received::Removed)
            }
            ProcessedMessage::Commit(staged) => {
                self.group.merge_staged_commit(*staged).map_err(err)?;
                Ok(Received::Commit)
            }
            other => Err(format!("tessera: unexpected {other:?}")),
        }
    }

    fn encrypt(&mut self, data: &[u8]) -> R<Vec<u8>> {
        Ok(encode(
            &self.group.encrypt_application(data, b"").map_err(err)?,
        ))
    }

    fn group_info(&mut self, with_tree: bool) -> R<Vec<u8>> {
        Ok(encode(&self.group.group_info(with_tree).map_err(err)?))
    }

    fn ratchet_tree(&self) -> Vec<u8> {
        self.group.tree().to_extension().to_bytes().expect("encode")
    }

    fn resumption(&mut self) -> Option<&mut dyn Resumption> {
        Some(self)
    }

    fn into_reinit(self: Box<Self>, new_suite: u16) -> R<Box<dyn Reiniting>> {
        if self.group.reinit().is_none() {
            return Err("tessera: no ReInit merged".into());
        }
        let new = TClient::new(&self.client.name, CipherSuite(new_suite), self.client.wire);
        Ok(Box::new(TReinit { old: *self, new }))
    }
}

fn reinit(group_id: &[u8], suite: u16) -> ReInit {
    ReInit {
        group_id: group_id.to_vec(),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(suite),
        extensions: Vec::new(),
    }
}

impl Resumption for TMember {
    fn propose_reinit(&mut self, group_id: &[u8], suite: u16) -> R<Vec<u8>> {
        let m = self
            .group
            .propose_reinit(reinit(group_id, suite))
            .map_err(err)?;
        Ok(encode(&m))
    }

    fn commit_reinit(&mut self, group_id: &[u8], suite: u16) -> R<Vec<u8>> {
        let out = self
            .group
            .commit_reinit(reinit(group_id, suite))
            .map_err(err)?;
        self.group.merge_pending_commit().map_err(err)?;
        Ok(encode(&out.commit))
    }

    fn refuses_to_send(&mut self) -> bool {
        self.group.encrypt_application(b"x", b"").is_err()
            && self
                .group
                .commit(CommitOptions::default(), &(), None)
                .is_err()
    }

    fn branch(
        &mut self,
        group_id: &[u8],
        key_packages: &[Vec<u8>],
    ) -> R<(Box<dyn Member>, Vec<u8>)> {
        let kps = key_packages
            .iter()
            .map(|kp| Self::key_package_from(kp))
            .collect::<R<Vec<_>>>()?;
        let (group, out) = self
            .group
            .branch(
                &self.client.provider,
                group_id.to_vec(),
                &kps,
                ResumptionOptions {
                    config: self.client.config(),
                    now: Some(now()),
                    ..ResumptionOptions::new(leaf_options())
                },
                &CredentialIdentity,
            )
            .map_err(err)?;
        let client = TClient {
            name: self.client.name.clone(),
            suite: self.client.suite,
            wire: self.client.wire,
            provider: RustCryptoProvider::new(),
            identity: self.client.identity.clone(),
            key_packages: Vec::new(),
        };
        let welcome = encode(&out.welcome.ok_or("tessera: no Welcome")?);
        Ok((Box::new(TMember::new(client, group)), welcome))
    }

    fn join_branch(&mut self, welcome: &[u8]) -> R<Box<dyn Member>> {
        let group = self.client.join_welcome(welcome, None, Some(&self.group))?;
        let client = TClient {
            name: self.client.name.clone(),
            suite: self.client.suite,
            wire: self.client.wire,
            provider: RustCryptoProvider::new(),
            identity: self.client.identity.clone(),
            key_packages: Vec::new(),
        };
        Ok(Box::new(TMember::new(client, group)))
    }
}

/// A Tessera member after a ReInit: the old group and a client in the new suite.
struct TReinit {
    old: TMember,
    new: TClient,
}

impl Reiniting for TReinit {
    fn key_package(&mut self) -> Vec<u8> {
        self.new.new_key_package()
    }

    fn create(self: Box<Self>, key_packages: &[Vec<u8>]) -> R<(Box<dyn Member>, Vec<u8>)> {
        let kps = key_packages
            .iter()
            .map(|kp| TMember::key_package_from(kp))
            .collect::<R<Vec<_>>>()?;
        let (group, out) = self
            .old
            .group
            .reinit_group(
                &self.new.provider,
                &self.new.identity,
                &kps,
                ResumptionOptions {
                    config: self.new.config(),
                    now: Some(now()),
                    ..ResumptionOptions::new(leaf_options())
                },
                &CredentialIdentity,
            )
            .map_err(err)?;
        let welcome = encode(&out.welcome.ok_or("tessera: no Welcome")?);
        Ok((Box::new(TMember::new(self.new, group)), welcome))
    }

    fn join(mut self: Box<Self>, welcome: &[u8]) -> R<Box<dyn Member>> {
        let group = self
            .new
            .join_welcome(welcome, None, Some(&self.old.group))?;
        Ok(Box::new(TMember::new(self.new, group)))
    }
}
