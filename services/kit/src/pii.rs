//! Personal data at rest: AES-256-GCM encryption with rotatable keys, a
//! keyed hash (HMAC-SHA256 "blind index") for exact look-ups such as a
//! duplicate ID number, and the masks shown to callers not entitled to see
//! the data.
//!
//! A ciphertext names the key that sealed it, so old rows stay readable
//! after a new key becomes active; each is bound (as associated data) to the
//! field and record it belongs to, so a ciphertext copied to another row or
//! column does not decrypt.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Why personal data could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("personal-data key configuration is invalid: {0}")]
    Config(String),
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext was sealed with key `{0}`, which is not configured")]
    UnknownKey(String),
    #[error("ciphertext does not open with its key (tampered, or moved from another record)")]
    Tampered,
}

/// The keys personal data is sealed with.
#[derive(Clone)]
pub struct PiiCipher {
    keys: HashMap<String, Aes256Gcm>,
    active: String,
    index_key: Vec<u8>,
}

impl fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PiiCipher")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl PiiCipher {
    /// Builds a cipher from `kid:base64key` pairs (comma separated, each key
    /// 32 bytes), the id of the key new data is sealed with, and the
    /// base64 key of the blind index (at least 32 bytes).
    pub fn from_config(keys: &str, active: &str, index_key: &str) -> Result<Self, PiiError> {
        let mut map = HashMap::new();
        for entry in keys.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, b64) = entry.split_once(':').ok_or_else(|| {
                PiiError::Config(format!("`{kid}` is not kid:base64key", kid = redact(entry)))
            })?;
            if kid.is_empty()
                || kid.len() > 32
                || !kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(PiiError::Config(format!(
                    "key id `{kid}` must be 1–32 letters, digits, - or _"
                )));
            }
            let raw = STANDARD
                .decode(b64.trim())
                .map_err(|_| PiiError::Config(format!("key `{kid}` is not base64")))?;
            let cipher = Aes256Gcm::new_from_slice(&raw).map_err(|_| {
                PiiError::Config(format!("key `{kid}` must be 32 bytes, not {}", raw.len()))
            })?;
            map.insert(kid.to_owned(), cipher);
        }
        if !map.contains_key(active) {
            return Err(PiiError::Config(format!(
                "active key `{active}` is not among the configured keys"
            )));
        }
        let index_key = STANDARD
            .decode(index_key.trim())
            .map_err(|_| PiiError::Config("index key is not base64".into()))?;
        if index_key.len() < 32 {
            return Err(PiiError::Config(
                "index key must be at least 32 bytes".into(),
            ));
        }
        Ok(PiiCipher {
            keys: map,
            active: active.to_owned(),
            index_key,
        })
    }

    /// A cipher with fresh random keys, for tests and first start-up.
    pub fn generate() -> (Self, GeneratedKeys) {
        let generated = GeneratedKeys::new();
        let cipher =
            PiiCipher::from_config(&generated.keys, &generated.active, &generated.index_key)
                .expect("generated keys are valid");
        (cipher, generated)
    }

    /// Seals `plain` for the field and record named in `context`.
    pub fn seal(&self, plain: &str, context: &str) -> Vec<u8> {
        let cipher = &self.keys[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short field cannot fail");
        let kid = self.active.as_bytes();
        let mut out = Vec::with_capacity(2 + kid.len() + NONCE_LEN + sealed.len());
        out.push(FORMAT_VERSION);
        out.push(kid.len() as u8);
        out.extend_from_slice(kid);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a ciphertext made by [`seal`](Self::seal) with the same context.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<String, PiiError> {
        let (kid, nonce, body) = split(sealed)?;
        let cipher = self
            .keys
            .get(kid)
            .ok_or_else(|| PiiError::UnknownKey(kid.to_owned()))?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| PiiError::Malformed)?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| PiiError::Tampered)?;
        String::from_utf8(plain).map_err(|_| PiiError::Malformed)
    }

    /// Whether a ciphertext was sealed with a key other than the active one
    /// (and so should be sealed again when keys rotate).
    pub fn is_stale(&self, sealed: &[u8]) -> bool {
        split(sealed)
            .map(|(kid, _, _)| kid != self.active)
            .unwrap_or(true)
    }

    /// The keyed hash of a value for exact look-ups: equal inputs give equal
    /// hashes, and without the key the hash says nothing of the input.
    pub fn blind_index(&self, value: &str, context: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC takes keys of any length");
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

fn split(sealed: &[u8]) -> Result<(&str, &[u8], &[u8]), PiiError> {
    let (&version, rest) = sealed.split_first().ok_or(PiiError::Malformed)?;
    if version != FORMAT_VERSION {
        return Err(PiiError::Malformed);
    }
    let (&kid_len, rest) = rest.split_first().ok_or(PiiError::Malformed)?;
    let kid_len = usize::from(kid_len);
    if rest.len() < kid_len + NONCE_LEN + 16 {
        return Err(PiiError::Malformed);
    }
    let (kid, rest) = rest.split_at(kid_len);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let kid = std::str::from_utf8(kid).map_err(|_| PiiError::Malformed)?;
    Ok((kid, nonce, body))
}

fn redact(entry: &str) -> String {
    entry.chars().take(4).chain("…".chars()).collect()
}

/// Freshly generated key material, in the configuration's own format.
#[derive(Clone)]
pub struct GeneratedKeys {
    /// `kid:base64key`.
    pub keys: String,
    /// The active key id.
    pub active: String,
    /// The base64 blind-index key.
    pub index_key: String,
}

impl fmt::Debug for GeneratedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKeys")
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl GeneratedKeys {
    fn new() -> Self {
        let mut key = [0u8; 32];
        let mut index = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        rand::rngs::OsRng.fill_bytes(&mut index);
        let active = "k1".to_owned();
        GeneratedKeys {
            keys: format!("{active}:{}", STANDARD.encode(key)),
            active,
            index_key: STANDARD.encode(index),
        }
    }
}

/// Masks an ID number: the first four and last four characters stay, the
/// rest become `*` (`4213**********1234`).
pub fn mask_id_number(id: &str) -> String {
    mask_middle(id, 4, 4)
}

/// Masks a phone number: the first three and last four digits stay
/// (`138****5678`).
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

fn mask_middle(text: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_start || i >= chars.len() - keep_end {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let (c, _) = PiiCipher::generate();
        let sealed = c.seal("42132119750101123X", "member.id_number:1");
        assert_ne!(&sealed[..], b"42132119750101123X");
        assert_eq!(
            c.open(&sealed, "member.id_number:1").unwrap(),
            "42132119750101123X"
        );
        // Each seal uses a fresh nonce.
        assert_ne!(sealed, c.seal("42132119750101123X", "member.id_number:1"));
    }

    #[test]
    fn a_ciphertext_is_bound_to_its_record() {
        let (c, _) = PiiCipher::generate();
        let sealed = c.seal("13800001234", "member.phone:1");
        assert!(matches!(
            c.open(&sealed, "member.phone:2"),
            Err(PiiError::Tampered)
        ));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            c.open(&flipped, "member.phone:1"),
            Err(PiiError::Tampered)
        ));
        assert!(matches!(
            c.open(&sealed[..10], "member.phone:1"),
            Err(PiiError::Malformed)
        ));
    }

    #[test]
    fn old_keys_still_open_after_rotation() {
        let (old, g) = PiiCipher::generate();
        let sealed = old.seal("x", "ctx");
        let new_key = STANDARD.encode([7u8; 32]);
        let rotated =
            PiiCipher::from_config(&format!("{},k2:{new_key}", g.keys), "k2", &g.index_key)
                .unwrap();
        assert!(rotated.is_stale(&sealed));
        assert_eq!(rotated.open(&sealed, "ctx").unwrap(), "x");
        let resealed = rotated.seal("x", "ctx");
        assert!(!rotated.is_stale(&resealed));
        // A cipher without the old key cannot open old data, and says which key it needs.
        let only_new =
            PiiCipher::from_config(&format!("k2:{new_key}"), "k2", &g.index_key).unwrap();
        assert!(matches!(only_new.open(&sealed, "ctx"), Err(PiiError::UnknownKey(k)) if k == "k1"));
    }

    #[test]
    fn blind_index_is_keyed_and_stable() {
        let (a, _) = PiiCipher::generate();
        let (b, _) = PiiCipher::generate();
        assert_eq!(a.blind_index("x", "id"), a.blind_index("x", "id"));
        assert_ne!(a.blind_index("x", "id"), a.blind_index("y", "id"));
        assert_ne!(a.blind_index("x", "id"), a.blind_index("x", "phone"));
        assert_ne!(a.blind_index("x", "id"), b.blind_index("x", "id"));
    }

    #[test]
    fn configuration_errors_are_precise() {
        let k = STANDARD.encode([1u8; 32]);
        let short = STANDARD.encode([1u8; 16]);
        let idx = STANDARD.encode([2u8; 32]);
        let e = |keys: &str, active: &str, index: &str| {
            PiiCipher::from_config(keys, active, index)
                .unwrap_err()
                .to_string()
        };
        assert!(e(&format!("k1:{short}"), "k1", &idx).contains("32 bytes, not 16"));
        assert!(e(&format!("k1:{k}"), "k9", &idx).contains("active key `k9`"));
        assert!(e("k1", "k1", &idx).contains("kid:base64key"));
        assert!(e(&format!("k1:{k}"), "k1", "AAAA").contains("at least 32 bytes"));
        assert!(e(&format!("k 1:{k}"), "k 1", &idx).contains("key id"));
    }

    #[test]
    fn masks() {
        assert_eq!(mask_id_number("421321197501011234"), "4213**********1234");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("123"), "***");
        assert_eq!(mask_id_number(""), "");
    }
}
