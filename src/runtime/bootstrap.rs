//! First start of the embedded default: a default project with one access key,
//! whose secret the user gets once on the terminal and keeps in
//! `<data>/credentials` (AWS shared-credentials format, profile `ringgate`,
//! mode 0600). Later starts find the file and check it still opens its record.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::ServeError;
use crate::auth::credentials::generate_secret_key;
use crate::auth::{AccessKeyId, AccessRecord};
use crate::config::ServeConfig;
use crate::meta::{Meta, Mutation, ProjectId, ProjectRecord};
use crate::pipeline::RootKey;

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
pub fn ensure_default_project(meta: &Meta, config: &ServeConfig) -> Result<Welcome, ServeError> {
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
        let sealed = meta.store().access(&access_key.row_key())?;
        match sealed.map(|s| AccessRecord::open(&access_key, &s)) {
            Some(Ok(_)) => return Ok(Welcome::Existing),
            _ => {
                return Err(data_error(std::io::Error::other(
                    "this access key is not in the metadata database: was meta.redb replaced?",
                )))
            }
        }
    }
    let project = ProjectRecord {
        id: ProjectId::random(),
        name: "default".into(),
        created_ms: now_ms(),
        secret_sealed: Vec::new(),
    };
    let access_key = AccessKeyId::generate();
    let secret_key = generate_secret_key();
    let record = AccessRecord {
        project: project.id.0,
        secret_key: secret_key.clone(),
        root_key: RootKey::random(),
    };
    let commits = meta.commit_handle();
    commits.commit_blocking(Mutation::CreateProject(project))?;
    commits.commit_blocking(Mutation::PutAccess {
        key_hash: access_key.row_key(),
        record: record.seal(&access_key),
    })?;
    write_credentials(&path, &access_key, &secret_key).map_err(data_error)?;
    Ok(Welcome::Created {
        access_key,
        secret_key,
    })
}

fn write_credentials(path: &Path, key: &AccessKeyId, secret: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    write!(
        file,
        "[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {secret}\n",
        key.expose()
    )?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
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
            "ringgate: created the default project; its credentials (shown once, kept in {}):",
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

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
