//! UpdatePath (RFC 9420 §7.6).

use super::LeafNode;
use crate::crypto::{HpkeCiphertext, HpkePublicKey};

/// One node of an UpdatePath: a new public key and the path secret encrypted
/// to each node of the copath child's resolution (RFC 9420 §7.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdatePathNode {
    /// The new public key of this direct-path node.
    pub encryption_key: HpkePublicKey,
    /// The path secret, encrypted to each node in the resolution, in order.
    pub encrypted_path_secret: Vec<HpkeCiphertext>,
}
crate::impl_codec_struct!(UpdatePathNode {
    encryption_key,
    encrypted_path_secret
});

/// The new keys a committer sends for its filtered direct path (RFC 9420 §7.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdatePath {
    /// The committer's new leaf node (source `commit`).
    pub leaf_node: LeafNode,
    /// One entry per node of the filtered direct path, leaf to root.
    pub nodes: Vec<UpdatePathNode>,
}
crate::impl_codec_struct!(UpdatePath { leaf_node, nodes });
