//! The S3 operations a thread times or needs around the timed phase —
//! put, get (every byte checked), stat, delete, a checked listing page,
//! multipart upload — and the bucket and cleanup requests, each one or a
//! few calls to `Core::call`, and `OpError`, what they fail with.

use std::time::Instant;

use super::error::OpError;
use super::exchange::Body;
use super::thread::{Core, ListCursor, DELETE_BATCH_MAX};
use crate::bench::args::BenchOperation;
use crate::bench::body::BodyPlan;
use crate::bench::content::{Content, Verifier};
use crate::bench::s3::{self, ObjectRef};
use crate::bench::stats::OpKind;
use crate::sigv4::uri_encode;

impl Core {
    /// Creates the bucket unless --bucket names one that exists, and enables
    /// versioning on it for --versions; returns whether it created it.
    pub(super) async fn setup_bucket(&self) -> Result<bool, OpError> {
        let created = self.find_or_create_bucket().await?;
        if self.plan.versions > 1 {
            self.enable_versioning().await?;
        }
        Ok(created)
    }

    async fn find_or_create_bucket(&self) -> Result<bool, OpError> {
        let mut scratch = self.scratch();
        if self.plan.bucket_given {
            let path = self.plan.addressing.bucket_path();
            let head = self
                .call(
                    "HeadBucket",
                    "HEAD",
                    &path,
                    "",
                    &[],
                    Body::Empty,
                    &[200, 404],
                    None,
                    &mut scratch,
                )
                .await?;
            if head.head.status == 200 {
                return Ok(false);
            }
        }
        self.create_bucket(&mut scratch).await?;
        Ok(true)
    }

    async fn enable_versioning(&self) -> Result<(), OpError> {
        let config = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        self.call(
            "PutBucketVersioning",
            "PUT",
            &self.plan.addressing.bucket_path(),
            "versioning",
            &[],
            Body::Bytes {
                data: config.as_bytes(),
                content_md5: true,
            },
            &[200],
            None,
            &mut self.scratch(),
        )
        .await?;
        Ok(())
    }

    async fn create_bucket(&self, scratch: &mut [u8]) -> Result<(), OpError> {
        let path = self.plan.addressing.bucket_path();
        let config = format!(
            "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            self.plan.region
        );
        let body = if self.plan.region == "us-east-1" {
            Body::Empty
        } else {
            Body::Bytes {
                data: config.as_bytes(),
                content_md5: false,
            }
        };
        self.call(
            "CreateBucket",
            "PUT",
            &path,
            "",
            &[],
            body,
            &[200],
            None,
            scratch,
        )
        .await?;
        Ok(())
    }

    pub(super) async fn delete_bucket(&self) -> Result<(), OpError> {
        let mut scratch = self.scratch();
        let path = self.plan.addressing.bucket_path();
        self.call(
            "DeleteBucket",
            "DELETE",
            &path,
            "",
            &[],
            Body::Empty,
            &[204, 200],
            None,
            &mut scratch,
        )
        .await?;
        Ok(())
    }

    fn body_plan(&self, content: Content, start: u64, len: u64) -> BodyPlan {
        BodyPlan {
            mode: self.plan.payload,
            content,
            start,
            len,
            chunk_bytes: self.plan.chunk_bytes,
        }
    }

    pub(super) async fn put(&self, o: &ObjectRef, scratch: &mut [u8]) -> Result<(), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        let body = Body::Content(self.body_plan(o.content, 0, o.content.size));
        self.call(
            "PutObject",
            "PUT",
            &path,
            "",
            &[],
            body,
            &[200],
            None,
            scratch,
        )
        .await
        .map_err(|e| e.about(&key))?;
        Ok(())
    }

    /// GETs an object or a range of it, checking every byte; returns the
    /// bytes read and when the first response byte came.
    pub(super) async fn get(
        &self,
        o: &ObjectRef,
        range: Option<(u64, u64)>,
        scratch: &mut [u8],
    ) -> Result<(u64, Instant), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        let (start, end) = range.unwrap_or((0, o.content.size));
        let range_header = format!("bytes={start}-{}", end.saturating_sub(1));
        let headers = [("range", range_header.as_str())];
        let (unsigned, expect): (&[(&str, &str)], &[u16]) = match range {
            Some(_) => (&headers, &[206]),
            None => (&[], &[200]),
        };
        let mut verifier = Verifier::new(o.content, start, end);
        let reply = self
            .call(
                "GetObject",
                "GET",
                &path,
                "",
                unsigned,
                Body::Empty,
                expect,
                Some(&mut verifier),
                scratch,
            )
            .await
            .map_err(|e| e.about(&key))?;
        if range.is_some() {
            let expected = format!("bytes {start}-{}/{}", end - 1, o.content.size);
            if reply.head.content_range.as_deref() != Some(expected.as_str()) {
                return Err(OpError::Corrupt(format!(
                    "{key}: Content-Range {:?}, expected {expected:?}",
                    reply.head.content_range
                )));
            }
        }
        Ok((end - start, reply.first_byte))
    }

    pub(super) async fn stat(&self, o: &ObjectRef, scratch: &mut [u8]) -> Result<(), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        let reply = self
            .call(
                "HeadObject",
                "HEAD",
                &path,
                "",
                &[],
                Body::Empty,
                &[200],
                None,
                scratch,
            )
            .await
            .map_err(|e| e.about(&key))?;
        if reply.head.content_length != Some(o.content.size) {
            return Err(OpError::Corrupt(format!(
                "{key}: HEAD says {:?} bytes, expected {}",
                reply.head.content_length, o.content.size
            )));
        }
        Ok(())
    }

    pub(super) async fn delete(&self, o: &ObjectRef, scratch: &mut [u8]) -> Result<(), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        self.call(
            "DeleteObject",
            "DELETE",
            &path,
            "",
            &[],
            Body::Empty,
            &[204, 200],
            None,
            scratch,
        )
        .await
        .map_err(|e| e.about(&key))?;
        Ok(())
    }

    /// One ListObjectsV2 page of this thread's keys, checked: every key is
    /// one of ours with the size its name promises, in ascending order; a
    /// full pass of a `list` run finds exactly the working set.
    pub(super) async fn list(
        &self,
        cursor: &mut ListCursor,
        scratch: &mut [u8],
    ) -> Result<(), OpError> {
        let mut query = format!(
            "list-type=2&max-keys={}&prefix={}",
            self.plan.max_keys,
            uri_encode(self.thread_prefix.as_bytes(), false)
        );
        if let Some(token) = &cursor.token {
            query.push_str("&continuation-token=");
            query.push_str(&uri_encode(token.as_bytes(), false));
        }
        let path = self.plan.addressing.bucket_path();
        let result = self
            .call(
                "ListObjectsV2",
                "GET",
                &path,
                &query,
                &[],
                Body::Empty,
                &[200],
                None,
                scratch,
            )
            .await
            .and_then(|reply| {
                s3::list_page(&reply.body).ok_or_else(|| {
                    OpError::Protocol("ListObjectsV2 answer is not a listing".into())
                })
            })
            .and_then(|page| self.check_page(cursor, page));
        if result.is_err() {
            *cursor = ListCursor::default();
        }
        result
    }

    fn check_page(&self, cursor: &mut ListCursor, page: s3::ListPage) -> Result<(), OpError> {
        for (key, size) in &page.objects {
            let ours = ObjectRef::from_key(&self.plan.prefix, key)
                .filter(|o| o.thread as usize == self.thread);
            match ours {
                Some(o) if o.content.size == *size => {}
                Some(o) => {
                    return Err(OpError::Corrupt(format!(
                        "listing says {key} has {size} bytes, its name says {}",
                        o.content.size
                    )))
                }
                None => return Err(OpError::Corrupt(format!("listing holds a stranger: {key}"))),
            }
            if cursor.last_key.as_ref().is_some_and(|last| last >= key) {
                return Err(OpError::Corrupt(format!("listing out of order at {key}")));
            }
            cursor.last_key = Some(key.clone());
        }
        cursor.seen += page.objects.len() as u64;
        if page.is_truncated {
            cursor.token = Some(page.next_continuation_token.ok_or_else(|| {
                OpError::Protocol("truncated listing without a NextContinuationToken".into())
            })?);
            return Ok(());
        }
        let seen = cursor.seen;
        *cursor = ListCursor::default();
        let expected = self.set.borrow().objects.len() as u64;
        if self.plan.operation == BenchOperation::List && seen != expected {
            return Err(OpError::Corrupt(format!(
                "a listing pass found {seen} keys, {expected} were written"
            )));
        }
        Ok(())
    }

    /// Create, parts in order, complete; abort on any failure.
    pub(super) async fn multipart(&self, o: &ObjectRef, scratch: &mut [u8]) -> Result<(), OpError> {
        let key = o.key(&self.plan.prefix);
        let path = self.plan.addressing.object_path(&key);
        let reply = self
            .call(
                "CreateMultipartUpload",
                "POST",
                &path,
                "uploads",
                &[],
                Body::Empty,
                &[200],
                None,
                scratch,
            )
            .await
            .map_err(|e| e.about(&key))?;
        let upload_id = s3::upload_id(&reply.body).ok_or_else(|| {
            OpError::Protocol(format!(
                "{key}: CreateMultipartUpload answer has no UploadId"
            ))
        })?;
        let upload_query = format!("uploadId={}", uri_encode(upload_id.as_bytes(), false));
        let result = self
            .parts_and_complete(o, &path, &upload_query, scratch)
            .await;
        if result.is_err() {
            let _ = self
                .call(
                    "AbortMultipartUpload",
                    "DELETE",
                    &path,
                    &upload_query,
                    &[],
                    Body::Empty,
                    &[204, 200],
                    None,
                    scratch,
                )
                .await;
        }
        result.map_err(|e| e.about(&key))
    }

    async fn parts_and_complete(
        &self,
        o: &ObjectRef,
        path: &str,
        upload_query: &str,
        scratch: &mut [u8],
    ) -> Result<(), OpError> {
        let size = o.content.size;
        let part_bytes = self.plan.part_bytes;
        let parts = size.div_ceil(part_bytes).max(1);
        let mut etags = Vec::with_capacity(parts as usize);
        for number in 1..=parts {
            let start = (number - 1) * part_bytes;
            let len = part_bytes.min(size - start);
            let query = format!("partNumber={number}&{upload_query}");
            let began = Instant::now();
            let body = Body::Content(self.body_plan(o.content, start, len));
            let reply = self
                .call(
                    "UploadPart",
                    "PUT",
                    path,
                    &query,
                    &[],
                    body,
                    &[200],
                    None,
                    scratch,
                )
                .await
                .map_err(|e| e.about(&format!("part {number}")))?;
            let etag = reply.head.etag.ok_or_else(|| {
                OpError::Protocol(format!("part {number}: UploadPart answer has no ETag"))
            })?;
            etags.push(etag);
            self.stats
                .borrow_mut()
                .success(OpKind::Part, len, began.elapsed(), None);
        }
        let xml = s3::complete_body(&etags);
        let body = Body::Bytes {
            data: xml.as_bytes(),
            content_md5: false,
        };
        let reply = self
            .call(
                "CompleteMultipartUpload",
                "POST",
                path,
                upload_query,
                &[],
                body,
                &[200],
                None,
                scratch,
            )
            .await?;
        // S3 may fail a completion after it has sent 200.
        if s3::is_error_document(&reply.body) {
            return Err(OpError::Http {
                request: "CompleteMultipartUpload",
                status: 200,
                code: s3::error_code(&reply.body),
            });
        }
        Ok(())
    }

    /// The first page of keys under `prefix`.
    pub(super) async fn list_keys(
        &self,
        prefix: &str,
        scratch: &mut [u8],
    ) -> Result<s3::ListPage, OpError> {
        let query = format!(
            "list-type=2&max-keys={DELETE_BATCH_MAX}&prefix={}",
            uri_encode(prefix.as_bytes(), false)
        );
        let path = self.plan.addressing.bucket_path();
        let reply = self
            .call(
                "ListObjectsV2",
                "GET",
                &path,
                &query,
                &[],
                Body::Empty,
                &[200],
                None,
                scratch,
            )
            .await?;
        s3::list_page(&reply.body)
            .ok_or_else(|| OpError::Protocol("ListObjectsV2 answer is not a listing".into()))
    }

    /// DeleteObjects; returns the keys it could not delete.
    pub(super) async fn delete_keys(
        &self,
        keys: &[String],
        scratch: &mut [u8],
    ) -> Result<Vec<String>, OpError> {
        let xml = s3::delete_body(keys);
        let path = self.plan.addressing.bucket_path();
        let body = Body::Bytes {
            data: xml.as_bytes(),
            content_md5: true,
        };
        let reply = self
            .call(
                "DeleteObjects",
                "POST",
                &path,
                "delete",
                &[],
                body,
                &[200],
                None,
                scratch,
            )
            .await?;
        s3::delete_errors(&reply.body)
            .ok_or_else(|| OpError::Protocol("DeleteObjects answer is not a DeleteResult".into()))
    }

    /// Aborts the run's unfinished multipart uploads.
    pub(super) async fn abort_uploads(&self, scratch: &mut [u8]) -> Result<(), OpError> {
        let path = self.plan.addressing.bucket_path();
        let query = format!(
            "uploads&prefix={}",
            uri_encode(self.plan.prefix.as_bytes(), false)
        );
        for _ in 0..100 {
            let reply = self
                .call(
                    "ListMultipartUploads",
                    "GET",
                    &path,
                    &query,
                    &[],
                    Body::Empty,
                    &[200],
                    None,
                    scratch,
                )
                .await?;
            let (uploads, truncated) = s3::uploads_page(&reply.body).ok_or_else(|| {
                OpError::Protocol("ListMultipartUploads answer is not a listing".into())
            })?;
            if uploads.is_empty() {
                return Ok(());
            }
            for (key, upload_id) in &uploads {
                let object_path = self.plan.addressing.object_path(key);
                let q = format!("uploadId={}", uri_encode(upload_id.as_bytes(), false));
                self.call(
                    "AbortMultipartUpload",
                    "DELETE",
                    &object_path,
                    &q,
                    &[],
                    Body::Empty,
                    &[204, 200, 404],
                    None,
                    scratch,
                )
                .await?;
            }
            if !truncated {
                return Ok(());
            }
        }
        Ok(())
    }
}
