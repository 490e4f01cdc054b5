//! `key-schedule.json`: the key schedule over five chained epochs (RFC 9420 §8),
//! the GroupContext (§8.1), `external_pub` (§8.3), the exporter (§8.5) and the
//! epoch authenticator (§8.7).

use super::Outcome;
use super::json::{Case, array, check_bytes, field, hex, outcome, string, uint};
use tessera::codec::Encode;
use tessera::crypto::{CipherSuite, RustCryptoProvider, Secret};
use tessera::key_schedule::{InitSecret, KeySchedule};
use tessera::messages::{GroupContext, ProtocolVersion};
use tessera::psk::PskSecret;

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let suite = CipherSuite(u16::try_from(uint(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = RustCryptoProvider::new()
        .suite(suite)
        .map_err(|e| format!("{suite:?}: {e}"))?;
    let group_id = hex(case, "group_id")?;
    let mut init_secret = InitSecret::from_secret(Secret::from(hex(case, "initial_init_secret")?));
    for (epoch, e) in array(case, "epochs")?.iter().enumerate() {
        let at = |what: &str| format!("epoch {epoch}: {what}");
        let group_context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: suite,
            group_id: group_id.clone(),
            epoch: epoch as u64,
            tree_hash: hex(e, "tree_hash")?,
            confirmed_transcript_hash: hex(e, "confirmed_transcript_hash")?,
            extensions: vec![],
        };
        let gc_bytes = group_context
            .to_bytes()
            .map_err(|err| at(&err.to_string()))?;
        check_bytes(&at("group_context"), &gc_bytes, &hex(e, "group_context")?)?;

        let ks = KeySchedule::derive(
            &cs,
            init_secret,
            Secret::from(hex(e, "commit_secret")?),
            PskSecret::from_secret(Secret::from(hex(e, "psk_secret")?)),
            &group_context,
        )
        .map_err(|err| at(&format!("key schedule: {err}")))?;
        let s = &ks.epoch_secrets;
        let secrets: [(&str, &Secret); 11] = [
            ("joiner_secret", ks.joiner_secret.as_secret()),
            ("welcome_secret", ks.welcome_secret.as_secret()),
            ("init_secret", s.init_secret.as_secret()),
            ("sender_data_secret", s.sender_data_secret.as_secret()),
            ("encryption_secret", &s.encryption_secret),
            ("exporter_secret", s.exporter_secret.as_secret()),
            ("epoch_authenticator", &s.epoch_authenticator),
            ("external_secret", s.external_secret.as_secret()),
            ("confirmation_key", &s.confirmation_key),
            ("membership_key", &s.membership_key),
            ("resumption_psk", &s.resumption_psk),
        ];
        for (name, got) in secrets {
            check_bytes(&at(name), got.as_bytes(), &hex(e, name)?)?;
        }

        let (_, external_pub) = s
            .external_secret
            .key_pair(&cs)
            .map_err(|err| at(&format!("external key pair: {err}")))?;
        check_bytes(
            &at("external_pub"),
            external_pub.as_bytes(),
            &hex(e, "external_pub")?,
        )?;

        // The label is a string, used as its bytes (it happens to look like hex).
        let x = field(e, "exporter")?;
        let length = u16::try_from(uint(x, "length")?).map_err(|err| at(&err.to_string()))?;
        let exported = s
            .exporter_secret
            .export(
                &cs,
                string(x, "label")?.as_bytes(),
                &hex(x, "context")?,
                length,
            )
            .map_err(|err| at(&format!("exporter: {err}")))?;
        check_bytes(
            &at("exporter.secret"),
            exported.as_bytes(),
            &hex(x, "secret")?,
        )?;

        init_secret = ks.epoch_secrets.init_secret;
    }
    Ok(())
}
