//! Reinitializing a group (RFC 9420 §11.2, §12.1.5): the members agree on a
//! ReInit, the old group stops, and one of them recreates the group with the
//! new parameters, tied to the old one by its last epoch's resumption PSK.
//!
//! ```
//! use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
//! use tessera::group::{
//!     CredentialIdentity, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions,
//!     ProcessedMessage, ResumptionOptions, generate_key_package,
//! };
//! use tessera::messages::{Credential, MlsMessage, ProtocolVersion, ReInit};
//!
//! let provider = RustCryptoProvider::new();
//! let old_suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
//! let new_suite = CipherSuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256;
//! let (old_cs, new_cs) = (
//!     provider.cipher_suite_provider(old_suite).unwrap(),
//!     provider.cipher_suite_provider(new_suite).unwrap(),
//! );
//! let leaf = || KeyPackageOptions::valid_for(0, u64::MAX);
//! let alice = Identity::generate(&*old_cs, Credential::basic("alice")).unwrap();
//! let bob = Identity::generate(&*old_cs, Credential::basic("bob")).unwrap();
//!
//! // A two-member group in the old suite.
//! let mut a = Group::create(&provider, GroupConfig::default(), old_suite, b"old".to_vec(),
//!     &alice, leaf(), vec![]).unwrap();
//! let bob_kp = generate_key_package(&*old_cs, &bob, leaf()).unwrap();
//! let out = a.commit(tessera::group::CommitOptions {
//!     proposals: vec![tessera::messages::Proposal::Add(tessera::messages::Add {
//!         key_package: bob_kp.0.clone() })],
//!     ..Default::default()
//! }, &(), None).unwrap();
//! a.merge_pending_commit().unwrap();
//! let Some(MlsMessage::Welcome(w)) = out.welcome else { unreachable!() };
//! let mut b = Group::join(&provider, GroupConfig::default(), &w, JoinInput {
//!     key_package: &bob_kp.0, key_package_private: &bob_kp.1,
//!     signer: bob.signer().clone(), ratchet_tree: None, psk_store: &(), now: None,
//! }).unwrap();
//!
//! // Alice commits a ReInit to the new suite; both merge it.
//! let reinit = ReInit { group_id: b"new".to_vec(), version: ProtocolVersion::MLS10,
//!     cipher_suite: new_suite, extensions: vec![] };
//! let commit = a.commit_reinit(reinit).unwrap().commit;
//! a.merge_pending_commit().unwrap();
//! let ProcessedMessage::Commit(staged) = b.process_message(&commit, &(), None).unwrap()
//!     else { unreachable!() };
//! b.merge_staged_commit(*staged).unwrap();
//! assert!(b.encrypt_application(b"hi", b"").is_err()); // the old group is closed
//!
//! // Bob publishes a KeyPackage in the new suite; Alice recreates the group.
//! let alice2 = Identity::generate(&*new_cs, Credential::basic("alice")).unwrap();
//! let bob2 = Identity::generate(&*new_cs, Credential::basic("bob")).unwrap();
//! let bob_kp2 = generate_key_package(&*new_cs, &bob2, leaf()).unwrap();
//! let (a2, out) = a.reinit_group(&provider, &alice2, &[bob_kp2.0.clone()],
//!     ResumptionOptions::new(leaf()), &CredentialIdentity).unwrap();
//! let Some(MlsMessage::Welcome(w)) = out.welcome else { unreachable!() };
//! let b2 = Group::join_with_resumption(&provider, GroupConfig::default(), &w, JoinInput {
//!     key_package: &bob_kp2.0, key_package_private: &bob_kp2.1,
//!     signer: bob2.signer().clone(), ratchet_tree: None, psk_store: &(), now: None,
//! }, &b, &CredentialIdentity).unwrap();
//! assert_eq!((a2.epoch(), a2.cipher_suite()), (1, new_suite));
//! assert_eq!(a2.epoch_authenticator(), b2.epoch_authenticator());
//! ```

use super::Group;
use super::commit::{CommitOptions, CommitOutput};
use super::key_package::Identity;
use super::resumption::{
    ParticipantIdentity, ResumptionOptions, ResumptionOutput, inherit_capabilities, participants,
};
use crate::crypto::CryptoProvider;
use crate::error::{ApiError, Result};
use crate::messages::{KeyPackage, MlsMessage, Proposal, ReInit, ResumptionPskUsage};

impl Group {
    /// The ReInit this group was closed by, once the commit carrying it is
    /// merged (RFC 9420 §12.4.2): the group then refuses to send or receive
    /// in its last epoch and keeps that epoch's resumption PSK, so that any
    /// member can create the new group ([`Group::reinit_group`]) or join it
    /// ([`Group::join_with_resumption`]).
    pub fn reinit(&self) -> Option<&ReInit> {
        self.reinit.as_ref()
    }

    /// Fails with [`ApiError::GroupReinitialized`] once a ReInit is merged.
    pub(crate) fn ensure_active(&self) -> Result<()> {
        match self.reinit {
            Some(_) => Err(ApiError::GroupReinitialized.into()),
            None => Ok(()),
        }
    }

    /// Proposes to reinitialize the group with new parameters (RFC 9420
    /// §12.1.5). A commit covers it alone; another member's commit of
    /// pending proposals leaves it out while it has others to commit (§12.2).
    pub fn propose_reinit(&mut self, reinit: ReInit) -> Result<MlsMessage> {
        self.check_reinit(&reinit)?;
        self.propose(Proposal::ReInit(reinit))
    }

    /// Commits a ReInit by value, alone (RFC 9420 §11.2 steps 1 and 2, §12.2).
    /// After [`Group::merge_pending_commit`] the group is closed.
    pub fn commit_reinit(&mut self, reinit: ReInit) -> Result<CommitOutput> {
        self.check_reinit(&reinit)?;
        self.commit(
            CommitOptions {
                proposals: vec![Proposal::ReInit(reinit)],
                include_pending: false,
                ..Default::default()
            },
            &(),
            None,
        )
    }

    fn check_reinit(&self, reinit: &ReInit) -> Result<()> {
        // "A ReInit proposal is invalid if the version field is less than
        // the version for the current group" (§12.1.5).
        if reinit.version.0 < self.context.version.0 {
            return Err(ApiError::InvalidArgument("a ReInit may not lower the version").into());
        }
        Ok(())
    }

    /// Creates the group that replaces this one after its ReInit (RFC 9420
    /// §11.2 step 3): the ReInit's group id, version, cipher suite and
    /// extensions, and the same members. `identity` is this member's identity
    /// in the new cipher suite; `key_packages` hold one KeyPackage, in the
    /// new suite, for each other member of this group. The new group is in
    /// epoch 1, its first commit injecting the `reinit` resumption PSK of
    /// this group's last epoch; send the Welcome to the others. This
    /// member's new leaf advertises at least the extension, proposal and
    /// credential types of its leaf here.
    ///
    /// Fails if no ReInit was merged, or if the KeyPackages and `identity`
    /// do not name exactly this group's members (as `ids` identifies them).
    pub fn reinit_group(
        &self,
        provider: &dyn CryptoProvider,
        identity: &Identity,
        key_packages: &[KeyPackage],
        mut options: ResumptionOptions,
        ids: &dyn ParticipantIdentity,
    ) -> Result<(Group, ResumptionOutput)> {
        let reinit = self.reinit.clone().ok_or(ApiError::InvalidArgument(
            "no ReInit was committed in this group",
        ))?;
        // "with the same members as the original group" (§12.4.2).
        let old = participants(self.tree.members().map(|(_, l)| &l.credential), ids);
        let new = participants(
            core::iter::once(identity.credential())
                .chain(key_packages.iter().map(|kp| &kp.leaf_node.credential)),
            ids,
        );
        if old != new {
            return Err(ApiError::InvalidArgument(
                "identity and KeyPackages must name exactly the old group's members",
            )
            .into());
        }
        if let Some(own) = self.tree.leaf(self.own_leaf) {
            inherit_capabilities(&mut options.leaf.capabilities, &own.capabilities);
        }
        self.create_resumed(
            provider,
            ResumptionPskUsage::Reinit,
            &reinit,
            identity,
            key_packages,
            options,
        )
    }
}
