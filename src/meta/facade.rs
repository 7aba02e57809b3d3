//! `Meta`: the metadata contract as executors use it. Commits go to the commit
//! thread and are awaited; reads run on glommio's blocking pool. Either way no
//! executor thread ever waits on the database file.

use std::sync::Arc;
use std::time::Duration;

use super::backend::MetaBackend;
use super::commit::{CommitHandle, SubmitError};
use super::error::MetaError;
use super::mutation::{Mutation, MutationOutcome};
use super::types::*;
use crate::pieces::format::SegmentId;

/// How long a commit waits before retrying when the commit queue is full.
pub const QUEUE_FULL_RETRY: Duration = Duration::from_millis(1);

/// Cheap to clone; clone one into each executor. Its methods must be awaited on
/// a glommio executor (reads use `glommio::executor().spawn_blocking`).
#[derive(Clone)]
pub struct Meta {
    backend: Arc<dyn MetaBackend>,
    commits: CommitHandle,
}

impl Meta {
    /// `commits` must be the commit thread of the same `backend`.
    pub fn new(backend: Arc<dyn MetaBackend>, commits: CommitHandle) -> Meta {
        Meta { backend, commits }
    }

    /// The blocking backend, for code already off the executors.
    pub fn backend(&self) -> &dyn MetaBackend {
        &*self.backend
    }

    /// Applies `mutation` durably (in some group commit) and returns its result.
    pub async fn commit(&self, mutation: Mutation) -> Result<MutationOutcome, MetaError> {
        let mut mutation = mutation;
        loop {
            match self.commits.submit(mutation) {
                Ok(receiver) => return receiver.await.unwrap_or(Err(MetaError::Closed)),
                Err(SubmitError::Full(back)) => {
                    mutation = *back;
                    glommio::timer::sleep(QUEUE_FULL_RETRY).await;
                }
                Err(SubmitError::Closed) => return Err(MetaError::Closed),
            }
        }
    }

    /// Applies many mutations, submitted together so they share group commits;
    /// the results come back in order.
    pub async fn commit_all(
        &self,
        mutations: Vec<Mutation>,
    ) -> Vec<Result<MutationOutcome, MetaError>> {
        let mut receivers = Vec::with_capacity(mutations.len());
        for mutation in mutations {
            let mut mutation = mutation;
            loop {
                match self.commits.submit(mutation) {
                    Ok(receiver) => {
                        receivers.push(Some(receiver));
                        break;
                    }
                    Err(SubmitError::Full(back)) => {
                        mutation = *back;
                        glommio::timer::sleep(QUEUE_FULL_RETRY).await;
                    }
                    Err(SubmitError::Closed) => {
                        receivers.push(None);
                        break;
                    }
                }
            }
        }
        let mut results = Vec::with_capacity(receivers.len());
        for receiver in receivers {
            results.push(match receiver {
                Some(receiver) => receiver.await.unwrap_or(Err(MetaError::Closed)),
                None => Err(MetaError::Closed),
            });
        }
        results
    }

    /// The commit queue, for threads that may block (start-up, tools).
    pub fn commit_handle(&self) -> &CommitHandle {
        &self.commits
    }

    /// Runs one blocking read on this executor's blocking pool.
    async fn read<T, F>(&self, read: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn MetaBackend) -> Result<T, MetaError> + Send + 'static,
    {
        let backend = self.backend.clone();
        glommio::executor()
            .spawn_blocking(move || read(&*backend))
            .await
    }

    pub async fn project(&self, id: ProjectId) -> Result<Option<ProjectRecord>, MetaError> {
        self.read(move |s| s.project(id)).await
    }

    pub async fn projects(&self) -> Result<Vec<ProjectRecord>, MetaError> {
        self.read(|s| s.projects()).await
    }

    pub async fn revoked(&self, head: [u8; 16]) -> Result<Option<u64>, MetaError> {
        self.read(move |s| s.revoked(&head)).await
    }

    pub async fn access(&self, key_hash: [u8; 32]) -> Result<Option<Vec<u8>>, MetaError> {
        self.read(move |s| s.access(&key_hash)).await
    }

    pub async fn bucket(
        &self,
        project: ProjectId,
        bucket: String,
    ) -> Result<Option<BucketRecord>, MetaError> {
        self.read(move |s| s.bucket(project, &bucket)).await
    }

    pub async fn buckets(&self, project: ProjectId) -> Result<Vec<BucketRecord>, MetaError> {
        self.read(move |s| s.buckets(project)).await
    }

    pub async fn bucket_is_empty(
        &self,
        project: ProjectId,
        bucket: String,
    ) -> Result<bool, MetaError> {
        self.read(move |s| s.bucket_is_empty(project, &bucket))
            .await
    }

    pub async fn bucket_configs(
        &self,
        project: ProjectId,
        bucket: String,
    ) -> Result<BucketConfigs, MetaError> {
        self.read(move |s| s.bucket_configs(project, &bucket)).await
    }

    pub async fn object(
        &self,
        project: ProjectId,
        bucket: String,
        key: String,
    ) -> Result<Option<ObjectRecord>, MetaError> {
        self.read(move |s| s.object(project, &bucket, &key)).await
    }

    pub async fn object_version(
        &self,
        project: ProjectId,
        bucket: String,
        key: String,
        which: WhichVersion,
    ) -> Result<Option<FoundVersion>, MetaError> {
        self.read(move |s| s.object_version(project, &bucket, &key, which))
            .await
    }

    pub async fn list_versions(
        &self,
        project: ProjectId,
        bucket: String,
        query: VersionListQuery,
    ) -> Result<VersionPage, MetaError> {
        self.read(move |s| s.list_versions(project, &bucket, &query))
            .await
    }

    pub async fn list_objects(
        &self,
        project: ProjectId,
        bucket: String,
        query: ListQuery,
    ) -> Result<ListPage, MetaError> {
        self.read(move |s| s.list_objects(project, &bucket, &query))
            .await
    }

    pub async fn upload(&self, upload: UploadRef) -> Result<Option<UploadRecord>, MetaError> {
        self.read(move |s| s.upload(&upload)).await
    }

    pub async fn completed_upload(
        &self,
        upload: UploadRef,
    ) -> Result<Option<CompletedUpload>, MetaError> {
        self.read(move |s| s.completed_upload(&upload)).await
    }

    pub async fn part(
        &self,
        upload: UploadRef,
        part_number: u32,
    ) -> Result<Option<PartRecord>, MetaError> {
        self.read(move |s| s.part(&upload, part_number)).await
    }

    pub async fn list_uploads(
        &self,
        project: ProjectId,
        bucket: String,
        query: UploadListQuery,
    ) -> Result<UploadPage, MetaError> {
        self.read(move |s| s.list_uploads(project, &bucket, &query))
            .await
    }

    pub async fn list_parts(
        &self,
        upload: UploadRef,
        part_number_marker: u32,
        max_parts: usize,
    ) -> Result<PartPage, MetaError> {
        self.read(move |s| s.list_parts(&upload, part_number_marker, max_parts))
            .await
    }

    pub async fn segment_infos(
        &self,
        ids: Vec<SegmentId>,
    ) -> Result<Vec<Option<SegmentInfo>>, MetaError> {
        self.read(move |s| s.segment_infos(&ids)).await
    }

    pub async fn gc_pending(&self, limit: usize) -> Result<Vec<GcEntry>, MetaError> {
        self.read(move |s| s.gc_pending(limit)).await
    }

    pub async fn gc_pending_after(
        &self,
        after: Option<SegmentId>,
        limit: usize,
    ) -> Result<Vec<GcEntry>, MetaError> {
        self.read(move |s| s.gc_pending_after(after, limit)).await
    }

    pub async fn referenced_segments(&self) -> Result<Vec<SegmentId>, MetaError> {
        self.read(|s| s.referenced_segments()).await
    }

    pub async fn segments_after(
        &self,
        after: Option<SegmentId>,
        limit: usize,
    ) -> Result<Vec<(SegmentId, SegmentInfo)>, MetaError> {
        self.read(move |s| s.segments_after(after, limit)).await
    }
}
