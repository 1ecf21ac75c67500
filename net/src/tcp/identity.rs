//! A party's TLS identity: a self-signed certificate and its private key, generated with
//! rcgen and stored as DER files. Peers pin the certificate's SHA-256 fingerprint.

use std::fs;
use std::path::{Path, PathBuf};

use patchwork_core::role::Role;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::error::{role_key, ConfigError};

/// SHA-256 of a DER certificate.
pub type Fingerprint = [u8; 32];

/// The SHA-256 fingerprint of a DER certificate.
pub fn fingerprint(cert_der: &[u8]) -> Fingerprint {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert_der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lower-case hex of a fingerprint (for messages and configuration files).
pub(crate) fn hex(fp: &Fingerprint) -> String {
    fp.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits (colons allowed between bytes) into a fingerprint.
pub(crate) fn parse_hex(text: &str) -> Option<Fingerprint> {
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b':').collect();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// A certificate with its PKCS#8 private key. Its `Debug` never prints the key.
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity(cert {}, key hidden)", hex(&self.fingerprint()))
    }
}

impl Identity {
    /// Reads a DER certificate and a DER PKCS#8 private key.
    pub fn load(certificate: &Path, key: &Path) -> Result<Identity, ConfigError> {
        let cert = read(certificate)?;
        let key_bytes = read(key)?;
        if key_bytes.is_empty() {
            return Err(ConfigError::BadIdentity {
                path: key.to_path_buf(),
                reason: "empty private key file".into(),
            });
        }
        let id = Identity {
            cert: CertificateDer::from(cert),
            key: PrivatePkcs8KeyDer::from(key_bytes),
        };
        // Checks the pair now, so a bad file is reported with its name rather than as a
        // handshake failure later.
        rustls::crypto::ring::sign::any_supported_type(&id.private_key()).map_err(|e| {
            ConfigError::BadIdentity {
                path: key.to_path_buf(),
                reason: format!("not a usable PKCS#8 private key: {e}"),
            }
        })?;
        Ok(id)
    }

    /// The certificate (DER).
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The SHA-256 fingerprint of the certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.cert)
    }

    /// A copy of the private key for the TLS configuration.
    pub(crate) fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// File names of an identity called `name` inside a directory: `NAME.der` and `NAME.key.der`
/// (a party's identity is called `pN`).
pub(crate) fn identity_paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.der")),
        dir.join(format!("{name}.key.der")),
    )
}

/// Generates a fresh self-signed certificate (ECDSA P-256, subject name `patchwork-pN`) for
/// `role`, writes it to `dir/pN.der` and the private key to `dir/pN.key.der` (mode 0600 on
/// Unix), and returns it.
pub fn generate_identity(dir: &Path, role: Role) -> Result<Identity, ConfigError> {
    generate_named_identity(dir, role_key(role))
}

/// Generates a fresh self-signed certificate (subject name `patchwork-NAME`) and writes it to
/// `dir/NAME.der` and its private key to `dir/NAME.key.der` (mode 0600 on Unix).
pub fn generate_named_identity(dir: &Path, name: &str) -> Result<Identity, ConfigError> {
    let (cert_path, key_path) = identity_paths(dir, name);
    let identity = Identity::generate(name).map_err(|reason| ConfigError::BadIdentity {
        path: cert_path.clone(),
        reason,
    })?;
    fs::create_dir_all(dir).map_err(|error| ConfigError::File {
        path: dir.to_path_buf(),
        error,
    })?;
    write(&cert_path, &identity.cert)?;
    write_private(&key_path, identity.key.secret_pkcs8_der())?;
    Ok(identity)
}

impl Identity {
    /// A fresh self-signed certificate (ECDSA P-256, subject name `patchwork-NAME`) with its
    /// key, in memory only.
    pub fn generate(name: &str) -> Result<Identity, String> {
        let certified = rcgen::generate_simple_self_signed(vec![format!("patchwork-{name}")])
            .map_err(|e| format!("generating the certificate: {e}"))?;
        Ok(Identity {
            cert: certified.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    fs::read(path).map_err(|error| ConfigError::File {
        path: path.to_path_buf(),
        error,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    fs::write(path, bytes).map_err(|error| ConfigError::File {
        path: path.to_path_buf(),
        error,
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let err = |error| ConfigError::File {
        path: path.to_path_buf(),
        error,
    };
    options
        .open(path)
        .map_err(err)?
        .write_all(bytes)
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip() {
        let fp = fingerprint(b"abc");
        assert_eq!(parse_hex(&hex(&fp)), Some(fp));
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_hex(&"g".repeat(64)), None);
    }
}
