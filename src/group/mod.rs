//! The group state machine (RFC 9420 §11, §12): the one home of protocol
//! policy. Being built.

mod proposals;

pub use proposals::CommittedProposal;
