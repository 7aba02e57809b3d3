//! `Gateway`: one core's S3 service. It owns the core's view of the world (the
//! metadata facade, its piece-store handles, the pipeline settings, the sealed
//! access-record cache) and turns each request into an operation: route,
//! authenticate, call the operation's handler, and render any error as S3's
//! XML. Handlers live in `bucket`, `list`, `object`, `copy` and `multipart`.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use crate::auth::AccessKeyId;
use crate::cluster::StoreSet;
use crate::config::ServeConfig;
use crate::http::conn::{Exchange, RequestHandler};
use crate::http::HttpError;
use crate::meta::{Meta, ProjectId};
use crate::metrics::{CoreMetrics, Metrics};
use crate::object::PipelineConfig;
use crate::pipeline::crypto::fill_random;
use crate::registry::Registry;
use crate::s3::authn::{authenticate, Caller, GrantCache};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::route::{route, Operation, Route, RouteInput};
use crate::s3::{bucket, copy, list, map, multipart, object};
use crate::sigv4::RequestParts;

pub struct Gateway {
    pub core: usize,
    pub metrics: Arc<Metrics>,
    pub config: Arc<ServeConfig>,
    pub meta: Meta,
    pub stores: Rc<StoreSet>,
    pub pipeline: Rc<PipelineConfig>,
    pub registry: Registry,
    pub grants: GrantCache,
    /// Upload slots of this core (`Limits::uploads_per_core_max`).
    pub uploads: glommio::sync::Semaphore,
    request_seq: Cell<u64>,
    /// Per-process random prefix of request ids, so ids from two runs differ.
    request_prefix: String,
}

/// A routed, authenticated request, as handlers see it.
pub struct Request {
    pub route: Route,
    pub query: Vec<(String, String)>,
    pub caller: Caller,
}

impl Request {
    pub fn project(&self) -> ProjectId {
        self.caller.project
    }

    pub fn bucket(&self) -> &str {
        self.route.bucket.as_deref().unwrap_or("")
    }

    pub fn key(&self) -> &str {
        self.route.key.as_deref().unwrap_or("")
    }

    /// The first query parameter `name`, decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        crate::s3::route::query_value(&self.query, name)
    }

    pub fn access_key(&self) -> &AccessKeyId {
        &self.caller.access_key
    }
}

impl Gateway {
    pub fn new(
        core: usize,
        config: Arc<ServeConfig>,
        registry: Registry,
        stores: Rc<StoreSet>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut prefix = [0u8; 3];
        fill_random(&mut prefix);
        Self {
            core,
            metrics,
            pipeline: Rc::new(config.pipeline.clone()),
            grants: GrantCache::new(
                config.limits.grant_cache_entries_max,
                config.limits.grant_cache_ttl,
            ),
            uploads: glommio::sync::Semaphore::new(config.limits.uploads_per_core_max as u64),
            config,
            meta: registry.meta().clone(),
            registry,
            stores,
            request_seq: Cell::new(0),
            request_prefix: format!(
                "{:02X}{}",
                core & 0xff,
                crate::pipeline::checksum::hex(&prefix).to_ascii_uppercase()
            ),
        }
    }

    /// This core's counters.
    pub fn counters(&self) -> &CoreMetrics {
        self.metrics.core(self.core)
    }

    async fn serve(
        &self,
        ex: &mut Exchange<'_>,
        operation: &mut Option<Operation>,
    ) -> Result<(), (S3Error, Option<String>)> {
        let target = ex.head.target().to_string();
        let (raw_path, raw_query) = match target.split_once('?') {
            Some((path, query)) => (path, query),
            None => (target.as_str(), ""),
        };
        if !raw_path.starts_with('/') {
            return Err((S3Error::new(S3ErrorCode::InvalidURI), None));
        }
        let query = crate::sigv4::query_pairs(raw_query);
        let method = ex.head.method().as_str().to_string();
        let host = ex.head.header_str("host");
        let domain = self.config.domain.as_deref();
        if crate::s3::register::is_registration(&method, raw_path, raw_query, host, domain) {
            crate::s3::register::register(self, ex).await;
            return Ok(());
        }
        let route = route(&RouteInput {
            method: &method,
            raw_path,
            query: &query,
            host: ex.head.header_str("host"),
            domain: self.config.domain.as_deref(),
            has_copy_source: ex.head.header("x-amz-copy-source").is_some(),
        })
        .map_err(|e| (e, None))?;
        *operation = Some(route.operation);
        let resource = route.resource();
        let caller = {
            let headers: Vec<(&str, &[u8])> = ex.head.headers().collect();
            let parts = RequestParts {
                method: &method,
                raw_path,
                raw_query,
                headers: &headers,
            };
            authenticate(
                &self.registry,
                &self.grants,
                self.counters(),
                &self.config.region,
                &parts,
            )
            .await
            .map_err(|e| (e, Some(resource.clone())))?
        };
        let request = Request {
            route,
            query,
            caller,
        };
        crate::s3::authz::check(&request).map_err(|e| (e, Some(resource.clone())))?;
        self.dispatch(ex, &request)
            .await
            .map_err(|e| (e, Some(resource)))
    }

    async fn dispatch(&self, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
        use Operation as Op;
        match req.route.operation {
            Op::ListBuckets => bucket::list_buckets(self, ex, req).await,
            Op::CreateBucket => bucket::create_bucket(self, ex, req).await,
            Op::HeadBucket => bucket::head_bucket(self, ex, req).await,
            Op::DeleteBucket => bucket::delete_bucket(self, ex, req).await,
            Op::GetBucketLocation => bucket::get_bucket_location(self, ex, req).await,
            Op::GetBucketVersioning => bucket::get_bucket_versioning(self, ex, req).await,
            Op::ListObjects => list::list_objects(self, ex, req, false).await,
            Op::ListObjectsV2 => list::list_objects(self, ex, req, true).await,
            Op::ListObjectVersions => list::list_object_versions(self, ex, req).await,
            Op::ListMultipartUploads => list::list_multipart_uploads(self, ex, req).await,
            Op::ListParts => list::list_parts(self, ex, req).await,
            Op::DeleteObjects => object::delete_objects(self, ex, req).await,
            Op::PutObject => object::put_object(self, ex, req).await,
            Op::GetObject | Op::HeadObject => object::get_object(self, ex, req).await,
            Op::DeleteObject => object::delete_object(self, ex, req).await,
            Op::CopyObject => copy::copy_object(self, ex, req).await,
            Op::UploadPartCopy => copy::upload_part_copy(self, ex, req).await,
            Op::CreateMultipartUpload => multipart::create(self, ex, req).await,
            Op::UploadPart => multipart::upload_part(self, ex, req).await,
            Op::CompleteMultipartUpload => multipart::complete(self, ex, req).await,
            Op::AbortMultipartUpload => multipart::abort(self, ex, req).await,
        }
    }

    async fn send_error(&self, ex: &mut Exchange<'_>, error: S3Error, resource: Option<String>) {
        let error = match (resource, &error.resource) {
            (Some(resource), None) => error.resource(resource),
            _ => error,
        };
        let body = error.to_xml(&ex.request_id);
        let _ = ex
            .respond(
                error.status(),
                &[("content-type", "application/xml")],
                &body,
            )
            .await;
    }
}

impl RequestHandler for Gateway {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        let started = std::time::Instant::now();
        let mut operation = None;
        if let Err((error, resource)) = self.serve(ex, &mut operation).await {
            if !ex.response_started() {
                self.send_error(ex, error, resource).await;
            }
        }
        let (bytes_in, bytes_out) = ex.bytes_moved();
        self.counters().request(
            operation,
            ex.status(),
            started.elapsed(),
            bytes_in,
            bytes_out,
        );
    }

    fn reject(&self, error: &HttpError, request_id: &str) -> (u16, &'static str, Vec<u8>) {
        CoreMetrics::add(&self.counters().requests_rejected, 1);
        let s3 = map::http_error(error);
        let status = map::http_error_status(error, &s3);
        (status, "application/xml", s3.to_xml(request_id))
    }

    fn request_id(&self) -> String {
        let seq = self.request_seq.get();
        self.request_seq.set(seq + 1);
        format!("{}{:010X}", self.request_prefix, seq)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
