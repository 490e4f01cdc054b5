//! Live interop of Tessera with openmls 0.9 and mls-rs 0.57: every scenario
//! of `scenarios` in every suite both Tessera and the peer's pure-Rust
//! provider have, with handshakes as PublicMessage and as PrivateMessage.
//! Test names: `<peer>::suite_<suite>::<wire>::<scenario>`.

mod harness;
mod mls_rs_impl;
mod openmls_impl;
mod scenarios;
mod tessera_impl;

use harness::{Impl, Wire};

macro_rules! scenario_tests {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            crate::scenarios::$name(PEER, SUITE, WIRE);
        }
    )*};
}

macro_rules! suite {
    ($suite:ident = $code:expr, $scenarios:tt) => {
        mod $suite {
            use super::*;
            const SUITE: u16 = $code;
            mod public {
                use super::*;
                const WIRE: Wire = Wire::Public;
                scenario_tests! $scenarios;
            }
            mod private {
                use super::*;
                const WIRE: Wire = Wire::Private;
                scenario_tests! $scenarios;
            }
        }
    };
}

macro_rules! suites {
    ($peer:ident = $imp:expr, [$($suite:ident = $code:expr),*], $scenarios:tt) => {
        mod $peer {
            use super::*;
            const PEER: Impl = $imp;
            $(suite!($suite = $code, $scenarios);)*
        }
    };
}

suites!(
    openmls = Impl::OpenMls,
    [suite_0001 = 1, suite_0002 = 2, suite_0003 = 3],
    [
        welcome_both_ways,
        mixed_group,
        proposals_by_reference,
        external_joins,
        hundred_members,
        tampered_and_replayed
    ]
);

suites!(
    mls_rs = Impl::MlsRs,
    [
        suite_0001 = 1,
        suite_0002 = 2,
        suite_0003 = 3,
        suite_0007 = 7
    ],
    [
        welcome_both_ways,
        mixed_group,
        proposals_by_reference,
        external_joins,
        hundred_members,
        tampered_and_replayed,
        reinit,
        branch
    ]
);

/// The suites listed above are exactly those both sides have.
#[test]
fn suites_tested_are_the_peers() {
    assert_eq!(Impl::OpenMls.suites(), [1, 2, 3]);
    assert_eq!(Impl::MlsRs.suites(), [1, 2, 3, 7]);
}
