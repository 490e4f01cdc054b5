//! Parent nodes and the `ratchet_tree` extension's node encoding
//! (RFC 9420 §7.1, §12.4.3.3).

use super::LeafNode;
use crate::codec::{Decode, Encode, Reader};
use crate::crypto::HpkePublicKey;
use crate::error::{ApiError, DecodeError};

/// A parent node of the ratchet tree (RFC 9420 §7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentNode {
    /// The node's HPKE public key.
    pub encryption_key: HpkePublicKey,
    /// The parent hash of this node's parent (§7.9).
    pub parent_hash: Vec<u8>,
    /// Leaves below this node that do not know its private key, in increasing order.
    pub unmerged_leaves: Vec<u32>,
}
crate::impl_codec_struct!(ParentNode {
    encryption_key,
    parent_hash,
    unmerged_leaves
});

/// A non-blank node of the ratchet tree (RFC 9420 §12.4.3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// `leaf(1)`.
    Leaf(LeafNode),
    /// `parent(2)`.
    Parent(ParentNode),
}

impl Encode for Node {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        match self {
            Self::Leaf(l) => {
                out.push(1);
                l.encode(out)
            }
            Self::Parent(p) => {
                out.push(2);
                p.encode(out)
            }
        }
    }
}

impl Decode for Node {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.read_u8()? {
            1 => LeafNode::decode(r).map(Self::Leaf),
            2 => ParentNode::decode(r).map(Self::Parent),
            _ => Err(DecodeError::InvalidValue("NodeType")),
        }
    }
}

/// The content of the `ratchet_tree` extension: `optional<Node> ratchet_tree<V>`,
/// one entry per node in array order, `None` for blank nodes (RFC 9420 §12.4.3.3).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RatchetTreeExtension(pub Vec<Option<Node>>);
crate::impl_codec_newtype!(RatchetTreeExtension(Vec<Option<Node>>));
impl super::ExtensionData for RatchetTreeExtension {
    const TYPE: super::ExtensionType = super::ExtensionType::RATCHET_TREE;
}
