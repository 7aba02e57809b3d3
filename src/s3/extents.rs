//! Between the pipeline's extents (with content keys in the clear) and the
//! metadata's (with content keys wrapped under the project's root key, bound
//! to the object's identity): sealing after a write, opening before a read,
//! rewrapping for copies and completed multipart uploads, and deleting the
//! pieces of extents nothing will reference.

use crate::entropy::Os;
use crate::meta::{Extent, ProjectId, SegmentInfo, UploadId};
use crate::object_io::{BodyExtent, SegmentRecord};
use crate::pieces::SegmentId;
use crate::pipeline::crypto::{RootKey, WrappedKey};
use crate::pipeline::encoder::SegmentSeal;
use crate::s3::error::{S3Error, S3ErrorCode};

/// The associated data binding a wrapped key to an object: a key moved to
/// another object's record does not open.
pub fn object_identity(project: ProjectId, bucket: &str, key: &str) -> Vec<u8> {
    let mut id = Vec::with_capacity(40 + bucket.len() + key.len());
    id.extend_from_slice(b"object\0");
    id.extend_from_slice(&project.0);
    id.extend_from_slice(&(bucket.len() as u32).to_be_bytes());
    id.extend_from_slice(bucket.as_bytes());
    id.extend_from_slice(key.as_bytes());
    id
}

/// The identity of one part of a multipart upload.
pub fn part_identity(
    project: ProjectId,
    bucket: &str,
    key: &str,
    upload: UploadId,
    part_number: u32,
) -> Vec<u8> {
    let mut id = b"part\0".to_vec();
    id.extend_from_slice(&upload.0);
    id.extend_from_slice(&part_number.to_be_bytes());
    id.extend_from_slice(&object_identity(project, bucket, key));
    id
}

/// Wraps each extent's key for metadata; returns the metadata extents and the
/// new segments they reference.
pub fn seal(
    extents: Vec<BodyExtent>,
    root: &RootKey,
    identity: &[u8],
) -> (Vec<Extent>, Vec<(SegmentId, SegmentInfo)>) {
    let mut out = Vec::with_capacity(extents.len());
    let mut segments = Vec::new();
    for extent in extents {
        match extent {
            BodyExtent::Inline { sealed, seal } => out.push(Extent::Inline {
                sealed,
                wrapped_key: WrappedKey::wrap(root, identity, None, &seal.key, &mut Os)
                    .into_bytes(),
                nonce_prefix: seal.nonce_prefix,
            }),
            BodyExtent::Segment(segment) => {
                out.push(Extent::Segment {
                    id: segment.id,
                    plaintext_bytes: segment.plaintext_bytes,
                    wrapped_key: WrappedKey::wrap(
                        root,
                        identity,
                        Some(&segment.id.0),
                        &segment.seal.key,
                        &mut Os,
                    )
                    .into_bytes(),
                    nonce_prefix: segment.seal.nonce_prefix,
                });
                segments.push((
                    segment.id,
                    SegmentInfo {
                        erasure: segment.erasure,
                        share_bytes: segment.share_bytes as u32,
                        plaintext_bytes: segment.plaintext_bytes,
                        pieces: segment.pieces,
                    },
                ));
            }
        }
    }
    (out, segments)
}

fn unwrap(
    wrapped: &[u8],
    root: &RootKey,
    identity: &[u8],
    extent: Option<&[u8; 16]>,
) -> Result<SegmentSeal, S3Error> {
    let key = WrappedKey::from_slice(wrapped)
        .and_then(|w| w.unwrap_key(root, identity, extent).ok())
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InternalError,
                "a content key of this object does not open with this project's key",
            )
        })?;
    Ok(SegmentSeal {
        key,
        nonce_prefix: [0; 4],
    })
}

/// Opens metadata extents for reading; `infos` are the segments' records in
/// the order the extents name them.
pub fn open(
    extents: &[Extent],
    infos: &[SegmentInfo],
    root: &RootKey,
    identity: &[u8],
) -> Result<Vec<BodyExtent>, S3Error> {
    let mut infos = infos.iter();
    let mut out = Vec::with_capacity(extents.len());
    for extent in extents {
        out.push(match extent {
            Extent::Inline {
                sealed,
                wrapped_key,
                nonce_prefix,
            } => {
                let mut seal = unwrap(wrapped_key, root, identity, None)?;
                seal.nonce_prefix = *nonce_prefix;
                BodyExtent::Inline {
                    sealed: sealed.clone(),
                    seal,
                }
            }
            Extent::Segment {
                id,
                plaintext_bytes,
                wrapped_key,
                nonce_prefix,
            } => {
                let info = infos.next().ok_or_else(|| {
                    S3Error::with_message(S3ErrorCode::InternalError, "segment record missing")
                })?;
                let mut seal = unwrap(wrapped_key, root, identity, Some(&id.0))?;
                seal.nonce_prefix = *nonce_prefix;
                BodyExtent::Segment(SegmentRecord {
                    id: *id,
                    erasure: info.erasure,
                    share_bytes: info.share_bytes as usize,
                    plaintext_bytes: *plaintext_bytes,
                    seal,
                    pieces: info.pieces.clone(),
                })
            }
        });
    }
    Ok(out)
}

/// Moves every key from one identity to another (same project root key):
/// a server-side copy or a completed upload, without touching the data.
pub fn rewrap(
    extents: &[Extent],
    root: &RootKey,
    from: &[u8],
    to: &[u8],
) -> Result<Vec<Extent>, S3Error> {
    extents
        .iter()
        .map(|extent| {
            let moved = |wrapped: &[u8], extent: Option<&[u8; 16]>| {
                let old = WrappedKey::from_slice(wrapped).ok_or_else(bad_key)?;
                let new = old.rewrap(root, from, extent, root, to, &mut Os);
                Ok::<_, S3Error>(new.map_err(|_| bad_key())?.into_bytes())
            };
            Ok(match extent {
                Extent::Inline {
                    sealed,
                    wrapped_key,
                    nonce_prefix,
                } => Extent::Inline {
                    sealed: sealed.clone(),
                    wrapped_key: moved(wrapped_key, None)?,
                    nonce_prefix: *nonce_prefix,
                },
                Extent::Segment {
                    id,
                    plaintext_bytes,
                    wrapped_key,
                    nonce_prefix,
                } => Extent::Segment {
                    id: *id,
                    plaintext_bytes: *plaintext_bytes,
                    wrapped_key: moved(wrapped_key, Some(&id.0))?,
                    nonce_prefix: *nonce_prefix,
                },
            })
        })
        .collect()
}

fn bad_key() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InternalError,
        "a content key of the source does not open with this project's key",
    )
}
