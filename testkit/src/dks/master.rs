//! The local key service's master secret, which wraps data keys with
//! AES-256-GCM under a per-keyId key (HKDF-SHA256 of the secret).

use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use weir_engine::keys::DataKey;
use weir_engine::record::base64;
use zeroize::Zeroizing;

use crate::{Error, Result};

const SECRET_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Fixed HKDF salt: a version tag, so a future scheme can derive other keys.
const HKDF_SALT: &[u8] = b"weir-dks-wrap-v1";

/// The local key service's master secret (32 bytes, hex in a file).
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; SECRET_LEN]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A master key from raw bytes (tests, deterministic generation).
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Reads the secret at `path`, or creates it (mode 0600, random) if the file
    /// does not exist. A file readable by group or others is refused: whoever
    /// reads it can unwrap every data key.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::metadata(path) {
            Ok(_) => Self::load(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(Error::Read {
                path: path.to_owned(),
                source: e,
            }),
        }
    }

    fn create(path: &Path) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let bytes: [u8; SECRET_LEN] = rand::random();
        let master = Self::from_bytes(bytes);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Write {
                path: dir.to_owned(),
                source: e,
            })?;
        }
        // create_new: two services starting at once must not overwrite each
        // other's secret; the loser reads the winner's.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Self::load(path),
            Err(e) => {
                return Err(Error::Write {
                    path: path.to_owned(),
                    source: e,
                });
            }
        };
        let hex: Zeroizing<String> =
            Zeroizing::new(master.0.iter().map(|b| format!("{b:02x}")).collect());
        file.write_all(hex.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::Write {
                path: path.to_owned(),
                source: e,
            })?;
        Ok(master)
    }

    fn load(path: &Path) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let bad = |detail: &str| Error::MasterKey {
            path: path.to_owned(),
            detail: detail.to_owned(),
        };
        let meta = std::fs::metadata(path).map_err(|e| Error::Read {
            path: path.to_owned(),
            source: e,
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(bad(
                "is readable or writable by group or others; chmod 600 it",
            ));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::Read {
            path: path.to_owned(),
            source: e,
        })?);
        let hex = text.trim();
        if hex.len() != SECRET_LEN * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("must hold 64 hexadecimal characters"));
        }
        let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
        for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).map_err(|_| bad("not hexadecimal"))?;
            bytes[i] = u8::from_str_radix(pair, 16).map_err(|_| bad("not hexadecimal"))?;
        }
        Ok(Self(bytes))
    }

    fn wrapping_cipher(&self, key_id: &str) -> Aes256Gcm {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), self.0.as_slice());
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8,160-byte limit.
        hk.expand(key_id.as_bytes(), okm.as_mut_slice())
            .unwrap_or_else(|_| unreachable!("32-byte HKDF output"));
        Aes256Gcm::new(okm.as_slice().into())
    }

    /// Wraps a data key under `key_id`: base64 of nonce ‖ AES-256-GCM
    /// ciphertext ‖ tag, the key id bound as associated data.
    pub fn wrap(&self, key_id: &str, data_key: &[u8], nonce: [u8; NONCE_LEN]) -> String {
        let sealed = self
            .wrapping_cipher(key_id)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: data_key,
                    aad: key_id.as_bytes(),
                },
            )
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a short message"));
        let mut out = nonce.to_vec();
        out.extend(sealed);
        base64::encode(&out)
    }

    /// Unwraps a data key wrapped by [`MasterKey::wrap`] under the same key id;
    /// `None` if it does not unwrap (another key id, another master, damage).
    pub fn unwrap_key(&self, key_id: &str, wrapped: &str) -> Option<DataKey> {
        let raw = base64::decode(wrapped.trim()).ok()?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        self.wrapping_cipher(key_id)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: key_id.as_bytes(),
                },
            )
            .ok()
            .map(DataKey::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_binds_the_key_id_and_the_master() {
        let master = MasterKey::from_bytes([7; 32]);
        let wrapped = master.wrap("cloudhsm:1,2", &[1, 2, 3, 4], [9; 12]);
        assert_eq!(
            master.unwrap_key("cloudhsm:1,2", &wrapped).unwrap().bytes(),
            &[1, 2, 3, 4]
        );
        assert!(
            master.unwrap_key("cloudhsm:7,8", &wrapped).is_none(),
            "another key id"
        );
        assert!(
            MasterKey::from_bytes([8; 32])
                .unwrap_key("cloudhsm:1,2", &wrapped)
                .is_none()
        );
        assert!(master.unwrap_key("cloudhsm:1,2", "not base64!").is_none());
        // Same inputs, same bytes (deterministic generation relies on it).
        assert_eq!(wrapped, master.wrap("cloudhsm:1,2", &[1, 2, 3, 4], [9; 12]));
        assert_eq!(format!("{master:?}"), "MasterKey(<redacted>)");
    }
}
