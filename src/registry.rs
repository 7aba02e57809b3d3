//! The access registry, the server side of `auth`: projects and their sealed
//! macaroon secrets, registering a grant as S3 credentials, revoking API-key
//! heads. Storage goes through the metadata backend; the server key that seals
//! project secrets stays in its own file.
//!
//! Registration (after Storj's auth service): a grant comes in; its API key is
//! verified against its project's secret and the revocation list, and it must
//! not have expired (one not valid yet is accepted: every request checks the
//! time); a fresh access key id (130 random bits) and secret key (256
//! bits) are drawn; the secret and the grant are sealed under a key derived
//! from the access key id and the server's record secret, and stored under
//! the id's SHA-256. Only the caller ever learns the id.

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::auth::credentials::generate_secret_key;
use crate::auth::credentials::wrap_legacy;
use crate::auth::{
    AccessKeyId, AccessRecord, Denied, Grant, GrantError, HeadId, ProjectSecret, RecordSecret,
    ServerKey,
};
use crate::clock::unix_now_ms;
use crate::entropy::Os;
use crate::meta::{
    CommitConfig, Committer, Meta, MetaBackend, MetaError, Mutation, ProjectId, ProjectRecord,
    RedbStore,
};
use crate::pipeline::RootKey;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("grant: {0}")]
    Grant(#[from] GrantError),
    #[error("the grant's project does not exist")]
    NoSuchProject,
    #[error("the grant has expired")]
    Expired,
    #[error("project secret does not open with this server's key: was server.key replaced?")]
    ServerKey,
    #[error("project name must be 1 to 64 printable characters")]
    ProjectName,
    #[error("metadata: {0}")]
    Meta(#[from] MetaError),
}

/// Shared by every core (read-mostly): the server key, the record secret
/// derived from it, and the metadata facade.
#[derive(Clone)]
pub struct Registry {
    meta: Meta,
    server_key: Arc<ServerKey>,
    record_secret: Arc<RecordSecret>,
}

/// A project just created, and its first grant (the only place its root key
/// will ever be: the server keeps none).
pub struct NewProject {
    pub record: ProjectRecord,
    pub grant: Grant,
}

/// S3 credentials for a registered grant.
pub struct Registered {
    pub access_key: AccessKeyId,
    pub secret_key: Zeroizing<String>,
}

impl Registry {
    pub fn new(meta: Meta, server_key: Arc<ServerKey>) -> Self {
        let record_secret = Arc::new(server_key.record_secret());
        Self {
            meta,
            server_key,
            record_secret,
        }
    }

    /// Opens (or creates) the metadata database at `path` and starts its
    /// commit thread: the registry on it, and the thread, to be shut down
    /// once nothing uses the registry any more.
    pub fn open(path: &Path, server_key: ServerKey) -> Result<(Registry, Committer), MetaError> {
        let backend: Arc<dyn MetaBackend> = Arc::new(RedbStore::open(path)?);
        let committer = Committer::start(backend.clone(), CommitConfig::default());
        let meta = Meta::new(backend, committer.handle());
        Ok((Registry::new(meta, Arc::new(server_key)), committer))
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// What opens access records, with their access key ids.
    pub fn record_secret(&self) -> &Arc<RecordSecret> {
        &self.record_secret
    }

    /// Wraps every access record still in version 2 (sealed under its access
    /// key id alone) under the record secret, so that the database and an id
    /// no longer open it; the number wrapped. Run at start, before serving.
    pub fn wrap_legacy_records_blocking(&self) -> Result<usize, MetaError> {
        const PAGE: usize = 256;
        let store = self.meta.backend();
        let (mut after, mut wrapped) = (None, 0);
        loop {
            let page = store.access_after(after, PAGE)?;
            let Some(&(last, _)) = page.last() else {
                return Ok(wrapped);
            };
            after = Some(last);
            for (key_hash, sealed) in page {
                if let Some(record) = wrap_legacy(&self.record_secret, &key_hash, &sealed, &mut Os)
                {
                    let put = Mutation::PutAccess { key_hash, record };
                    self.meta.commit_handle().commit_blocking(put)?;
                    wrapped += 1;
                }
            }
        }
    }

    fn new_project(&self, name: &str) -> Result<(Mutation, NewProject), RegistryError> {
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(RegistryError::ProjectName);
        }
        let id = ProjectId::random();
        let secret = ProjectSecret::random(&mut Os);
        let record = ProjectRecord {
            id,
            name: name.to_string(),
            created_ms: unix_now_ms(),
            secret_sealed: self.server_key.seal_project_secret(&id.0, &secret, &mut Os),
        };
        let grant = Grant::issue(id.0, &secret, RootKey::random(&mut Os), &mut Os);
        Ok((
            Mutation::CreateProject(record.clone()),
            NewProject { record, grant },
        ))
    }

    /// Creates a project and issues its first, unrestricted grant.
    pub async fn create_project(&self, name: &str) -> Result<NewProject, RegistryError> {
        let (mutation, project) = self.new_project(name)?;
        self.meta.commit(mutation).await?;
        Ok(project)
    }

    /// The same, for threads that may block (start-up).
    pub fn create_project_blocking(&self, name: &str) -> Result<NewProject, RegistryError> {
        let (mutation, project) = self.new_project(name)?;
        self.meta.commit_handle().commit_blocking(mutation)?;
        Ok(project)
    }

    /// A new unrestricted grant for an existing project under a fresh root
    /// key: for a project whose first grant was lost before anything could
    /// use it (a first start that stopped between creating the default
    /// project and writing its grant; see `runtime::bootstrap`).
    pub fn reissue(&self, record: &ProjectRecord) -> Result<Grant, RegistryError> {
        let secret = self.open_secret(record)?;
        Ok(Grant::issue(
            record.id.0,
            &secret,
            RootKey::random(&mut Os),
            &mut Os,
        ))
    }

    /// Opens a project's macaroon secret from its record.
    pub fn open_secret(&self, record: &ProjectRecord) -> Result<ProjectSecret, RegistryError> {
        self.server_key
            .open_project_secret(&record.id.0, &record.secret_sealed)
            .map_err(|_| RegistryError::ServerKey)
    }

    fn check(
        &self,
        grant: &Grant,
        project: Option<ProjectRecord>,
        revoked: bool,
        now_unix: i64,
    ) -> Result<(), RegistryError> {
        let project = project.ok_or(RegistryError::NoSuchProject)?;
        let secret = self.open_secret(&project)?;
        let permissions = grant.authorize(&secret, |_| revoked)?;
        // A grant that is not valid yet may be registered: its credentials
        // work from its not-before on (every request checks the time).
        match permissions.check_time(now_unix) {
            Err(Denied::Expired { .. }) => Err(RegistryError::Expired),
            _ => Ok(()),
        }
    }

    fn credentials_for(&self, grant: Grant) -> (Mutation, Registered) {
        let access_key = AccessKeyId::generate(&mut Os);
        let secret_key = generate_secret_key(&mut Os);
        let record = AccessRecord {
            secret_key: secret_key.clone(),
            grant,
        };
        let mutation = Mutation::PutAccess {
            key_hash: access_key.row_key(),
            record: record.seal(&self.record_secret, &access_key, &mut Os),
        };
        (
            mutation,
            Registered {
                access_key,
                secret_key,
            },
        )
    }

    /// Registers a grant: checks it, then stores fresh credentials for it.
    pub async fn register(&self, grant: Grant, now_unix: i64) -> Result<Registered, RegistryError> {
        let project = self.meta.project(ProjectId(*grant.project())).await?;
        let revoked = self.meta.revoked(grant.head_id().0).await?.is_some();
        self.check(&grant, project, revoked, now_unix)?;
        let (mutation, registered) = self.credentials_for(grant);
        self.meta.commit(mutation).await?;
        Ok(registered)
    }

    /// The same, for threads that may block (start-up).
    pub fn register_blocking(
        &self,
        grant: Grant,
        now_unix: i64,
    ) -> Result<Registered, RegistryError> {
        let store = self.meta.backend();
        let project = store.project(ProjectId(*grant.project()))?;
        let revoked = store.revoked(&grant.head_id().0)?.is_some();
        self.check(&grant, project, revoked, now_unix)?;
        let (mutation, registered) = self.credentials_for(grant);
        self.meta.commit_handle().commit_blocking(mutation)?;
        Ok(registered)
    }

    /// Revokes an API key head; `false` if it was revoked already.
    pub async fn revoke(&self, head: HeadId) -> Result<bool, RegistryError> {
        let outcome = self
            .meta
            .commit(Mutation::RevokeApiKey {
                head: head.0,
                revoked_ms: unix_now_ms(),
            })
            .await?;
        Ok(!outcome.existed)
    }

    pub async fn projects(&self) -> Result<Vec<ProjectRecord>, RegistryError> {
        Ok(self.meta.projects().await?)
    }

    pub async fn delete_project(&self, id: ProjectId) -> Result<(), RegistryError> {
        self.meta.commit(Mutation::DeleteProject { id }).await?;
        Ok(())
    }
}

/// A registry on a fresh metadata file, for the tests of the modules above.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Fields drop in order: the registry, its commit thread, then the folder.
    pub struct TestRegistry {
        pub registry: Registry,
        _committer: Committer,
        pub dir: tempfile::TempDir,
    }

    pub fn registry() -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let (registry, committer) =
            Registry::open(&dir.path().join("meta.redb"), ServerKey::random(&mut Os)).unwrap();
        TestRegistry {
            registry,
            _committer: committer,
            dir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::credentials::seal_legacy_v2;

    #[test]
    fn a_start_wraps_version_2_records_so_the_database_and_an_id_open_nothing() {
        let fixture = testing::registry();
        let registry = &fixture.registry;
        let store = registry.meta().backend();
        let project = registry.create_project_blocking("p").unwrap();
        let current = registry
            .register_blocking(project.grant.clone(), 0)
            .unwrap();
        let current_row = store.access(&current.access_key.row_key()).unwrap();
        let old_id = AccessKeyId::generate(&mut Os);
        let old = AccessRecord {
            secret_key: generate_secret_key(&mut Os),
            grant: project.grant,
        };
        let put = Mutation::PutAccess {
            key_hash: old_id.row_key(),
            record: seal_legacy_v2(&old, &old_id),
        };
        store.commit_one(put).unwrap();

        assert_eq!(registry.wrap_legacy_records_blocking().unwrap(), 1);
        assert_eq!(registry.wrap_legacy_records_blocking().unwrap(), 0);
        let sealed = store.access(&old_id.row_key()).unwrap().unwrap();
        let opened = AccessRecord::open(registry.record_secret(), &old_id, &sealed).unwrap();
        assert_eq!(*opened.secret_key, *old.secret_key);
        let elsewhere = ServerKey::random(&mut Os).record_secret();
        assert!(AccessRecord::open(&elsewhere, &old_id, &sealed).is_err());
        // A record of the current version is left as it was.
        assert_eq!(
            store.access(&current.access_key.row_key()).unwrap(),
            current_row
        );
    }
}
