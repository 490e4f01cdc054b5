//! The wire structures of RFC 9420 as plain data with their encodings. No
//! group state and no algorithms live here.

mod capabilities;
mod credential;
mod extension;
mod group_context;
mod key_package;
mod leaf_node;
mod node;
mod proposal;
mod psk;
mod update_path;

pub use capabilities::{Capabilities, Lifetime};
pub use credential::{Credential, CredentialType};
pub use extension::{
    ApplicationId, Extension, ExtensionData, ExtensionList, ExtensionType, ExternalPub,
    ExternalSender, ExternalSenders, RequiredCapabilities, is_grease,
};
pub use group_context::{GroupContext, ProtocolVersion};
pub use key_package::{KeyPackage, KeyPackageRef};
pub use leaf_node::{LeafNode, LeafNodeGroupBinding, LeafNodeSource};
pub use node::{Node, ParentNode, RatchetTreeExtension};
pub use proposal::ProposalType;
pub use psk::{PreSharedKeyId, Psk, PskType, ResumptionPsk, ResumptionPskUsage};
pub use update_path::{UpdatePath, UpdatePathNode};
