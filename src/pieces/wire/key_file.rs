//! The cluster key's file: 64 hex digits (and optional surrounding white
//! space), readable by its owner only. The file I/O of `order`'s
//! [`ClusterKey`], kept out of it so the orders stay pure code.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::order::{ClusterKey, CLUSTER_KEY_BYTES};
use crate::entropy;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cluster key file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cluster key file {path}: expected {} hex digits", 2 * CLUSTER_KEY_BYTES)]
    Format { path: String },
}

/// Reads a key file.
pub fn load(path: &Path) -> Result<ClusterKey, KeyError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?,
    );
    ClusterKey::from_hex(&text).ok_or_else(|| KeyError::Format {
        path: path.display().to_string(),
    })
}

/// Writes a fresh key from the OS random source to a new file readable by
/// its owner only.
pub fn create(path: &Path) -> Result<ClusterKey, KeyError> {
    let key = ClusterKey::generate(&mut entropy::Os);
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(format!("{}\n", key.to_hex().as_str()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.key");
        let key = create(&path).unwrap();
        assert_eq!(*load(&path).unwrap().to_hex(), *key.to_hex());
        assert!(create(&path).is_err(), "never overwrites a key");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, "abc").unwrap();
        assert!(matches!(load(&path), Err(KeyError::Format { .. })));
        assert_eq!(format!("{key:?}"), "ClusterKey(..)");
    }
}
