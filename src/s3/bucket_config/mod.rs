//! Bucket configuration families (tagging and default encryption today;
//! CORS, policy, lifecycle, website, … follow the same shape): one file per family, each
//! a [`ConfigFamily`], and the three handlers every family shares.
//!
//! A family owns its document: it parses and validates a PUT body into the
//! canonical document (the bytes GET answers with), and offers typed access
//! for whatever enforces it. Meta stores the document under the family's
//! name with the bucket (`Mutation::PutBucketConfig`) and never interprets
//! it; it goes when the bucket goes. The handlers here do the rest: body
//! limits and digests, the bucket's existence, the stored bytes, the status
//! codes. Family files are pure; this file does the I/O.

pub mod encryption;
mod family;
pub mod tagging;

pub use family::ConfigFamily;

use std::borrow::Cow;

use crate::http::conn::Exchange;
use crate::meta::Mutation;
use crate::s3::body::read_small_body;
use crate::s3::error::S3Error;
use crate::s3::gateway::{Gateway, Request};
use crate::s3::map::{self, io_error};

/// Configuration bodies are small; 64 KiB holds the largest S3 allows for
/// the families here (a bucket policy is at most 20 KiB).
const BODY_MAX: usize = 64 << 10;

/// `Get<Family>`: the stored document, else the family's default, else its
/// `MISSING` error.
pub async fn get<F: ConfigFamily>(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let configs = gw
        .meta
        .bucket_configs(req.project(), req.bucket().to_string())
        .await
        .map_err(|e| map::meta_error(e).field("BucketName", req.bucket()))?;
    let document = match configs.get(F::NAME) {
        Some(document) => Cow::Borrowed(document),
        None => Cow::Owned(
            F::default_document()
                .ok_or_else(|| S3Error::new(F::MISSING).field("BucketName", req.bucket()))?,
        ),
    };
    ex.respond(200, &[("content-type", F::CONTENT_TYPE)], &document)
        .await
        .map_err(io_error)
}

/// `Put<Family>`: validates the body and replaces the bucket's document.
pub async fn put<F: ConfigFamily>(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    let (body, claims) = read_small_body(ex, req, BODY_MAX).await?;
    if F::DIGEST_REQUIRED && claims.content_md5.is_none() && claims.algorithm.is_none() {
        return Err(S3Error::invalid_request(
            "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
        ));
    }
    let document = F::canonical(&body)?;
    store::<F>(gw, req, document).await?;
    ex.respond(F::PUT_STATUS, &[], b"").await.map_err(io_error)
}

/// `Delete<Family>`: removes the document; 204 whether or not there was one.
pub async fn delete<F: ConfigFamily>(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
) -> Result<(), S3Error> {
    store::<F>(gw, req, None).await?;
    ex.respond(204, &[], b"").await.map_err(io_error)
}

async fn store<F: ConfigFamily>(
    gw: &Gateway,
    req: &Request,
    document: Option<Vec<u8>>,
) -> Result<(), S3Error> {
    gw.meta
        .commit(Mutation::PutBucketConfig {
            project: req.project(),
            bucket: req.bucket().to_string(),
            family: F::NAME.to_string(),
            document,
        })
        .await
        .map_err(|e| map::meta_error(e).field("BucketName", req.bucket()))?;
    Ok(())
}
