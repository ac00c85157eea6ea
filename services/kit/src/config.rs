//! Configuration helpers. Every binary has one typed configuration struct
//! (clap, flags with environment fallbacks) built from the kit's pieces:
//! [`crate::db::DatabaseArgs`], [`crate::auth::AuthArgs`],
//! [`crate::server::ServerArgs`], [`crate::telemetry::TelemetryArgs`] and
//! [`PiiArgs`].

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use crate::pii::{PiiCipher, PiiError};

/// Parses a duration such as `250ms`, `5s`, `2m`, `1h` or `184d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: ms, s, m, h or d"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a number followed by a unit"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        "d" => Ok(Duration::from_secs(n * 86_400)),
        _ => Err(format!(
            "`{unit}` in `{text}` is not a unit: use ms, s, m, h or d"
        )),
    }
}

/// Keys for personal data at rest.
#[derive(Clone, Debug, clap::Args)]
pub struct PiiArgs {
    /// Encryption keys as `kid:base64key` (32-byte keys), comma separated.
    /// Keep old keys listed after rotating so old rows stay readable.
    #[arg(long, env = "CPPCC_PII_KEYS", hide_env_values = true)]
    pub pii_keys: SecretString,
    /// The key id new data is encrypted with.
    #[arg(long, env = "CPPCC_PII_ACTIVE_KEY")]
    pub pii_active_key: String,
    /// The base64 key (32 bytes or more) of the keyed hash used for exact
    /// look-ups of personal data such as duplicate ID numbers.
    #[arg(long, env = "CPPCC_PII_INDEX_KEY", hide_env_values = true)]
    pub pii_index_key: SecretString,
}

impl PiiArgs {
    /// The cipher these keys make.
    pub fn cipher(&self) -> Result<PiiCipher, PiiError> {
        PiiCipher::from_config(
            self.pii_keys.expose_secret(),
            &self.pii_active_key,
            self.pii_index_key.expose_secret(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5").unwrap_err().contains("needs a unit"));
        assert_eq!(
            parse_duration("184d"),
            Ok(Duration::from_secs(184 * 86_400))
        );
        assert!(parse_duration("5w").unwrap_err().contains("is not a unit"));
        assert!(parse_duration("s").is_err());
    }
}
