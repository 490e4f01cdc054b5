//! The wire structures of RFC 9420 as plain data with their encodings. No
//! group state and no algorithms live here.

mod authenticated_content;
mod capabilities;
mod commit;
mod credential;
mod extension;
mod framed_content;
mod group_context;
mod group_info;
mod key_package;
mod leaf_node;
mod mls_message;
mod node;
mod private_message;
mod proposal;
mod psk;
mod public_message;
mod sender;
#[cfg(test)]
mod test_support;
mod update_path;
mod welcome;
mod wire_format;

pub use authenticated_content::{AuthenticatedContent, AuthenticatedContentTbm};
pub use capabilities::{Capabilities, Lifetime};
pub use commit::{Commit, ProposalOrRef, ProposalRef};
pub use credential::{Credential, CredentialType};
pub use extension::{
    ApplicationId, Extension, ExtensionData, ExtensionList, ExtensionType, ExternalPub,
    ExternalSender, ExternalSenders, RequiredCapabilities, is_grease,
};
pub use framed_content::{
    ContentType, FramedContent, FramedContentAuthData, FramedContentBody, FramedContentTbs,
};
pub use group_context::{GroupContext, ProtocolVersion};
pub use group_info::GroupInfo;
pub use key_package::{KeyPackage, KeyPackageRef};
pub use leaf_node::{LeafNode, LeafNodeGroupBinding, LeafNodeSource};
pub use mls_message::MlsMessage;
pub use node::{Node, ParentNode, RatchetTreeExtension};
pub use private_message::{
    PrivateContentAad, PrivateMessage, PrivateMessageContent, SenderData, SenderDataAad,
};
pub use proposal::{
    Add, ExternalInit, GroupContextExtensions, PreSharedKey, Proposal, ProposalType, ReInit,
    Remove, Update,
};
pub use psk::{PreSharedKeyId, Psk, PskType, ResumptionPsk, ResumptionPskUsage};
pub use public_message::PublicMessage;
pub use sender::{Sender, SenderType};
pub use update_path::{EncryptedPathSecrets, UpdatePath, UpdatePathNode};
pub use welcome::{EncryptedGroupSecrets, GroupSecrets, PathSecret, Welcome};
pub use wire_format::WireFormat;
