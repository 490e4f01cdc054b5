//! HPKE (RFC 9180 base mode) through hpke-rs. (Being written.)

use super::{Algorithms, SharedRng};
use crate::crypto::{HpkeCiphertext, HpkePrivateKey, HpkePublicKey};
use crate::error::CryptoError;

const TODO: CryptoError = CryptoError::Other("HPKE not available yet");

pub(super) fn seal(
    _algs: &Algorithms,
    _rng: &SharedRng,
    _pk: &HpkePublicKey,
    _info: &[u8],
    _aad: &[u8],
    _pt: &[u8],
) -> Result<HpkeCiphertext, CryptoError> {
    Err(TODO)
}

pub(super) fn open(
    _algs: &Algorithms,
    _sk: &HpkePrivateKey,
    _ct: &HpkeCiphertext,
    _info: &[u8],
    _aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    Err(TODO)
}

pub(super) fn derive_key_pair(
    _algs: &Algorithms,
    _ikm: &[u8],
) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError> {
    Err(TODO)
}

pub(super) fn generate_key_pair(
    _algs: &Algorithms,
    _rng: &SharedRng,
) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError> {
    Err(TODO)
}

pub(super) fn public_key(
    algs: &Algorithms,
    _sk: &HpkePrivateKey,
) -> Result<HpkePublicKey, CryptoError> {
    let _ = algs.kem;
    Err(TODO)
}
