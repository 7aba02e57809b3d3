//! First start of the embedded default: a default project, its first grant in
//! `<data>/grant` and that grant registered as S3 credentials, which the user
//! gets once on the terminal and keeps in `<data>/credentials` (AWS
//! shared-credentials format, profile `ringgate`). Both files are mode 0600
//! and are the user's copies: the server keeps neither the grant's root key
//! nor the access key id. Later starts find the files and check they still open
//! their record.
//!
//! First start is four durable steps, each resumed by the next start if the
//! process stops after it: the project is committed; the grant file is
//! written (temp, fsync, rename, directory fsync); the grant is registered;
//! the credentials file is written. A start that finds credentials is done; one
//! that finds only the grant registers it (a registration committed before a
//! crash is left unused: its access key id died with the process); one that
//! finds neither but a `default` project that owns no bucket issues that
//! project a new grant rather than creating a second `default`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use super::error::ServeError;
use crate::auth::{AccessKeyId, AccessRecord, Grant};
use crate::config::ServeConfig;
use crate::registry::Registry;

pub const PROFILE: &str = "ringgate";
/// The name of the embedded default's project.
pub const DEFAULT_PROJECT: &str = "default";

/// What start-up has to tell the user.
pub enum Welcome {
    /// Created just now: shown once.
    Created {
        access_key: AccessKeyId,
        secret_key: Zeroizing<String>,
    },
    Existing,
}

fn data_error(path: &Path, source: std::io::Error) -> ServeError {
    ServeError::Data {
        path: path.display().to_string(),
        source,
    }
}

fn other(path: &Path, message: impl ToString) -> ServeError {
    data_error(path, std::io::Error::other(message.to_string()))
}

/// Makes sure the default project and its credentials exist.
pub fn ensure_default_project(
    registry: &Registry,
    config: &ServeConfig,
) -> Result<Welcome, ServeError> {
    let path = config.data.join("credentials");
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| data_error(&path, e))?;
        let (access_key, _) = parse_credentials(&text).ok_or_else(|| {
            other(
                &path,
                format!("no [{PROFILE}] profile with aws_access_key_id and aws_secret_access_key"),
            )
        })?;
        let sealed = registry.meta().backend().access(&access_key.row_key())?;
        let secret = registry.record_secret();
        return match sealed.map(|s| AccessRecord::open(secret, &access_key, &s)) {
            Some(Ok(_)) => Ok(Welcome::Existing),
            _ => Err(other(
                &path,
                "this access key is not in the metadata database: was meta.redb replaced?",
            )),
        };
    }
    let grant = default_grant(registry, config)?;
    let now = crate::clock::unix_now_secs_signed();
    let registered = registry
        .register_blocking(grant, now)
        .map_err(|e| other(&path, e))?;
    write_credentials(&path, &registered.access_key, &registered.secret_key)
        .map_err(|e| data_error(&path, e))?;
    Ok(Welcome::Created {
        access_key: registered.access_key,
        secret_key: registered.secret_key,
    })
}

/// The default project's grant: from `<data>/grant`, else issued for the
/// `default` project an earlier start created, else for a new one; written to
/// `<data>/grant` before it is used.
fn default_grant(registry: &Registry, config: &ServeConfig) -> Result<Grant, ServeError> {
    let path = config.data.join("grant");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return Grant::parse(&Zeroizing::new(text))
                .map_err(|e| other(&path, format!("the default project's grant: {e}")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(data_error(&path, e)),
    }
    let store = registry.meta().backend();
    let mut earlier: Vec<_> = store
        .projects()?
        .into_iter()
        .filter(|p| p.name == DEFAULT_PROJECT)
        .collect();
    earlier.sort_by_key(|p| (p.created_ms, p.id.0));
    let grant = match earlier.first() {
        None => {
            registry
                .create_project_blocking(DEFAULT_PROJECT)
                .map_err(|e| other(&path, e))?
                .grant
        }
        // Its first grant never reached the disk, so nothing can have used it.
        Some(project) if store.buckets(project.id)?.is_empty() => {
            registry.reissue(project).map_err(|e| other(&path, e))?
        }
        Some(_) => {
            return Err(other(
                &path,
                "missing, as is <data>/credentials, but the default project owns buckets: \
                 restore both files from a backup (a new grant could not read its objects)",
            ))
        }
    };
    write_private(&path, format!("{}\n", &*grant.encode()).as_bytes())
        .map_err(|e| data_error(&path, e))?;
    Ok(grant)
}

/// Writes a file only its owner can read, atomically and durably: a temp
/// file, fsync, rename, then the directory's fsync, so after a crash the file
/// is either absent or whole.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

fn write_credentials(path: &Path, key: &AccessKeyId, secret: &str) -> std::io::Result<()> {
    write_private(
        path,
        format!(
            "[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {secret}\n",
            key.expose()
        )
        .as_bytes(),
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
        tracing::info!(
            grant = %config.data.join("grant").display(),
            credentials = %credentials.display(),
            "created the default project"
        );
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
    use crate::registry::testing::TestRegistry;

    struct Fixture {
        registry: Registry,
        config: ServeConfig,
        _test: TestRegistry,
    }

    fn fixture() -> Fixture {
        let test = crate::registry::testing::registry();
        let config = crate::config::ServeSettings {
            data: Some(test.dir.path().to_path_buf()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        Fixture {
            registry: test.registry.clone(),
            config,
            _test: test,
        }
    }

    fn default_projects(fx: &Fixture) -> usize {
        let projects = fx.registry.meta().backend().projects().unwrap();
        projects
            .iter()
            .filter(|p| p.name == DEFAULT_PROJECT)
            .count()
    }

    /// The credentials a start wrote open their record, for the project of
    /// the grant it wrote.
    fn check_files(fx: &Fixture) {
        let data = &fx.config.data;
        let grant = Grant::parse(&std::fs::read_to_string(data.join("grant")).unwrap()).unwrap();
        let text = std::fs::read_to_string(data.join("credentials")).unwrap();
        let (key, _) = parse_credentials(&text).unwrap();
        let sealed = fx.registry.meta().backend().access(&key.row_key()).unwrap();
        let secret = fx.registry.record_secret();
        let record = AccessRecord::open(secret, &key, &sealed.unwrap()).unwrap();
        assert_eq!(record.grant.project(), grant.project());
    }

    /// Story: first start created the default project, then wrote `grant`,
    /// then registered it and wrote `credentials`. Symptom: a process that
    /// stopped after the project's commit and before `credentials` (a crash,
    /// a kill, a full disk) was followed by a start that created a second
    /// project named `default`. Consequence: two default projects, one of them
    /// unreachable forever; and a start that stopped after writing `grant`
    /// threw that grant away. Fix: a start resumes from the first step whose
    /// result is missing.
    #[test]
    fn a_start_that_stopped_part_way_is_resumed_not_repeated() {
        // Stopped after the project's commit: no files at all.
        let fx = fixture();
        let first = fx
            .registry
            .create_project_blocking(DEFAULT_PROJECT)
            .unwrap();
        assert!(matches!(
            ensure_default_project(&fx.registry, &fx.config),
            Ok(Welcome::Created { .. })
        ));
        assert_eq!(default_projects(&fx), 1);
        check_files(&fx);
        let grant = Grant::parse(&std::fs::read_to_string(fx.config.data.join("grant")).unwrap());
        assert_eq!(grant.unwrap().project(), &first.record.id.0);
        // Another start finds everything in place.
        assert!(matches!(
            ensure_default_project(&fx.registry, &fx.config),
            Ok(Welcome::Existing)
        ));
        assert_eq!(default_projects(&fx), 1);

        // Stopped after writing the grant: it is the one registered.
        let fx = fixture();
        let project = fx
            .registry
            .create_project_blocking(DEFAULT_PROJECT)
            .unwrap();
        let written = format!("{}\n", &*project.grant.encode());
        write_private(&fx.config.data.join("grant"), written.as_bytes()).unwrap();
        ensure_default_project(&fx.registry, &fx.config).unwrap();
        assert_eq!(default_projects(&fx), 1);
        check_files(&fx);
        let grant = std::fs::read_to_string(fx.config.data.join("grant")).unwrap();
        assert_eq!(grant, written);

        // A clean first start.
        let fx = fixture();
        ensure_default_project(&fx.registry, &fx.config).unwrap();
        assert_eq!(default_projects(&fx), 1);
        check_files(&fx);
    }

    #[test]
    fn a_default_project_with_buckets_and_no_files_is_refused() {
        let fx = fixture();
        let project = fx
            .registry
            .create_project_blocking(DEFAULT_PROJECT)
            .unwrap();
        fx.registry
            .meta()
            .commit_handle()
            .commit_blocking(crate::meta::Mutation::CreateBucket {
                project: project.record.id,
                record: crate::meta::BucketRecord {
                    name: "kept".into(),
                    created_ms: 1,
                    location: String::new(),
                    versioning: Default::default(),
                    object_lock: None,
                },
            })
            .unwrap();
        assert!(ensure_default_project(&fx.registry, &fx.config).is_err());
        assert!(!fx.config.data.join("grant").exists());
        assert_eq!(default_projects(&fx), 1);
    }

    #[test]
    fn credentials_file_round_trip() {
        let text = "[default]\naws_access_key_id = X\n\n[ringgate]\naws_access_key_id = RGABC\naws_secret_access_key = s3cr3t\n";
        let (key, secret) = parse_credentials(text).unwrap();
        assert_eq!(key.expose(), "RGABC");
        assert_eq!(secret.as_str(), "s3cr3t");
        assert!(parse_credentials("[default]\naws_access_key_id = X\n").is_none());
    }
}
