//! The server key: 32 random bytes in `<data>/server.key` (mode 0600), kept
//! beside the metadata database but never in it. It seals each project's
//! macaroon secret, so the database alone can mint no API key. The file is
//! read and written by `runtime::server_key`; this module is pure.
//!
//! Sealed project secret:
//! ```text
//! 0   12  random nonce
//! 12  32  AES-256-GCM(project secret)
//! 44  16  tag; associated data = "ringgate project secret v1" ‖ project id
//! ```

use zeroize::Zeroizing;

use super::credentials::{CredentialError, RecordSecret};
use super::macaroon::ProjectSecret;
use crate::pipeline::crypto::{AeadBackend, Cipher, SecretKey};
use crate::pipeline::random::Entropy;

const NONCE_BYTES: usize = 12;
const AAD_DOMAIN: &[u8] = b"ringgate project secret v1";

pub struct ServerKey(SecretKey);

impl ServerKey {
    pub fn random(entropy: &mut impl Entropy) -> Self {
        Self(SecretKey::random(entropy))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretKey::from_bytes(bytes))
    }

    /// The server-held half of every access record's key.
    pub fn record_secret(&self) -> RecordSecret {
        RecordSecret::from_server_key(self.0.expose())
    }

    fn aad(project: &[u8; 16]) -> Vec<u8> {
        let mut aad = AAD_DOMAIN.to_vec();
        aad.extend_from_slice(project);
        aad
    }

    pub fn seal_project_secret(
        &self,
        project: &[u8; 16],
        secret: &ProjectSecret,
        entropy: &mut impl Entropy,
    ) -> Vec<u8> {
        let nonce: [u8; NONCE_BYTES] = entropy.array();
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
    use crate::entropy::Os;

    #[test]
    fn project_secrets_open_only_for_their_project_and_key() {
        let key = ServerKey::random(&mut Os);
        let secret = ProjectSecret::random(&mut Os);
        let sealed = key.seal_project_secret(&[1; 16], &secret, &mut Os);
        assert_eq!(
            key.open_project_secret(&[1; 16], &sealed).unwrap().expose(),
            secret.expose()
        );
        assert!(key.open_project_secret(&[2; 16], &sealed).is_err());
        assert!(ServerKey::random(&mut Os)
            .open_project_secret(&[1; 16], &sealed)
            .is_err());
        assert!(!sealed.windows(32).any(|w| w == secret.expose()));
    }
}
