//! Protection of the sensitive fields at rest (DESIGN §6): AES-256-GCM encryption, and a keyed
//! blind index (HMAC-SHA256) so an ID number can be found without being stored in the clear.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Marks the format and key generation of a ciphertext, so keys can be rotated later.
const CIPHERTEXT_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// Derives a 32-byte key for one purpose from a configured secret (any length ≥ 32 bytes).
fn derive_key(purpose: &str, secret: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"fenghua-registry/");
    hasher.update(purpose.as_bytes());
    hasher.update([0]);
    hasher.update(secret);
    hasher.finalize().into()
}

#[derive(Debug, thiserror::Error)]
#[error("a protected value cannot be decrypted (wrong key, or the stored value was altered)")]
pub struct DecryptError;

/// Encrypts field values. The associated data binds each ciphertext to its column and row, so a
/// value copied into another row or column does not decrypt.
pub struct FieldCipher {
    cipher: Aes256Gcm,
}

impl FieldCipher {
    pub fn new(secret: &[u8]) -> Self {
        let key = derive_key("field-encryption", secret);
        FieldCipher {
            cipher: Aes256Gcm::new_from_slice(&key).expect("a 32-byte key"),
        }
    }

    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{CIPHERTEXT_PREFIX}{}", B64.encode(out))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Result<String, DecryptError> {
        let encoded = stored.strip_prefix(CIPHERTEXT_PREFIX).ok_or(DecryptError)?;
        let bytes = B64.decode(encoded).map_err(|_| DecryptError)?;
        if bytes.len() < NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| DecryptError)?;
        String::from_utf8(plain).map_err(|_| DecryptError)
    }
}

/// A keyed hash for exact lookup: equal values give equal indexes, and without the key the index
/// tells nothing (unlike a plain hash of an ID number, which can be brute-forced).
pub struct BlindIndex {
    /// The HMAC with its key taken in, cloned for each value: the key is not hashed into its
    /// pads again for every row of an import.
    keyed: Hmac<Sha256>,
}

impl BlindIndex {
    pub fn new(secret: &[u8]) -> Self {
        let key = derive_key("blind-index", secret);
        BlindIndex {
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key"),
        }
    }

    pub fn of(&self, value: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The cipher and the index, built once at start.
pub struct Protector {
    pub cipher: FieldCipher,
    pub index: BlindIndex,
}

impl Protector {
    pub fn new(encryption_secret: &[u8], index_secret: &[u8]) -> Self {
        Protector {
            cipher: FieldCipher::new(encryption_secret),
            index: BlindIndex::new(index_secret),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bound_to_context() {
        let cipher = FieldCipher::new(&[1u8; 32]);
        let stored = cipher.encrypt("330213199001011234", "residents.id_number:abc");
        assert!(!stored.contains("330213"));
        assert_ne!(
            stored,
            cipher.encrypt("330213199001011234", "residents.id_number:abc"),
            "random nonce"
        );
        assert_eq!(
            cipher.decrypt(&stored, "residents.id_number:abc").unwrap(),
            "330213199001011234"
        );
        assert!(cipher
            .decrypt(&stored, "residents.id_number:other")
            .is_err());
        assert!(cipher.decrypt(&stored, "residents.phone:abc").is_err());
        assert!(FieldCipher::new(&[2u8; 32])
            .decrypt(&stored, "residents.id_number:abc")
            .is_err());
        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push('A');
        assert!(
            cipher
                .decrypt(&tampered, "residents.id_number:abc")
                .is_err()
                || tampered == stored
        );
    }

    #[test]
    fn blind_index_is_keyed_and_stable() {
        let a = BlindIndex::new(&[1u8; 32]);
        let b = BlindIndex::new(&[2u8; 32]);
        assert_eq!(a.of("x"), a.of("x"));
        assert_ne!(a.of("x"), a.of("y"));
        assert_ne!(a.of("x"), b.of("x"));
        assert_eq!(a.of("x").len(), 64);
    }
}
