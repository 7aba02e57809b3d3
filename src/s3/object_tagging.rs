//! Object tagging: Get/Put/DeleteObjectTagging on one version. The tag set's
//! rules and documents are `bucket_config::tagging`'s; meta rewrites the
//! version's row in place (tags live in its header), so a version keeps its
//! id, ETag and last-modified time when its tags change.

use crate::http::conn::Exchange;
use crate::meta::{Mutation, MutationOutcome, WhichVersion};
use crate::s3::body::read_small_body;
use crate::s3::bucket_config::tagging::TagSet;
use crate::s3::error::S3Error;
use crate::s3::gateway::{Gateway, Request};
use crate::s3::map::{self, io_error};
use crate::s3::object;
use crate::s3::versioning::read_version_header;

const XML: (&str, &str) = ("content-type", "application/xml");
/// Ten tags of 128 + 256 characters, four bytes each, and the markup.
const BODY_MAX: usize = 64 << 10;

pub async fn get(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let read = object::read_version(gw, req).await?;
    let mut headers = vec![XML];
    if let Some(id) = &read.version_header {
        headers.push(("x-amz-version-id", id.as_str()));
    }
    let body = TagSet::from_pairs(&read.record.tags).to_xml();
    ex.respond(200, &headers, &body).await.map_err(io_error)
}

pub async fn put(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let (body, _) = read_small_body(ex, req, BODY_MAX).await?;
    let tags = TagSet::parse_object(&body)?.into_pairs();
    let outcome = set_tags(gw, req, tags).await?;
    respond(ex, req, 200, &outcome).await
}

pub async fn delete(gw: &Gateway, ex: &mut Exchange<'_>, req: &Request) -> Result<(), S3Error> {
    let outcome = set_tags(gw, req, Vec::new()).await?;
    respond(ex, req, 204, &outcome).await
}

async fn set_tags(
    gw: &Gateway,
    req: &Request,
    tags: Vec<(String, String)>,
) -> Result<MutationOutcome, S3Error> {
    let which = req.route.version_id.unwrap_or(WhichVersion::Latest);
    gw.meta
        .commit(Mutation::SetObjectTags {
            project: req.project(),
            bucket: req.bucket().to_string(),
            key: req.key().to_string(),
            which,
            tags,
        })
        .await
        .map_err(map::meta_error)
}

/// The answer to a tagging change: the version it changed.
async fn respond(
    ex: &mut Exchange<'_>,
    req: &Request,
    status: u16,
    outcome: &MutationOutcome,
) -> Result<(), S3Error> {
    let named = req.route.version_id.is_some();
    let shown = outcome
        .version
        .and_then(|version| read_version_header(outcome.versioning, &version, named));
    let headers: Vec<(&str, &str)> = shown
        .iter()
        .map(|id| ("x-amz-version-id", id.as_str()))
        .collect();
    ex.respond(status, &headers, b"").await.map_err(io_error)
}
