//! The client's own records (identity, KeyPackages, group metadata, held
//! messages) and how group state pieces map to records.
//!
//! Each value starts with a one-byte format version (1), then its fields in
//! the TLS presentation language (RFC 9420 §2.1):
//!
//! ```text
//! struct { uint8 version = 1; CipherSuite suite; Credential credential;
//!          opaque signer<V>; } IdentityRecord;
//! struct { uint8 version = 1; uint8 last_resort; KeyPackage key_package;
//!          opaque private<V>; } KeyPackageRecord;    // KeyPackagePrivate::to_bytes
//! struct { uint8 version = 1; uint8 status; } GroupMetaRecord;  // 0 active, 1 removed, 2 reinit
//! struct { uint8 version = 1; uint64 epoch; MLSMessage message; } HeldMessageRecord;
//! ```

use crate::codec::{Decode, Encode, Reader, write_opaque};
use crate::crypto::{CipherSuite, SignaturePrivateKey};
use crate::error::{DecodeError, Error, Result, StorageError};
use crate::group::{KeyPackagePrivate, PieceKind};
use crate::messages::{Credential, KeyPackage, MlsMessage};
use crate::storage::{RecordKind, Value};

use super::events::InactiveReason;

const VERSION: u8 = 1;

/// The record kind a group state piece is stored as.
pub(super) fn record_kind(kind: PieceKind) -> RecordKind {
    match kind {
        PieceKind::Epoch => RecordKind::Epoch,
        PieceKind::Tree => RecordKind::Tree,
        PieceKind::PastEpoch => RecordKind::PastEpoch,
        PieceKind::SecretTreeNode => RecordKind::SecretTreeNode,
        PieceKind::SenderRatchet => RecordKind::SenderRatchet,
        PieceKind::RetainedKey => RecordKind::RetainedKey,
        PieceKind::LegacySenderRatchets => RecordKind::LegacySenderRatchets,
        PieceKind::Proposal => RecordKind::Proposal,
        PieceKind::PendingCommit => RecordKind::PendingCommit,
        PieceKind::SentMessage => RecordKind::SentMessage,
    }
}

/// A stored record that does not decode is corruption, not bad input.
pub(super) fn corrupted(what: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Decode(d) => StorageError::Corrupted(format!("{what}: {d}")).into(),
        e => e,
    }
}

fn version(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    match r.read_u8()? {
        VERSION => Ok(()),
        v => Err(DecodeError::UnsupportedFormatVersion(u16::from(v))),
    }
}

fn read_bool(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
    match r.read_u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidValue("boolean")),
    }
}

/// The client's identity.
pub(super) struct IdentityRecord {
    pub suite: CipherSuite,
    pub credential: Credential,
    pub signer: SignaturePrivateKey,
}

impl IdentityRecord {
    pub fn encode(&self) -> Result<Value> {
        let mut out = Value::default();
        out.push(VERSION);
        self.suite.encode(&mut out)?;
        self.credential.encode(&mut out)?;
        write_opaque(&mut out, self.signer.as_bytes())?;
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        version(&mut r)?;
        let record = Self {
            suite: CipherSuite::decode(&mut r)?,
            credential: Credential::decode(&mut r)?,
            signer: SignaturePrivateKey::new(Vec::<u8>::decode(&mut r)?),
        };
        r.finish()?;
        Ok(record)
    }
}

/// A KeyPackage with its private keys.
pub(super) struct KeyPackageRecord {
    pub last_resort: bool,
    pub key_package: KeyPackage,
    pub private: KeyPackagePrivate,
}

impl KeyPackageRecord {
    pub fn encode(&self) -> Result<Value> {
        let mut out = Value::default();
        out.push(VERSION);
        out.push(u8::from(self.last_resort));
        self.key_package.encode(&mut out)?;
        let private = zeroize::Zeroizing::new(self.private.to_bytes()?);
        write_opaque(&mut out, &private)?;
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        version(&mut r)?;
        let last_resort = read_bool(&mut r)?;
        let key_package = KeyPackage::decode(&mut r)?;
        let private = zeroize::Zeroizing::new(Vec::<u8>::decode(&mut r)?);
        r.finish()?;
        Ok(Self {
            last_resort,
            key_package,
            private: KeyPackagePrivate::from_bytes(&private)?,
        })
    }
}

/// Whether this member is still in a group.
pub(super) fn encode_meta(inactive: Option<InactiveReason>) -> Value {
    let status = match inactive {
        None => 0,
        Some(InactiveReason::Removed) => 1,
        Some(InactiveReason::ReInit) => 2,
    };
    Value::new(vec![VERSION, status])
}

pub(super) fn decode_meta(bytes: &[u8]) -> Result<Option<InactiveReason>> {
    let mut r = Reader::new(bytes);
    version(&mut r)?;
    let status = match r.read_u8()? {
        0 => None,
        1 => Some(InactiveReason::Removed),
        2 => Some(InactiveReason::ReInit),
        _ => return Err(DecodeError::InvalidValue("group status").into()),
    };
    r.finish()?;
    Ok(status)
}

/// A message held for a later epoch.
pub(super) fn encode_held(epoch: u64, message: &[u8]) -> Result<Value> {
    let mut out = Value::default();
    out.push(VERSION);
    epoch.encode(&mut out)?;
    out.extend_from_slice(message);
    Ok(out)
}

pub(super) fn decode_held(bytes: &[u8]) -> Result<(u64, MlsMessage)> {
    let mut r = Reader::new(bytes);
    version(&mut r)?;
    let epoch = u64::decode(&mut r)?;
    let message = MlsMessage::decode(&mut r)?;
    r.finish()?;
    Ok((epoch, message))
}
