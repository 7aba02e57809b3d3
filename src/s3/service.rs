//! One core's S3 service loop: `Gateway` as the connection's request handler.
//! Each request is routed, authenticated, authorized and dispatched to its
//! operation's handler (`bucket`, `list`, `object`, `copy`, `multipart`,
//! `register`), and any error is rendered as S3's XML; its end is counted and,
//! when the access log is on, written as one line (`access`). The one file
//! that knows every handler; nothing below it knows this one.

use crate::http::conn::{Exchange, RequestHandler};
use crate::http::HttpError;
use crate::metrics::CoreMetrics;
use crate::operation::Operation;
use crate::s3::access::{self, KeyDigest, Outcome, RequestFacts};
use crate::s3::authn::authenticate;
use crate::s3::bucket_config::{self, encryption::BucketEncryption, tagging::BucketTagging};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::gateway::{Gateway, Request};
use crate::s3::route::{route, RouteInput};
use crate::s3::{
    authz, bucket, copy, list, map, multipart, object, object_attributes, object_lock,
    object_tagging, register,
};
use crate::sigv4::RequestParts;
use crate::target::{query_pairs, Target};

impl Gateway {
    /// Serves one request, noting in `facts` what it learns (the access
    /// log's part only when `logged`).
    async fn serve(
        &self,
        ex: &mut Exchange<'_>,
        facts: &mut RequestFacts,
        logged: bool,
    ) -> Result<(), (S3Error, Option<String>)> {
        let target_text = ex.head.target().to_string();
        let target = Target::parse(&target_text)
            .ok()
            .filter(|target| target.path_raw.starts_with('/'))
            .ok_or((S3Error::new(S3ErrorCode::InvalidURI), None))?;
        let (raw_path, raw_query) = (target.path_raw, target.query_raw.unwrap_or(""));
        let query = query_pairs(raw_query);
        let method = ex.head.method().as_str().to_string();
        let host = ex.head.header_str("host");
        let domain = self.config.domain.as_deref();
        if register::is_registration(&method, raw_path, raw_query, host, domain) {
            register::register(self, ex).await;
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
        facts.operation = Some(route.operation);
        if logged {
            facts.bucket = route.bucket.clone();
            facts.key = route.key.as_deref().map(KeyDigest::of);
        }
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
            .map_err(|e| (map::authn_error(e), Some(resource.clone())))?
        };
        facts.project = Some(caller.project);
        let request = Request {
            route,
            query,
            caller,
        };
        authz::check(&request).map_err(|e| (e, Some(resource.clone())))?;
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
            Op::PutBucketVersioning => bucket::put_bucket_versioning(self, ex, req).await,
            Op::GetObjectLockConfiguration => object_lock::get_configuration(self, ex, req).await,
            Op::PutObjectLockConfiguration => object_lock::put_configuration(self, ex, req).await,
            Op::GetObjectRetention => object_lock::get_retention(self, ex, req).await,
            Op::PutObjectRetention => object_lock::put_lock(self, ex, req, true).await,
            Op::GetObjectLegalHold => object_lock::get_legal_hold(self, ex, req).await,
            Op::PutObjectLegalHold => object_lock::put_lock(self, ex, req, false).await,
            Op::GetObjectAttributes => object_attributes::get(self, ex, req).await,
            Op::GetObjectTagging => object_tagging::get(self, ex, req).await,
            Op::PutObjectTagging => object_tagging::put(self, ex, req).await,
            Op::DeleteObjectTagging => object_tagging::delete(self, ex, req).await,
            Op::GetBucketTagging => bucket_config::get::<BucketTagging>(self, ex, req).await,
            Op::PutBucketTagging => bucket_config::put::<BucketTagging>(self, ex, req).await,
            Op::DeleteBucketTagging => bucket_config::delete::<BucketTagging>(self, ex, req).await,
            Op::GetBucketEncryption => bucket_config::get::<BucketEncryption>(self, ex, req).await,
            Op::PutBucketEncryption => bucket_config::put::<BucketEncryption>(self, ex, req).await,
            Op::DeleteBucketEncryption => {
                bucket_config::delete::<BucketEncryption>(self, ex, req).await
            }
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
        let error = match (resource, error.resource_value().is_some()) {
            (Some(resource), false) => error.resource(resource),
            _ => error,
        };
        let body = error.to_xml(&ex.request_id);
        let mut headers = vec![("content-type", "application/xml")];
        headers.extend(error.headers().iter().map(|(n, v)| (*n, v.as_str())));
        let _ = ex.respond(error.status(), &headers, &body).await;
    }
}

impl RequestHandler for Gateway {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        let started = std::time::Instant::now();
        let logged = access::enabled();
        if logged {
            ex.measure_first_byte();
        }
        let mut facts = RequestFacts::default();
        if let Err((error, resource)) = self.serve(ex, &mut facts, logged).await {
            facts.error = Some(error.code());
            if !ex.response_started() {
                self.send_error(ex, error, resource).await;
            }
        }
        let (bytes_in, bytes_out) = ex.bytes_moved();
        let duration = started.elapsed();
        self.counters()
            .request(facts.operation, ex.status(), duration, bytes_in, bytes_out);
        if logged {
            let outcome = Outcome {
                status: ex.status(),
                bytes_in,
                bytes_out,
                duration,
                first_byte: ex.first_byte_at().map(|at| at - started),
            };
            access::log(&ex.request_id, &facts, &outcome);
        }
    }

    fn reject(&self, error: &HttpError, request_id: &str) -> (u16, &'static str, Vec<u8>) {
        CoreMetrics::add(&self.counters().requests_rejected, 1);
        let s3 = map::http_error(error);
        let status = map::http_error_status(error, &s3);
        let body = s3.to_xml(request_id);
        // Before a handler ran nothing was measured: the line says what failed.
        if access::enabled() {
            let facts = RequestFacts {
                error: Some(s3.code()),
                ..RequestFacts::default()
            };
            let outcome = Outcome {
                status,
                bytes_in: 0,
                bytes_out: 0,
                duration: std::time::Duration::ZERO,
                first_byte: None,
            };
            access::log(request_id, &facts, &outcome);
        }
        (status, "application/xml", body)
    }

    fn request_id(&self) -> String {
        self.next_request_id()
    }
}
