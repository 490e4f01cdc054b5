//! `psk_secret.json`: chaining external PSKs into `psk_secret` (RFC 9420 §8.4).

use super::Outcome;
use super::json::{Case, array, check_bytes, hex, outcome, uint};
use tessera::crypto::{CipherSuite, RustCryptoProvider, Secret};
use tessera::messages::{PreSharedKeyId, Psk};
use tessera::psk::PskSecret;

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?;
    let cs = RustCryptoProvider::new()
        .suite(CipherSuite(suite))
        .map_err(|e| format!("cipher suite {suite}: {e}"))?;
    let mut psks = Vec::new();
    for p in array(case, "psks")? {
        let id = PreSharedKeyId {
            psk: Psk::External {
                psk_id: hex(p, "psk_id")?,
            },
            psk_nonce: hex(p, "psk_nonce")?,
        };
        psks.push((id, Secret::from(hex(p, "psk")?)));
    }
    let got = PskSecret::compute(&cs, psks.iter().map(|(id, psk)| (id, psk)))
        .map_err(|e| format!("psk_secret: {e}"))?;
    check_bytes(
        "psk_secret",
        got.as_secret().as_bytes(),
        &hex(case, "psk_secret")?,
    )
}
