//! The proposal policy and the commit's choice among cached proposals.
