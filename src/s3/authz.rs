//! What a grant allows, asked per operation: the one place that maps S3
//! operations to the grant's actions (read, write, list, delete) and paths.
//! Operations whose answer depends on more than the route — listings (filtered,
//! not refused), DeleteObjects (per key), copies (the source too) — ask again
//! in their handlers with the helpers here.

use crate::auth::{Action, Denied, ListScope};
use crate::clock::unix_now_secs_signed as now_unix;
use crate::meta::Precondition;
use crate::operation::Operation;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::gateway::Request;

pub fn denied(reason: Denied) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!("Access Denied: {reason}"),
    )
}

/// The check every request passes before its handler runs.
pub fn check(req: &Request) -> Result<(), S3Error> {
    use Operation as Op;
    let p = &req.caller.permissions;
    let (bucket, key, now) = (req.bucket(), req.key(), now_unix());
    let result = match req.route.operation {
        Op::GetObject
        | Op::HeadObject
        | Op::GetObjectRetention
        | Op::GetObjectLegalHold
        | Op::GetObjectTagging
        | Op::GetObjectAttributes => p.allows(Action::Read, bucket, key, now),
        // Protecting a version is writing to it; lifting a protection early
        // asks for the governance bypass as well (`bypass_governance`).
        Op::PutObjectRetention | Op::PutObjectLegalHold => {
            p.allows(Action::Write, bucket, key, now)
        }
        // Tags are the object's metadata: changing or removing them is a write.
        Op::PutObjectTagging | Op::DeleteObjectTagging => p.allows(Action::Write, bucket, key, now),
        Op::PutObject
        | Op::CopyObject
        | Op::CreateMultipartUpload
        | Op::UploadPart
        | Op::UploadPartCopy
        | Op::CompleteMultipartUpload => p.allows(Action::Write, bucket, key, now),
        // Aborting destroys parts someone uploaded, maybe another holder of a
        // write grant: a delete, as in Storj (aborting is deleting a pending
        // object there, which asks for its delete permission).
        Op::DeleteObject | Op::AbortMultipartUpload => p.allows(Action::Delete, bucket, key, now),
        Op::ListParts => p.allows(Action::List, bucket, key, now),
        Op::ListBuckets => p.allows_list_buckets(now),
        Op::CreateBucket => p.allows(Action::Write, bucket, "", now),
        Op::DeleteBucket => p.allows(Action::Delete, bucket, "", now),
        Op::HeadBucket
        | Op::GetBucketLocation
        | Op::GetBucketVersioning
        | Op::GetObjectLockConfiguration
        | Op::GetBucketTagging
        | Op::GetBucketEncryption => p.allows_bucket(bucket, now),
        // Configuration speaks for the whole bucket: a grant must write all of it.
        Op::PutBucketTagging
        | Op::DeleteBucketTagging
        | Op::PutBucketEncryption
        | Op::DeleteBucketEncryption
        | Op::PutBucketVersioning
        | Op::PutObjectLockConfiguration => p.allows(Action::Write, bucket, "", now),
        // Filtered or checked per key in their handlers.
        Op::ListObjects
        | Op::ListObjectsV2
        | Op::ListObjectVersions
        | Op::ListMultipartUploads
        | Op::DeleteObjects => p.check_time(now),
    };
    result.map_err(denied)
}

/// Whether the grant may act on one more key (DeleteObjects, copy sources).
pub fn allows(req: &Request, action: Action, bucket: &str, key: &str) -> Result<(), S3Error> {
    req.caller
        .permissions
        .allows(action, bucket, key, now_unix())
        .map_err(denied)
}

/// `x-amz-bypass-governance-retention: true`, which needs the grant's bypass
/// privilege: a project's own key holds it, and a restricted grant only where
/// every restriction kept it (`grant restrict --keep-bypass-governance`).
pub fn bypass_governance(
    req: &Request,
    head: &crate::http::head::RequestHead,
) -> Result<bool, S3Error> {
    let asked = head
        .header_str("x-amz-bypass-governance-retention")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if asked && !req.caller.permissions.allows_bypass_governance() {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Access Denied: this grant may not bypass governance retention",
        ));
    }
    Ok(asked)
}

/// How a listing under `prefix` is filtered.
pub fn list_scope(req: &Request, prefix: &str) -> Result<ListScope, S3Error> {
    req.caller
        .permissions
        .list_scope(req.bucket(), prefix, now_unix())
        .map_err(denied)
}

/// Replacing an upload's part destroys it, as replacing an object does: only
/// a grant that may delete the key may, so a write-only grant cannot destroy
/// parts another holder uploaded.
pub fn may_replace_part(req: &Request) -> bool {
    allows(req, Action::Delete, req.bucket(), req.key()).is_ok()
}

/// Replacing an object destroys it: a grant that may write but not delete
/// writes only where no object is (`If-None-Match: *`), and may not ask to
/// replace one (`If-Match`).
pub fn write_condition(
    req: &Request,
    asked: Option<Precondition>,
) -> Result<Option<Precondition>, S3Error> {
    match allows(req, Action::Delete, req.bucket(), req.key()) {
        Ok(()) => Ok(asked),
        Err(e) => match asked {
            None | Some(Precondition::IfNoneMatchStar) => Ok(Some(Precondition::IfNoneMatchStar)),
            Some(Precondition::IfMatch(_)) => Err(e),
        },
    }
}
