//! The wire structures of RFC 9420 as plain data with their encodings. No
//! group state and no algorithms live here.

mod extension;
mod group_context;
mod psk;

pub use extension::{Extension, ExtensionType};
pub use group_context::{GroupContext, ProtocolVersion};
pub use psk::{PreSharedKeyId, Psk, PskType, ResumptionPsk, ResumptionPskUsage};
