//! Decryption of `dbObject`: AES-CTR as K2HB writes it, and AES-GCM.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{AesGcm, aead::consts::U12};
use ctr::cipher::{KeyIvInit, StreamCipher};

/// The cipher a run's records were written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cipher {
    /// AES-CTR, the 16-byte IV read as one 128-bit big-endian counter that wraps
    /// modulo 2^128 (PyCryptodome `Counter.new(128, initial_value=int(iv))`).
    #[default]
    Ctr,
    /// AES-GCM: 12-byte nonce, 16-byte tag appended to the ciphertext.
    Gcm,
}

impl Cipher {
    /// The IV length this cipher needs.
    pub fn iv_len(self) -> usize {
        match self {
            Cipher::Ctr => 16,
            Cipher::Gcm => 12,
        }
    }

    /// Parses `aes-ctr` / `ctr` / `aes-gcm` / `gcm`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "aes-ctr" | "ctr" => Some(Cipher::Ctr),
            "aes-gcm" | "gcm" => Some(Cipher::Gcm),
            _ => None,
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Cipher::Ctr => "aes-ctr",
            Cipher::Gcm => "aes-gcm",
        }
    }
}

/// Why a ciphertext did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// The data key is not 16, 24 or 32 bytes.
    KeyLength(usize),
    /// The IV is not the cipher's length.
    IvLength(usize),
    /// GCM: the tag did not verify (wrong key, or tampered data).
    TagMismatch,
}

impl std::fmt::Display for DecryptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecryptError::KeyLength(n) => write!(f, "data key is {n} bytes, not 16, 24 or 32"),
            DecryptError::IvLength(n) => write!(f, "initialisation vector is {n} bytes"),
            DecryptError::TagMismatch => f.write_str("authentication tag mismatch"),
        }
    }
}

type Ctr128<C> = ctr::Ctr128BE<C>;

fn ctr_apply<C>(key: &[u8], iv: &[u8], data: &mut [u8])
where
    C: aes::cipher::BlockCipher + aes::cipher::BlockEncrypt + aes::cipher::KeyInit,
    C: aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    // Lengths were checked by the caller, so construction cannot fail.
    if let Ok(mut cipher) = Ctr128::<C>::new_from_slices(key, iv) {
        cipher.apply_keystream(data);
    }
}

fn check_lengths(cipher: Cipher, key: &[u8], iv: &[u8]) -> Result<(), DecryptError> {
    if !matches!(key.len(), 16 | 24 | 32) {
        return Err(DecryptError::KeyLength(key.len()));
    }
    if iv.len() != cipher.iv_len() {
        return Err(DecryptError::IvLength(iv.len()));
    }
    Ok(())
}

/// AES-CTR over `data` in place (its own inverse).
fn ctr(key: &[u8], iv: &[u8], data: &mut [u8]) {
    match key.len() {
        16 => ctr_apply::<Aes128>(key, iv, data),
        24 => ctr_apply::<Aes192>(key, iv, data),
        _ => ctr_apply::<Aes256>(key, iv, data),
    }
}

/// AES-GCM seal or open; `None` when the tag does not verify.
fn gcm(key: &[u8], iv: &[u8], data: &[u8], seal: bool) -> Option<Vec<u8>> {
    fn run<C>(key: &[u8], nonce: &aes_gcm::Nonce<U12>, data: &[u8], seal: bool) -> Option<Vec<u8>>
    where
        C: KeyInit + Aead + aes_gcm::aead::AeadCore<NonceSize = U12>,
    {
        let cipher = C::new_from_slice(key).ok()?;
        let payload = Payload {
            msg: data,
            aad: b"",
        };
        if seal {
            cipher.encrypt(nonce, payload).ok()
        } else {
            cipher.decrypt(nonce, payload).ok()
        }
    }
    let nonce = aes_gcm::Nonce::<U12>::from_slice(iv);
    match key.len() {
        16 => run::<AesGcm<Aes128, U12>>(key, nonce, data, seal),
        24 => run::<AesGcm<Aes192, U12>>(key, nonce, data, seal),
        _ => run::<AesGcm<Aes256, U12>>(key, nonce, data, seal),
    }
}

fn apply(
    cipher: Cipher,
    key: &[u8],
    iv: &[u8],
    mut data: Vec<u8>,
    seal: bool,
) -> Result<Vec<u8>, DecryptError> {
    check_lengths(cipher, key, iv)?;
    match cipher {
        Cipher::Ctr => {
            ctr(key, iv, &mut data);
            Ok(data)
        }
        // Sealing cannot fail once lengths are checked; opening fails on the tag.
        Cipher::Gcm => gcm(key, iv, &data, seal).ok_or(DecryptError::TagMismatch),
    }
}

/// Decrypts: CTR in place, GCM into a new buffer (verifying the tag).
pub fn decrypt(
    cipher: Cipher,
    key: &[u8],
    iv: &[u8],
    data: Vec<u8>,
) -> Result<Vec<u8>, DecryptError> {
    apply(cipher, key, iv, data, false)
}

/// Encrypts (for the generator, tests and benchmarks): CTR in place, GCM with
/// the tag appended.
pub fn encrypt(
    cipher: Cipher,
    key: &[u8],
    iv: &[u8],
    data: Vec<u8>,
) -> Result<Vec<u8>, DecryptError> {
    apply(cipher, key, iv, data, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctr_counter_wraps_at_2_pow_128() {
        let key = [7u8; 16];
        let top = [0xFFu8; 16];
        let zero = [0u8; 16];
        // Block 0 under IV 2^128-1, then block 1 must use counter 0.
        let two_blocks = decrypt(Cipher::Ctr, &key, &top, vec![0u8; 32]).unwrap();
        let from_zero = decrypt(Cipher::Ctr, &key, &zero, vec![0u8; 16]).unwrap();
        assert_eq!(&two_blocks[16..], &from_zero[..]);
    }

    #[test]
    fn gcm_round_trip_and_tamper() {
        for key_len in [16, 24, 32] {
            let key = vec![3u8; key_len];
            let iv = [9u8; 12];
            let sealed = encrypt(Cipher::Gcm, &key, &iv, b"{\"a\": 1}".to_vec()).unwrap();
            assert_eq!(
                decrypt(Cipher::Gcm, &key, &iv, sealed.clone()).unwrap(),
                b"{\"a\": 1}"
            );
            let mut bad = sealed;
            bad[0] ^= 1;
            assert_eq!(
                decrypt(Cipher::Gcm, &key, &iv, bad),
                Err(DecryptError::TagMismatch)
            );
        }
    }

    #[test]
    fn lengths_checked() {
        assert_eq!(
            decrypt(Cipher::Ctr, &[0; 15], &[0; 16], vec![]),
            Err(DecryptError::KeyLength(15))
        );
        assert_eq!(
            decrypt(Cipher::Ctr, &[0; 16], &[0; 12], vec![]),
            Err(DecryptError::IvLength(12))
        );
    }
}
