//! Sample values of the wire structures, for this module's unit tests.

use super::*;
use crate::codec::{Decode, Encode};
use crate::crypto::{CipherSuite, HpkeCiphertext, HpkePublicKey, SignaturePublicKey, Tag};

pub fn leaf_node() -> LeafNode {
    LeafNode {
        encryption_key: HpkePublicKey(vec![0x11; 32]),
        signature_key: SignaturePublicKey(vec![0x22; 32]),
        credential: Credential::basic(b"alice".to_vec()),
        capabilities: Capabilities {
            versions: vec![ProtocolVersion::MLS10],
            cipher_suites: vec![CipherSuite(1)],
            extensions: vec![],
            proposals: vec![],
            credentials: vec![CredentialType::BASIC],
        },
        leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
            not_before: 0,
            not_after: u64::MAX,
        }),
        extensions: vec![],
        signature: vec![0x33; 64],
    }
}

pub fn key_package() -> KeyPackage {
    KeyPackage {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        init_key: HpkePublicKey(vec![0x44; 32]),
        leaf_node: leaf_node(),
        extensions: vec![],
        signature: vec![0x55; 64],
    }
}

pub fn extensions() -> Vec<Extension> {
    vec![Extension {
        extension_type: ExtensionType(0x0a0a),
        extension_data: vec![1, 2, 3],
    }]
}

pub fn group_context() -> GroupContext {
    GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        group_id: b"group".to_vec(),
        epoch: 7,
        tree_hash: vec![0x66; 32],
        confirmed_transcript_hash: vec![0x77; 32],
        extensions: extensions(),
    }
}

pub fn psk_id() -> PreSharedKeyId {
    PreSharedKeyId {
        psk: Psk::External {
            psk_id: b"psk".to_vec(),
        },
        psk_nonce: vec![0x88; 32],
    }
}

/// One proposal of each type.
pub fn proposals() -> Vec<Proposal> {
    let mut update = leaf_node();
    update.leaf_node_source = LeafNodeSource::Update;
    vec![
        Proposal::Add(Add {
            key_package: key_package(),
        }),
        Proposal::Update(Update { leaf_node: update }),
        Proposal::Remove(Remove { removed: 3 }),
        Proposal::PreSharedKey(PreSharedKey { psk: psk_id() }),
        Proposal::ReInit(ReInit {
            group_id: b"new".to_vec(),
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite(3),
            extensions: extensions(),
        }),
        Proposal::ExternalInit(ExternalInit {
            kem_output: vec![0x99; 32],
        }),
        Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: extensions(),
        }),
    ]
}

pub fn commit() -> Commit {
    let mut leaf = leaf_node();
    leaf.leaf_node_source = LeafNodeSource::Commit(vec![0xaa; 32]);
    Commit {
        proposals: vec![
            ProposalOrRef::Proposal(Box::new(proposals().remove(2))),
            ProposalOrRef::Reference(ProposalRef(vec![0xbb; 32])),
        ],
        path: Some(UpdatePath {
            leaf_node: leaf,
            nodes: vec![UpdatePathNode {
                encryption_key: HpkePublicKey(vec![0xcc; 32]),
                encrypted_path_secret: EncryptedPathSecrets::try_from_iter([HpkeCiphertext {
                    kem_output: vec![1; 32],
                    ciphertext: vec![2; 48],
                }])
                .unwrap(),
            }],
        }),
    }
}

/// A framed content of each content type from `sender`, with matching auth data.
pub fn contents(sender: Sender) -> Vec<(FramedContent, FramedContentAuthData)> {
    let bodies = [
        FramedContentBody::Application(b"hello".to_vec()),
        FramedContentBody::Proposal(proposals().remove(0)),
        FramedContentBody::Commit(commit()),
    ];
    bodies
        .into_iter()
        .map(|content| {
            let confirmation_tag =
                matches!(content, FramedContentBody::Commit(_)).then(|| Tag::from(vec![0xdd; 32]));
            (
                FramedContent {
                    group_id: b"group".to_vec(),
                    epoch: 7,
                    sender,
                    authenticated_data: b"aad".to_vec(),
                    content,
                },
                FramedContentAuthData {
                    signature: vec![0xee; 64],
                    confirmation_tag,
                },
            )
        })
        .collect()
}

pub fn group_info() -> GroupInfo {
    GroupInfo {
        group_context: group_context(),
        extensions: extensions(),
        confirmation_tag: Tag::from(vec![0xdd; 32]),
        signer: 1,
        signature: vec![0xee; 64],
    }
}

pub fn welcome() -> Welcome {
    Welcome {
        cipher_suite: CipherSuite(1),
        secrets: vec![EncryptedGroupSecrets {
            new_member: KeyPackageRef(vec![0x12; 32]),
            encrypted_group_secrets: HpkeCiphertext {
                kem_output: vec![3; 32],
                ciphertext: vec![4; 80],
            },
        }],
        encrypted_group_info: vec![5; 100],
    }
}

/// One message of each wire format, and public messages of every content type
/// from each sender type.
pub fn messages() -> Vec<MlsMessage> {
    let mut out = Vec::new();
    for sender in [
        Sender::Member(2),
        Sender::External(0),
        Sender::NewMemberProposal,
        Sender::NewMemberCommit,
    ] {
        for (content, auth) in contents(sender) {
            let membership_tag =
                matches!(sender, Sender::Member(_)).then(|| Tag::from(vec![0xf0; 32]));
            out.push(MlsMessage::PublicMessage(PublicMessage {
                content,
                auth,
                membership_tag,
            }));
        }
    }
    out.push(MlsMessage::PrivateMessage(PrivateMessage {
        group_id: b"group".to_vec(),
        epoch: u64::MAX,
        content_type: ContentType::Commit,
        authenticated_data: vec![],
        encrypted_sender_data: vec![6; 28],
        ciphertext: vec![7; 200],
    }));
    out.push(MlsMessage::Welcome(welcome()));
    out.push(MlsMessage::GroupInfo(group_info()));
    out.push(MlsMessage::KeyPackage(key_package()));
    out
}

/// Checks `v` round-trips, that every proper prefix of its encoding fails to
/// decode, and that a trailing byte is rejected. Returns the encoding.
pub fn round_trip<T: Encode + Decode + PartialEq + core::fmt::Debug>(v: &T) -> Vec<u8> {
    let bytes = v.to_bytes().unwrap();
    assert_eq!(&T::decode_exact(&bytes).unwrap(), v);
    for cut in 0..bytes.len() {
        assert!(
            T::decode_exact(&bytes[..cut]).is_err(),
            "prefix {cut} decoded"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        T::decode_exact(&long),
        Err(crate::error::DecodeError::TrailingBytes(1))
    );
    bytes
}

/// A test provider whose "signatures" are `SHA-256(key || message)`, with the
/// public key equal to the private key; it supports nothing but hashing,
/// signing and verifying. It shows which bytes a structure signs without
/// depending on the signature schemes.
pub struct HashSigner;

const FAKE: crate::error::CryptoError = crate::error::CryptoError::Other("not in HashSigner");

impl HashSigner {
    /// The key pair numbered `n`.
    pub fn key_pair(n: u8) -> (crate::crypto::SignaturePrivateKey, SignaturePublicKey) {
        (
            crate::crypto::SignaturePrivateKey::new(vec![n; 32]),
            SignaturePublicKey(vec![n; 32]),
        )
    }

    fn sig(key: &[u8], message: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::new()
            .chain_update(key)
            .chain_update(message)
            .finalize()
            .to_vec()
    }
}

impl crate::crypto::CipherSuiteProvider for HashSigner {
    fn cipher_suite(&self) -> CipherSuite {
        CipherSuite(1)
    }
    fn hash(&self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(data).to_vec()
    }
    fn kdf_len(&self) -> usize {
        32
    }
    fn kdf_extract(
        &self,
        _: &[u8],
        _: &[u8],
    ) -> Result<crate::crypto::Secret, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn kdf_expand(
        &self,
        _: &[u8],
        _: &[u8],
        _: usize,
    ) -> Result<crate::crypto::Secret, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn mac(&self, _: &[u8], _: &[u8]) -> Result<Tag, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn aead_key_len(&self) -> usize {
        16
    }
    fn aead_nonce_len(&self) -> usize {
        12
    }
    fn aead_seal(
        &self,
        _: &[u8],
        _: &[u8],
        _: &[u8],
        _: &[u8],
    ) -> Result<Vec<u8>, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn aead_open(
        &self,
        _: &[u8],
        _: &[u8],
        _: &[u8],
        _: &[u8],
    ) -> Result<Vec<u8>, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn hpke_seal(
        &self,
        _: &HpkePublicKey,
        _: &[u8],
        _: &[u8],
        _: &[u8],
    ) -> Result<HpkeCiphertext, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn hpke_open(
        &self,
        _: &crate::crypto::HpkePrivateKey,
        _: &HpkeCiphertext,
        _: &[u8],
        _: &[u8],
    ) -> Result<Vec<u8>, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn hpke_export_sender(
        &self,
        _: &HpkePublicKey,
        _: &[u8],
        _: &[u8],
        _: usize,
    ) -> Result<(Vec<u8>, crate::crypto::Secret), crate::error::CryptoError> {
        Err(FAKE)
    }
    fn hpke_export_receiver(
        &self,
        _: &crate::crypto::HpkePrivateKey,
        _: &[u8],
        _: &[u8],
        _: &[u8],
        _: usize,
    ) -> Result<crate::crypto::Secret, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn hpke_derive_key_pair(
        &self,
        _: &[u8],
    ) -> Result<(crate::crypto::HpkePrivateKey, HpkePublicKey), crate::error::CryptoError> {
        Err(FAKE)
    }
    fn hpke_generate_key_pair(
        &self,
    ) -> Result<(crate::crypto::HpkePrivateKey, HpkePublicKey), crate::error::CryptoError> {
        Err(FAKE)
    }
    fn hpke_public_key(
        &self,
        _: &crate::crypto::HpkePrivateKey,
    ) -> Result<HpkePublicKey, crate::error::CryptoError> {
        Err(FAKE)
    }
    fn sign(
        &self,
        key: &crate::crypto::SignaturePrivateKey,
        message: &[u8],
    ) -> Result<Vec<u8>, crate::error::CryptoError> {
        Ok(Self::sig(key.as_bytes(), message))
    }
    fn verify(
        &self,
        key: &SignaturePublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), crate::error::CryptoError> {
        if Self::sig(key.as_bytes(), message) == signature {
            Ok(())
        } else {
            Err(crate::error::CryptoError::InvalidSignature)
        }
    }
    fn signature_generate_key_pair(
        &self,
    ) -> Result<(crate::crypto::SignaturePrivateKey, SignaturePublicKey), crate::error::CryptoError>
    {
        Err(FAKE)
    }
    fn signature_public_key(
        &self,
        key: &crate::crypto::SignaturePrivateKey,
    ) -> Result<SignaturePublicKey, crate::error::CryptoError> {
        Ok(SignaturePublicKey(key.as_bytes().to_vec()))
    }
    fn random_bytes(&self, _: &mut [u8]) -> Result<(), crate::error::CryptoError> {
        Err(FAKE)
    }
}
