//! Proposals (RFC 9420 §12.1).

/// A proposal type (RFC 9420 §17.4). Unknown and GREASE values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProposalType(pub u16);
crate::impl_codec_newtype!(ProposalType(u16));

impl ProposalType {
    /// `add` (§12.1.1).
    pub const ADD: Self = Self(1);
    /// `update` (§12.1.2).
    pub const UPDATE: Self = Self(2);
    /// `remove` (§12.1.3).
    pub const REMOVE: Self = Self(3);
    /// `psk` (§12.1.4).
    pub const PSK: Self = Self(4);
    /// `reinit` (§12.1.5).
    pub const REINIT: Self = Self(5);
    /// `external_init` (§12.1.6).
    pub const EXTERNAL_INIT: Self = Self(6);
    /// `group_context_extensions` (§12.1.7).
    pub const GROUP_CONTEXT_EXTENSIONS: Self = Self(7);

    /// Whether this is one of the proposal types RFC 9420 defines (1 to 7).
    /// These need not be listed in a leaf's capabilities (§7.2).
    pub fn is_default(self) -> bool {
        (1..=7).contains(&self.0)
    }
}
