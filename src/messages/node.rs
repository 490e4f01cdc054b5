//! Parent nodes and the `ratchet_tree` extension's node encoding
//! (RFC 9420 §7.1, §12.4.3.3).

use std::sync::Arc;

use super::LeafNode;
use crate::codec::{Decode, Encode, Reader};
use crate::crypto::HpkePublicKey;
use crate::error::{ApiError, DecodeError, Error, ProtocolError, Result};

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
///
/// Nodes are shared (`Arc`): a blank node costs one pointer (8 bytes for its
/// one byte on the wire), a tree is built from the decoded entries without
/// copying them, and a tree hands out its nodes without copying them either
/// ([`crate::tree::RatchetTree::to_extension`]). To change a node, replace
/// it or use `Arc::make_mut`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RatchetTreeExtension(pub Vec<Option<Arc<Node>>>);

impl super::ExtensionData for RatchetTreeExtension {
    const TYPE: super::ExtensionType = super::ExtensionType::RATCHET_TREE;
}

impl RatchetTreeExtension {
    /// The number of leaf positions the node array spans: `ceil(n / 2)`
    /// for `n` entries (leaves sit at even indices).
    pub fn leaf_count(&self) -> u64 {
        width(self.0.len())
    }

    /// Fails with [`ProtocolError::GroupTooLarge`] if the array spans more
    /// than `max_leaves` leaf positions.
    pub fn check_width(&self, max_leaves: u32) -> Result<(), ProtocolError> {
        check_width(self.0.len(), max_leaves)
    }

    /// Decodes exactly `bytes` as a `ratchet_tree`, refusing with
    /// [`ProtocolError::GroupTooLarge`] as soon as the entries read span more
    /// than `max_leaves` leaf positions, so a too-wide tree costs at most the
    /// memory of `max_leaves` worth of entries. Memory is otherwise
    /// proportional to the input: a blank entry takes 8 bytes.
    pub fn decode_bounded(bytes: &[u8], max_leaves: u32) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let tree = Self::read(&mut r, max_leaves)?;
        r.finish()?;
        Ok(tree)
    }

    fn read(r: &mut Reader<'_>, max_leaves: u32) -> Result<Self> {
        let mut body = r.read_vec_body()?;
        let mut nodes = Vec::new();
        while !body.is_empty() {
            check_width(nodes.len().saturating_add(1), max_leaves)?;
            nodes.push(Option::<Arc<Node>>::decode(&mut body)?);
        }
        nodes.shrink_to_fit();
        Ok(Self(nodes))
    }
}

/// `ceil(n / 2)`: the leaf positions `n` node entries span.
fn width(n: usize) -> u64 {
    (n as u64).div_ceil(2)
}

fn check_width(n: usize, max_leaves: u32) -> Result<(), ProtocolError> {
    let leaves = width(n);
    if leaves > u64::from(max_leaves) {
        Err(ProtocolError::GroupTooLarge {
            leaves,
            max: max_leaves,
        })
    } else {
        Ok(())
    }
}

impl Encode for RatchetTreeExtension {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.0.encode(out)
    }
}

impl Decode for RatchetTreeExtension {
    /// Decodes a tree of any width the tree math allows (2^31 leaves); see
    /// [`RatchetTreeExtension::decode_bounded`] for a narrower bound.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::read(r, 1 << 31).map_err(|e| match e {
            Error::Decode(d) => d,
            _ => DecodeError::InvalidValue("ratchet_tree: more than 2^31 leaves"),
        })
    }
}
