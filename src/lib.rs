//! # Tessera
//!
//! A pure-Rust, sans-IO implementation of Messaging Layer Security
//! (MLS, [RFC 9420](https://www.rfc-editor.org/rfc/rfc9420)).
//!
//! The library never opens a socket, reads a clock or spawns a thread: bytes
//! and the current time go in, bytes and events come out.
//!
//! Layers, lowest first (a module only uses the ones above it in this list):
//! [`error`], [`codec`], [`tree_math`], [`crypto`], [`messages`], [`tree`],
//! [`psk`], [`key_schedule`], [`secret_tree`], [`transcript`], [`framing`],
//! [`welcome`], [`group`], then [`client`] and [`storage`] on top.
//!
//! Start with [`client::Client`]: one per device, it owns the identity,
//! KeyPackages and groups, applies the application's validation and policy
//! hooks, reports events and stores state incrementally.
//! [`group::Group`] is the low-level engine underneath, for those who
//! manage state themselves; `examples/two_members.rs` shows it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// No input may make the library panic: outside tests, no unwrap, expect,
// panic, unreachable or unchecked indexing (CI runs clippy with -D warnings).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::indexing_slicing
    )
)]

pub mod client;
pub mod codec;
pub mod crypto;
pub mod error;
pub mod framing;
pub mod group;
pub mod key_schedule;
pub mod messages;
mod parallel;
pub mod psk;
pub mod secret_tree;
pub mod storage;
pub mod transcript;
pub mod tree;
pub mod tree_math;
pub mod welcome;

pub use error::{Error, Result};

/// The README's code examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
