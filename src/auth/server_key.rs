//! The server key: 32 random bytes in `<data>/server.key` (mode 0600), kept
//! beside the metadata database but never in it. It seals each project's
//! macaroon secret, so the database alone can mint no API key.
//!
//! Sealed project secret:
//! ```text
//! 0   12  random nonce
//! 12  32  AES-256-GCM(project secret)
//! 44  16  tag; associated data = "ringgate project secret v1" ‖ project id
//! ```

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::credentials::CredentialError;
use super::macaroon::ProjectSecret;
use crate::pipeline::crypto::{fill_random, AeadBackend, Cipher, SecretKey};

const NONCE_BYTES: usize = 12;
const AAD_DOMAIN: &[u8] = b"ringgate project secret v1";

pub struct ServerKey(SecretKey);

impl ServerKey {
    pub fn random() -> Self {
        Self(SecretKey::random())
    }

    /// Reads the key file, or creates it (mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    std::io::Error::other(format!(
                        "{}: {} bytes, a server key is 32",
                        path.display(),
                        bytes.len()
                    ))
                })?;
                Ok(Self(SecretKey::from_bytes(bytes)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                fill_random(&mut key[..]);
                let tmp = path.with_extension("tmp");
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)?;
                file.write_all(&key[..])?;
                file.sync_all()?;
                std::fs::rename(&tmp, path)?;
                Ok(Self(SecretKey::from_bytes(*key)))
            }
            Err(e) => Err(e),
        }
    }

    fn aad(project: &[u8; 16]) -> Vec<u8> {
        let mut aad = AAD_DOMAIN.to_vec();
        aad.extend_from_slice(project);
        aad
    }

    pub fn seal_project_secret(&self, project: &[u8; 16], secret: &ProjectSecret) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        fill_random(&mut nonce);
        let mut body = Zeroizing::new(secret.expose().to_vec());
        let tag =
            Cipher::new(AeadBackend::Ring, &self.0).seal(nonce, &Self::aad(project), &mut body);
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        out
    }

    pub fn open_project_secret(
        &self,
        project: &[u8; 16],
        sealed: &[u8],
    ) -> Result<ProjectSecret, CredentialError> {
        if sealed.len() != NONCE_BYTES + 32 + 16 {
            return Err(CredentialError::Truncated(sealed.len()));
        }
        let nonce: [u8; NONCE_BYTES] = sealed[..NONCE_BYTES].try_into().expect("length");
        let tag: [u8; 16] = sealed[NONCE_BYTES + 32..].try_into().expect("length");
        let mut body = Zeroizing::new([0u8; 32]);
        body.copy_from_slice(&sealed[NONCE_BYTES..NONCE_BYTES + 32]);
        Cipher::new(AeadBackend::Ring, &self.0)
            .open(nonce, &Self::aad(project), &mut body[..], &tag)
            .map_err(|_| CredentialError::Authentication)?;
        Ok(ProjectSecret::from_bytes(*body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_secrets_open_only_for_their_project_and_key() {
        let key = ServerKey::random();
        let secret = ProjectSecret::random();
        let sealed = key.seal_project_secret(&[1; 16], &secret);
        assert_eq!(
            key.open_project_secret(&[1; 16], &sealed).unwrap().expose(),
            secret.expose()
        );
        assert!(key.open_project_secret(&[2; 16], &sealed).is_err());
        assert!(ServerKey::random()
            .open_project_secret(&[1; 16], &sealed)
            .is_err());
        assert!(!sealed.windows(32).any(|w| w == secret.expose()));
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        let a = ServerKey::load_or_create(&path).unwrap();
        let b = ServerKey::load_or_create(&path).unwrap();
        let sealed = a.seal_project_secret(&[3; 16], &ProjectSecret::random());
        assert!(b.open_project_secret(&[3; 16], &sealed).is_ok());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
