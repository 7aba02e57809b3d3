//! The key files, readable by their owner only: the cluster key's (64 hex
//! digits and optional surrounding white space) and a node key's (`NAME
//! HEX`). The file I/O of `order`'s [`ClusterKey`] and [`NodeKey`], kept out
//! of it so the orders stay pure code.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::order::{ClusterKey, NodeKey, CLUSTER_KEY_BYTES};
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
    #[error(
        "node key file {path}: expected a node name, a space and {} hex digits \
         (from `ringgate node-key NAME`)",
        2 * CLUSTER_KEY_BYTES
    )]
    NodeFormat { path: String },
}

fn read(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Zeroizing::new(text))
}

/// Reads a node key file.
pub fn load_node_key(path: &Path) -> Result<NodeKey, KeyError> {
    NodeKey::parse_line(&read(path)?).ok_or_else(|| KeyError::NodeFormat {
        path: path.display().to_string(),
    })
}

/// Writes `text` to a new file readable by its owner only, durably.
fn write_new(path: &Path, text: &str) -> Result<(), KeyError> {
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
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)
}

/// Writes a node key to a new file readable by its owner only.
pub fn create_node_key(path: &Path, key: &NodeKey) -> Result<(), KeyError> {
    write_new(path, &key.to_line())
}

/// Reads a key file.
pub fn load(path: &Path) -> Result<ClusterKey, KeyError> {
    ClusterKey::from_hex(&read(path)?).ok_or_else(|| KeyError::Format {
        path: path.display().to_string(),
    })
}

/// Writes a fresh key from the OS random source to a new file readable by
/// its owner only.
pub fn create(path: &Path) -> Result<ClusterKey, KeyError> {
    let key = ClusterKey::generate(&mut entropy::Os);
    write_new(path, &format!("{}\n", key.to_hex().as_str()))?;
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
        let node_path = dir.path().join("node.key");
        create_node_key(&node_path, &key.node_key("node-1")).unwrap();
        assert_eq!(load_node_key(&node_path).unwrap().name(), "node-1");
        assert!(create_node_key(&node_path, &key.node_key("x")).is_err());
        std::fs::write(&node_path, "node-1").unwrap();
        assert!(matches!(
            load_node_key(&node_path),
            Err(KeyError::NodeFormat { .. })
        ));
    }
}
