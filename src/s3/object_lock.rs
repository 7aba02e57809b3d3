//! Object lock operations: Get/PutObjectLockConfiguration on buckets and
//! Get/PutObjectRetention and Get/PutObjectLegalHold on one version. The
//! documents are `s3::lock`'s; meta checks and applies every rule (what may be
//! shortened, which bucket may have it) in the mutation itself.

use crate::clock::unix_now_ms;
use crate::http::conn::Exchange;
use crate::meta::{LockChange, Mutation, Version, WhichVersion};
use crate::s3::body::read_small_body;
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::gateway::{Gateway, Request};
use crate::s3::lock::{
    legal_hold_xml, object_lock_configuration_xml, parse_legal_hold,
    parse_object_lock_configuration, parse_retention, retention_xml,
};
use crate::s3::map::{self, io_error};
use crate::s3::{authz, bucket, object};

const XML: (&str, &str) = ("content-type", "application/xml");
/// Object lock documents are a few hundred bytes.
const BODY_MAX: usize = 16 << 10;

pub async fn get_configuration(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let record = bucket::existing(gw, req).await?;
    let config = record.object_lock.ok_or_else(|| {
        S3Error::new(C::ObjectLockConfigurationNotFoundError).field("BucketName", req.bucket())
    })?;
    ex.respond(200, &[XML], &object_lock_configuration_xml(&config))
        .await
        .map_err(io_error)
}

pub async fn put_configuration(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let (body, _) = read_small_body(ex, req, BODY_MAX).await?;
    let config = parse_object_lock_configuration(&body)?;
    gw.meta
        .commit(Mutation::SetBucketObjectLock {
            project: req.project(),
            bucket: req.bucket().to_string(),
            config,
        })
        .await
        .map_err(|e| map::meta_error(e).field("BucketName", req.bucket()))?;
    ex.respond(200, &[], b"").await.map_err(io_error)
}

/// The version a retention or legal hold request names, read as a GET
/// reads it (a delete marker answers as it does there).
async fn version(gw: &Gateway, req: &Request) -> Result<Version, S3Error> {
    object::read_version(gw, req).await.map(|read| read.version)
}

pub async fn get_retention(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let retention = version(gw, req)
        .await?
        .lock
        .retention
        .ok_or_else(|| S3Error::new(C::NoSuchObjectLockConfiguration))?;
    ex.respond(200, &[XML], &retention_xml(&retention))
        .await
        .map_err(io_error)
}

pub async fn get_legal_hold(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let on = version(gw, req).await?.lock.legal_hold;
    ex.respond(200, &[XML], &legal_hold_xml(on))
        .await
        .map_err(io_error)
}

/// PutObjectRetention and PutObjectLegalHold: the change, as meta applies it.
pub async fn put_lock(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
    retention: bool,
) -> Result<(), S3Error> {
    let (body, _) = read_small_body(ex, req, BODY_MAX).await?;
    let now_ms = unix_now_ms();
    let change = if retention {
        LockChange::Retention {
            retention: parse_retention(&body, now_ms)?,
            bypass_governance: authz::bypass_governance(req, &ex.head)?,
        }
    } else {
        LockChange::LegalHold(parse_legal_hold(&body)?)
    };
    let which = req.route.version_id.unwrap_or(WhichVersion::Latest);
    gw.meta
        .commit(Mutation::SetObjectLock {
            project: req.project(),
            bucket: req.bucket().to_string(),
            key: req.key().to_string(),
            which,
            change,
            now_ms,
        })
        .await
        .map_err(map::meta_error)?;
    ex.respond(200, &[], b"").await.map_err(io_error)
}
