//! Helpers shared by the adapter tests: basic credentials by name, and a
//! validator that refuses the names it is given.

use std::sync::{Arc, Mutex};

use tessera_uniffi::{
    Credential, CredentialCheck, CredentialUse, CredentialValidator, CredentialVerdict,
    TesseraError,
};

pub fn basic(name: &str) -> Credential {
    Credential::Basic {
        identity: name.as_bytes().to_vec(),
    }
}

pub fn name(c: &Credential) -> String {
    match c {
        Credential::Basic { identity } => String::from_utf8_lossy(identity).into_owned(),
        other => format!("{other:?}"),
    }
}

/// Refuses the names it is given; records every check.
#[derive(Default)]
pub struct Names {
    pub blocked: Vec<&'static str>,
    pub seen: Mutex<Vec<(CredentialUse, String)>>,
}

impl Names {
    pub fn blocking(blocked: &[&'static str]) -> Arc<Self> {
        Arc::new(Self {
            blocked: blocked.to_vec(),
            ..Self::default()
        })
    }
}

impl CredentialValidator for Names {
    fn validate(&self, check: CredentialCheck) -> Result<CredentialVerdict, TesseraError> {
        let n = name(&check.credential);
        self.seen.lock().unwrap().push((check.usage, n.clone()));
        Ok(if self.blocked.contains(&n.as_str()) {
            CredentialVerdict::Reject {
                reason: format!("{n} is blocked"),
            }
        } else {
            CredentialVerdict::Accept
        })
    }

    fn same_participant(&self, old: Credential, new: Credential) -> Result<bool, TesseraError> {
        Ok(old == new)
    }
}
