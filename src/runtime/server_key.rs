//! The server key's file, `<data>/server.key` (or `--server-key`): 32 bytes,
//! mode 0600, created from the OS random source on first start (written as
//! `bootstrap::write_private` writes the grant: temp file, fsync, rename). `auth`'s
//! `ServerKey` is pure; its file lives here, with the rest of start-up.

use std::path::Path;

use zeroize::Zeroizing;

use crate::auth::ServerKey;
use crate::entropy;

/// Reads the key file, or creates it (mode 0600) on first start.
pub fn load_or_create(path: &Path) -> std::io::Result<ServerKey> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                std::io::Error::other(format!(
                    "{}: {} bytes, a server key is 32",
                    path.display(),
                    bytes.len()
                ))
            })?;
            Ok(ServerKey::from_bytes(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = Zeroizing::new([0u8; 32]);
            entropy::fill(&mut key[..]);
            super::bootstrap::write_private(path, &key[..])?;
            Ok(ServerKey::from_bytes(*key))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ProjectSecret;
    use crate::entropy::Os;

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        let sealed = a.seal_project_secret(&[3; 16], &ProjectSecret::random(&mut Os), &mut Os);
        assert!(b.open_project_secret(&[3; 16], &sealed).is_ok());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
