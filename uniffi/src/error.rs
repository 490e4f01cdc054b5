//! The one error of the bindings, by category, and the guard that keeps
//! panics on the Rust side of the boundary.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Every error the bindings throw. The variant is the category the app
/// branches on (Kotlin: `is TesseraException.BadBytes`; Swift:
/// `catch TesseraError.BadBytes`; Python: `except TesseraError.BadBytes`);
/// `detail` keeps Tessera's own description.
///
/// | variant | from | what the app does |
/// |---|---|---|
/// | `BadBytes` | `tessera::Error::Decode` | drop the message |
/// | `ProtocolViolation` | `tessera::Error::Protocol`, or the app's validator refused a credential | drop it, maybe report the sender |
/// | `ApiMisuse` | `tessera::Error::Api`, or a call the bindings refuse | fix the calling code |
/// | `Storage` | `tessera::Error::Storage` (the Client's store, once wrapped) | retry, or fix the store |
/// | `Crypto` | `tessera::Error::Crypto` | drop the message |
/// | `Internal` | `tessera::Error::Internal`, a panic caught at the boundary, a validator that threw something other than a `TesseraError` | report it |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TesseraError {
    /// The bytes are not a well-formed encoding of what was expected.
    #[error("bad bytes: {detail}")]
    BadBytes {
        /// What was wrong.
        detail: String,
    },
    /// A peer broke a rule of RFC 9420, or the app's validator refused a
    /// credential the message brings in.
    #[error("protocol violation: {detail}")]
    ProtocolViolation {
        /// Which rule, or which credential and the validator's reason.
        detail: String,
    },
    /// The caller used the API wrongly.
    #[error("API misuse: {detail}")]
    ApiMisuse {
        /// What was wrong.
        detail: String,
    },
    /// The store failed; the operation changed nothing.
    #[error("storage: {detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
    /// A cryptographic primitive failed (bad key, failed decryption, bad
    /// signature).
    #[error("crypto: {detail}")]
    Crypto {
        /// What failed.
        detail: String,
    },
    /// A bug: in Tessera (a broken invariant, a panic caught at the
    /// boundary) or in a foreign callback that threw something unexpected.
    #[error("internal: {detail}")]
    Internal {
        /// What happened.
        detail: String,
    },
}

impl TesseraError {
    pub(crate) fn api(message: impl Into<String>) -> Self {
        Self::ApiMisuse {
            detail: message.into(),
        }
    }

    pub(crate) fn bad_bytes(message: impl Into<String>) -> Self {
        Self::BadBytes {
            detail: message.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::Internal {
            detail: message.into(),
        }
    }
}

impl From<tessera::Error> for TesseraError {
    fn from(e: tessera::Error) -> Self {
        // The inner error's own text: the variant already names the category.
        match e {
            tessera::Error::Decode(e) => Self::BadBytes {
                detail: e.to_string(),
            },
            tessera::Error::Protocol(e) => Self::ProtocolViolation {
                detail: e.to_string(),
            },
            tessera::Error::Api(e) => Self::ApiMisuse {
                detail: e.to_string(),
            },
            tessera::Error::Crypto(e) => Self::Crypto {
                detail: e.to_string(),
            },
            tessera::Error::Storage(e) => Self::Storage {
                detail: e.to_string(),
            },
            tessera::Error::Internal(m) => Self::Internal {
                detail: m.to_string(),
            },
            // `tessera::Error` is non-exhaustive. A category added to the
            // core must get its own arm here; until then it is reported as
            // internal, never dropped, with the core's full text.
            other => Self::Internal {
                detail: other.to_string(),
            },
        }
    }
}

/// The core's per-category errors, as some of its calls return them.
macro_rules! via_core_error {
    ($($t:ty),*) => {$(
        impl From<$t> for TesseraError {
            fn from(e: $t) -> Self {
                tessera::Error::from(e).into()
            }
        }
    )*};
}
via_core_error!(
    tessera::error::DecodeError,
    tessera::error::ProtocolError,
    tessera::error::ApiError,
    tessera::error::CryptoError,
    tessera::error::StorageError
);

/// A foreign callback (the validator) threw an exception that is not a
/// `TesseraError`: UniFFI hands it over as this, and it fails the operation.
impl From<uniffi::UnexpectedUniFFICallbackError> for TesseraError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Internal {
            detail: format!("a foreign callback failed: {}", e.reason),
        }
    }
}

/// Runs one exported call so that a panic inside it comes out as
/// [`TesseraError::Internal`] instead of unwinding into UniFFI's scaffolding
/// (which would turn it into a generic, untyped exception).
///
/// Shared state is only ever touched through a `Mutex`: a panic while it is
/// held poisons it, and every later call on that object fails with
/// `Internal` instead of using a half-updated state (see
/// [`crate::group::MlsGroup`]). That is why unwinding is safe to catch here.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, TesseraError>) -> Result<T, TesseraError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-text payload".to_owned());
            Err(TesseraError::internal(format!(
                "panic caught at the FFI boundary: {what}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::error::{ApiError, CryptoError, DecodeError, ProtocolError, StorageError};

    #[test]
    fn each_core_category_maps_to_its_own_variant_with_the_message() {
        let cases = [
            (
                tessera::Error::from(DecodeError::Truncated),
                TesseraError::bad_bytes("input ended early"),
            ),
            (
                ProtocolError::ConfirmationTagMismatch.into(),
                TesseraError::ProtocolViolation {
                    detail: "confirmation tag mismatch".into(),
                },
            ),
            (
                ApiError::InvalidArgument("x").into(),
                TesseraError::api("invalid argument: x"),
            ),
            (
                CryptoError::AeadOpenFailed.into(),
                TesseraError::Crypto {
                    detail: "AEAD decryption failed".into(),
                },
            ),
            (
                StorageError::Busy.into(),
                TesseraError::Storage {
                    detail: "store busy".into(),
                },
            ),
            (
                tessera::Error::Internal("broken"),
                TesseraError::internal("broken"),
            ),
        ];
        for (core, expected) in cases {
            assert_eq!(TesseraError::from(core), expected);
        }
    }

    #[test]
    fn guard_turns_a_panic_into_internal() {
        let r: Result<(), _> = guard(|| panic!("boom"));
        match r {
            Err(TesseraError::Internal { detail }) => assert!(detail.contains("boom")),
            other => panic!("expected Internal, got {other:?}"),
        }
        let formatted: Result<(), _> = guard(|| panic!("boom {}", 7));
        assert!(
            matches!(formatted, Err(TesseraError::Internal { detail }) if detail.contains("boom 7"))
        );
        assert_eq!(guard(|| Ok(3)), Ok(3));
    }
}
