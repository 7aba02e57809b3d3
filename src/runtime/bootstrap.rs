//! First start of the embedded default: a default project, its first grant in
//! `<data>/grant` and that grant registered as S3 credentials, which the user
//! gets once on the terminal and keeps in `<data>/credentials` (AWS
//! shared-credentials format, profile `ringgate`). Both files are mode 0600
//! and are the user's copies: the server keeps neither the grant's root key
//! nor the access key id. Later starts find the files and check they still open
//! their record.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::ServeError;
use crate::auth::{AccessKeyId, AccessRecord};
use crate::config::ServeConfig;
use crate::registry::Registry;

pub const PROFILE: &str = "ringgate";

/// What start-up has to tell the user.
pub enum Welcome {
    /// Created just now: shown once.
    Created {
        access_key: AccessKeyId,
        secret_key: Zeroizing<String>,
    },
    Existing,
}

/// Makes sure the default project and its credentials exist.
pub fn ensure_default_project(
    registry: &Registry,
    config: &ServeConfig,
) -> Result<Welcome, ServeError> {
    let path = config.data.join("credentials");
    let data_error = |source| ServeError::Data {
        path: path.display().to_string(),
        source,
    };
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(data_error)?;
        let (access_key, _) = parse_credentials(&text).ok_or_else(|| {
            data_error(std::io::Error::other(format!(
                "no [{PROFILE}] profile with aws_access_key_id and aws_secret_access_key"
            )))
        })?;
        let sealed = registry.meta().store().access(&access_key.row_key())?;
        match sealed.map(|s| AccessRecord::open(&access_key, &s)) {
            Some(Ok(_)) => return Ok(Welcome::Existing),
            _ => {
                return Err(data_error(std::io::Error::other(
                    "this access key is not in the metadata database: was meta.redb replaced?",
                )))
            }
        }
    }
    let project = registry
        .create_project_blocking("default")
        .map_err(|e| data_error(std::io::Error::other(e.to_string())))?;
    let grant_path = config.data.join("grant");
    write_private(&grant_path, &format!("{}\n", &*project.grant.encode())).map_err(|source| {
        ServeError::Data {
            path: grant_path.display().to_string(),
            source,
        }
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let registered = registry
        .register_blocking(project.grant, now)
        .map_err(|e| data_error(std::io::Error::other(e.to_string())))?;
    write_credentials(&path, &registered.access_key, &registered.secret_key).map_err(data_error)?;
    Ok(Welcome::Created {
        access_key: registered.access_key,
        secret_key: registered.secret_key,
    })
}

/// Writes a file only its owner can read, atomically.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn write_credentials(path: &Path, key: &AccessKeyId, secret: &str) -> std::io::Result<()> {
    write_private(
        path,
        &format!(
            "[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {secret}\n",
            key.expose()
        ),
    )
}

/// The access key and secret of the `ringgate` profile.
pub fn parse_credentials(text: &str) -> Option<(AccessKeyId, Zeroizing<String>)> {
    let mut in_profile = false;
    let (mut key, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == PROFILE;
        } else if let (true, Some((name, value))) = (in_profile, line.split_once('=')) {
            match name.trim() {
                "aws_access_key_id" => key = Some(AccessKeyId::new(value.trim())),
                "aws_secret_access_key" => secret = Some(Zeroizing::new(value.trim().to_string())),
                _ => {}
            }
        }
    }
    Some((key?, secret?))
}

pub fn print_welcome(welcome: &Welcome, config: &ServeConfig, endpoint: &str) {
    let credentials = config.data.join("credentials");
    if let Welcome::Created {
        access_key,
        secret_key,
    } = welcome
    {
        println!(
            "ringgate: created the default project: its access grant is in {}, its S3 credentials (shown once) in {}:",
            config.data.join("grant").display(),
            credentials.display()
        );
        println!("  access key: {}", access_key.expose());
        println!("  secret key: {}", secret_key.as_str());
    }
    println!("ringgate: try it:");
    println!(
        "  AWS_SHARED_CREDENTIALS_FILE={} AWS_DEFAULT_REGION={} aws --profile {PROFILE} --endpoint-url {endpoint} s3 ls",
        credentials.display(),
        config.region
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_file_round_trip() {
        let text = "[default]\naws_access_key_id = X\n\n[ringgate]\naws_access_key_id = RGABC\naws_secret_access_key = s3cr3t\n";
        let (key, secret) = parse_credentials(text).unwrap();
        assert_eq!(key.expose(), "RGABC");
        assert_eq!(secret.as_str(), "s3cr3t");
        assert!(parse_credentials("[default]\naws_access_key_id = X\n").is_none());
    }
}
