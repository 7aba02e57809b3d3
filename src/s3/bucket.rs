//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
//! GetBucketLocation and Get/PutBucketVersioning. Buckets belong to a project: two
//! projects may each own a bucket of the same name.

use crate::clock::unix_now_ms;
use crate::http::conn::Exchange;
use crate::meta::{BucketRecord, Mutation, ObjectLock, Versioning};
use crate::s3::body::read_small_body;
use crate::s3::common::owner;
use crate::s3::error::{S3Error, S3ErrorCode as C};
use crate::s3::gateway::{Gateway, Request};
use crate::s3::map::{self, io_error};
use crate::s3::versioning::{parse_versioning_configuration, versioning_configuration_xml};
use crate::s3::xml::request::parse_create_bucket_configuration;
use crate::s3::xml::response::{location_constraint_xml, BucketEntry, ListAllMyBucketsResult};

const XML: (&str, &str) = ("content-type", "application/xml");

pub async fn list_buckets(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let buckets = gw
        .meta
        .buckets(req.project())
        .await
        .map_err(map::meta_error)?;
    let prefix = req.query("prefix").unwrap_or("");
    let xml = ListAllMyBucketsResult {
        owner: owner(req),
        buckets: buckets
            .into_iter()
            .filter(|b| {
                b.name.starts_with(prefix) && req.caller.permissions.bucket_visible(&b.name)
            })
            .map(|b| BucketEntry {
                name: b.name,
                creation_date_ms: b.created_ms as i64,
                region: Some(b.location),
            })
            .collect(),
        continuation_token: None,
        prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
    }
    .to_xml();
    ex.respond(200, &[XML], &xml).await.map_err(io_error)
}

pub async fn create_bucket(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let (body, _) = read_small_body(ex, req, 64 << 10).await?;
    let config = parse_create_bucket_configuration(&body)?;
    let region = &gw.config.region;
    match config.location_constraint.as_deref() {
        None if region == "us-east-1" => {}
        Some(asked) if asked == region => {}
        // S3 creates us-east-1 buckets without a constraint; any other
        // region must be named, and this server is one region.
        None => {
            return Err(S3Error::with_message(
                C::InvalidLocationConstraint,
                format!("this endpoint is region {region}: name it in LocationConstraint"),
            ))
        }
        Some(asked) => {
            return Err(S3Error::with_message(
                C::InvalidLocationConstraint,
                format!("the location constraint {asked} is not this endpoint's region {region}"),
            )
            .field("LocationConstraint", asked))
        }
    }
    // Object lock at creation turns versioning on with it, as in S3.
    let locked = match ex.head.header_str("x-amz-bucket-object-lock-enabled") {
        None => false,
        Some(v) if v.trim().eq_ignore_ascii_case("true") => true,
        Some(v) if v.trim().eq_ignore_ascii_case("false") => false,
        Some(other) => {
            return Err(S3Error::invalid_argument(
                "x-amz-bucket-object-lock-enabled must be true or false",
                "x-amz-bucket-object-lock-enabled",
                other,
            ))
        }
    };
    let (versioning, object_lock) = if locked {
        (Versioning::Enabled, Some(ObjectLock::default()))
    } else {
        (Versioning::Unversioned, None)
    };
    gw.meta
        .commit(Mutation::CreateBucket {
            project: req.project(),
            record: BucketRecord {
                name: req.bucket().to_string(),
                created_ms: unix_now_ms(),
                location: region.clone(),
                versioning,
                object_lock,
            },
        })
        .await
        .map_err(|e| map::meta_error(e).field("BucketName", req.bucket()))?;
    let location = format!("/{}", req.bucket());
    ex.respond(200, &[("location", location.as_str())], b"")
        .await
        .map_err(io_error)
}

pub async fn existing(gw: &Gateway, req: &Request) -> Result<BucketRecord, S3Error> {
    gw.meta
        .bucket(req.project(), req.bucket().to_string())
        .await
        .map_err(map::meta_error)?
        .ok_or_else(|| S3Error::no_such_bucket(req.bucket()))
}

pub async fn head_bucket(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let bucket = existing(gw, req).await?;
    ex.respond(
        200,
        &[
            ("x-amz-bucket-region", bucket.location.as_str()),
            ("x-amz-access-point-alias", "false"),
        ],
        b"",
    )
    .await
    .map_err(io_error)
}

pub async fn delete_bucket(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    gw.meta
        .commit(Mutation::DeleteBucket {
            project: req.project(),
            bucket: req.bucket().to_string(),
        })
        .await
        .map_err(|e| map::meta_error(e).field("BucketName", req.bucket()))?;
    ex.respond(204, &[], b"").await.map_err(io_error)
}

pub async fn get_bucket_location(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let bucket = existing(gw, req).await?;
    // S3 answers an empty constraint for us-east-1.
    let region = (bucket.location != "us-east-1").then_some(bucket.location.as_str());
    ex.respond(200, &[XML], &location_constraint_xml(region))
        .await
        .map_err(io_error)
}

pub async fn get_bucket_versioning(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let bucket = existing(gw, req).await?;
    ex.respond(
        200,
        &[XML],
        &versioning_configuration_xml(bucket.versioning),
    )
    .await
    .map_err(io_error)
}

pub async fn put_bucket_versioning(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let (body, _) = read_small_body(ex, req, 64 << 10).await?;
    let state = parse_versioning_configuration(&body)?;
    gw.meta
        .commit(Mutation::SetBucketVersioning {
            project: req.project(),
            bucket: req.bucket().to_string(),
            state,
        })
        .await
        .map_err(|e| map::meta_error(e).field("BucketName", req.bucket()))?;
    ex.respond(200, &[], b"").await.map_err(io_error)
}
