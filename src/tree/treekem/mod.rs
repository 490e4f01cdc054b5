//! TreeKEM (RFC 9420 §7.4-§7.6): creating an UpdatePath as a committer,
//! merging one into the tree and decrypting its path secret as a receiver.
//!
//! A committer calls [`RatchetTree::create_update_path`], which puts the new
//! path and leaf into the tree, then builds the provisional GroupContext from
//! the tree hash and calls [`PendingUpdatePath::encrypt`]. A receiver calls
//! [`RatchetTree::merge_update_path`], builds the same GroupContext, and calls
//! [`RatchetTree::decrypt_update_path`]. Both sides get the commit secret.

mod create;
mod process;

pub use create::PendingUpdatePath;
pub use process::PathDecryption;

use crate::crypto::labeled::derive_secret;
use crate::crypto::{CipherSuiteProvider, HpkePrivateKey, HpkePublicKey, Secret};
use crate::error::Result;

/// The label of path secret encryption (RFC 9420 §7.6).
pub(super) const UPDATE_PATH_LABEL: &[u8] = b"UpdatePathNode";

/// `path_secret[n+1] = DeriveSecret(path_secret[n], "path")` (RFC 9420 §7.4).
pub(crate) fn next_path_secret(
    cs: &dyn CipherSuiteProvider,
    path_secret: &Secret,
) -> Result<Secret> {
    derive_secret(cs, path_secret.as_bytes(), b"path")
}

/// `node_secret = DeriveSecret(path_secret, "node")`, then
/// `KEM.DeriveKeyPair(node_secret)` (RFC 9420 §7.4).
pub(crate) fn node_key_pair(
    cs: &dyn CipherSuiteProvider,
    path_secret: &Secret,
) -> Result<(HpkePrivateKey, HpkePublicKey)> {
    let node_secret = derive_secret(cs, path_secret.as_bytes(), b"node")?;
    Ok(cs.hpke_derive_key_pair(node_secret.as_bytes())?)
}

/// The path secrets and key pairs of `n` consecutive path nodes starting
/// from `first`, and the secret after the last: the commit secret when the
/// last node is the root (RFC 9420 §7.4, §8).
pub(crate) struct DerivedPath {
    /// `path_secret[0..n]`.
    pub(crate) secrets: Vec<Secret>,
    /// The key pair of each node.
    pub(crate) keys: Vec<(HpkePrivateKey, HpkePublicKey)>,
    /// `path_secret[n]`.
    pub(crate) next: Secret,
}

/// Derives [`DerivedPath`] for `n` nodes from `first`.
pub(crate) fn derive_path_keys(
    cs: &dyn CipherSuiteProvider,
    first: Secret,
    n: usize,
) -> Result<DerivedPath> {
    let mut secrets = Vec::with_capacity(n);
    let mut node_secrets = Vec::with_capacity(n);
    let mut current = first;
    for _ in 0..n {
        node_secrets.push(derive_secret(cs, current.as_bytes(), b"node")?);
        let next = next_path_secret(cs, &current)?;
        secrets.push(core::mem::replace(&mut current, next));
    }
    // The key pairs together: a provider may share work between them.
    let ikms: Vec<&[u8]> = node_secrets.iter().map(Secret::as_bytes).collect();
    let keys = cs.hpke_derive_key_pairs(&ikms)?;
    if keys.len() != n {
        return Err(crate::error::CryptoError::Other(
            "provider derived a wrong number of key pairs",
        )
        .into());
    }
    Ok(DerivedPath {
        secrets,
        keys,
        next: current,
    })
}
