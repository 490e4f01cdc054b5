//! Signatures: Ed25519, Ed448, ECDSA over P-256/P-384/P-521. (Being written.)

use super::{SharedRng, SigAlg};
use crate::crypto::{SignaturePrivateKey, SignaturePublicKey};
use crate::error::CryptoError;

const TODO: CryptoError = CryptoError::Other("signatures not available yet");

pub(super) fn sign(
    _alg: SigAlg,
    _rng: &SharedRng,
    _key: &SignaturePrivateKey,
    _msg: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    Err(TODO)
}

pub(super) fn verify(
    _alg: SigAlg,
    _key: &SignaturePublicKey,
    _msg: &[u8],
    _sig: &[u8],
) -> Result<(), CryptoError> {
    Err(TODO)
}

pub(super) fn generate_key_pair(
    _alg: SigAlg,
    _rng: &SharedRng,
) -> Result<(SignaturePrivateKey, SignaturePublicKey), CryptoError> {
    Err(TODO)
}

pub(super) fn public_key(
    _alg: SigAlg,
    _key: &SignaturePrivateKey,
) -> Result<SignaturePublicKey, CryptoError> {
    Err(TODO)
}
