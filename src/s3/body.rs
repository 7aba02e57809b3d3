//! Request bodies: a small XML body read whole, and an object body streamed
//! through the pipeline onto the piece stores (PutObject, UploadPart),
//! checked against every digest the client claimed before anything commits.

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_lite::future;

use crate::http::conn::Exchange;
use crate::meta::StoredChecksum;
use crate::object_io::{ObjectWriter, StoredObject};
use crate::pipeline::checksum::{ChecksumAlgorithm, DigestRequest, ObjectHasher};
use crate::pipeline::EtagMode;
use crate::s3::common::B64;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::gateway::{Gateway, Request};
use crate::s3::payload::{DigestClaims, Payload, PayloadError};
use crate::s3::{map, write};

/// A body received and stored on pieces, every claim about it checked.
pub struct Received {
    pub stored: StoredObject,
    pub claims: DigestClaims,
    pub etag: String,
}

impl Received {
    /// The checksum S3 keeps for the object: the one the client used, else
    /// CRC64NVME (S3's default), which the pipeline computes on every write.
    pub fn checksum(&self, default: ChecksumAlgorithm) -> StoredChecksum {
        match &self.stored.digest.checksum {
            Some(value) => StoredChecksum {
                algorithm: value.algorithm,
                value: B64.encode(&value.bytes),
                composite_parts: None,
            },
            None => {
                debug_assert_eq!(default, ChecksumAlgorithm::Crc64Nvme);
                StoredChecksum {
                    algorithm: ChecksumAlgorithm::Crc64Nvme,
                    value: B64.encode(self.stored.digest.crc64nvme.to_be_bytes()),
                    composite_parts: None,
                }
            }
        }
    }
}

/// How long an upload may still wait for its client's next bytes: the body
/// must keep an average of `min_bytes_per_sec` over the time spent waiting on
/// the client (not on the stores behind: their backpressure is the server's
/// own), after `grace`. A client trickling a byte a minute is cut off within
/// about `grace` plus one read, so it cannot hold an upload slot for ever.
#[derive(Clone, Copy, Debug)]
pub struct BodyPace {
    grace: Duration,
    min_bytes_per_sec: u64,
    waited: Duration,
    received: u64,
}

impl BodyPace {
    pub fn new(grace: Duration, min_bytes_per_sec: u64) -> Self {
        Self {
            grace,
            min_bytes_per_sec,
            waited: Duration::ZERO,
            received: 0,
        }
    }

    /// The wait the client has left for its next bytes (`None`: no rate
    /// asked, any wait the connection's own timeouts allow).
    pub fn allowance(&self) -> Option<Duration> {
        let rate = self.min_bytes_per_sec;
        (rate > 0).then(|| {
            let earned = Duration::from_secs_f64(self.received as f64 / rate as f64);
            (self.grace + earned).saturating_sub(self.waited)
        })
    }

    /// Counts one wait for the client and the bytes it brought.
    pub fn record(&mut self, waited: Duration, bytes: usize) {
        self.waited += waited;
        self.received += bytes as u64;
    }
}

/// Streams the request body through the pipeline onto the piece stores and
/// checks the signed payload hash, chunk signatures, length, Content-MD5 and
/// x-amz-checksum-*. On any failure the pieces written are deleted.
pub async fn receive(
    gw: &Gateway,
    ex: &mut Exchange<'_>,
    req: &Request,
    checksum_algorithm: Option<ChecksumAlgorithm>,
) -> Result<Received, S3Error> {
    let mut claims = digest_claims(ex).map_err(map::payload_error)?;
    if claims.algorithm.is_none() {
        claims.algorithm = checksum_algorithm;
    }
    let mut payload =
        open_payload(ex, req, gw.config.limits.object_bytes_max).map_err(map::payload_error)?;
    let md5 = gw.config.etag == EtagMode::Md5 || claims.content_md5.is_some();
    let digests = DigestRequest {
        md5,
        checksum: claims.algorithm,
    };
    let limits = &gw.config.limits;
    // The body waits in the socket until this core has an upload slot: the
    // writer's buffers are what an upload costs in memory. Not for ever.
    let slot = future::or(async { Some(gw.uploads.acquire_permit(1).await) }, async {
        glommio::timer::sleep(limits.upload_slot_wait).await;
        None
    })
    .await;
    let _slot = slot
        .ok_or_else(|| S3Error::new(S3ErrorCode::SlowDown))?
        .map_err(map::upload_slot_error)?;
    let mut writer = ObjectWriter::new(gw.pipeline.clone(), gw.stores.clone(), digests)
        .map_err(map::object_error)?;
    let mut pace = BodyPace::new(limits.upload_rate_grace, limits.upload_min_bytes_per_sec);
    loop {
        let asked = Instant::now();
        let next = match pace.allowance() {
            None => Some(payload.next(ex).await),
            Some(left) => {
                future::or(async { Some(payload.next(ex).await) }, async {
                    glommio::timer::sleep(left).await;
                    None
                })
                .await
            }
        };
        let Some(next) = next else {
            writer.abort();
            return Err(S3Error::new(S3ErrorCode::RequestTimeout));
        };
        match next {
            Ok(Some(data)) => {
                pace.record(asked.elapsed(), data.len());
                writer.write(data).await.map_err(map::object_error)?
            }
            Ok(None) => break,
            Err(e) => {
                writer.abort();
                return Err(map::payload_error(e));
            }
        }
    }
    let stored = writer.finish().await.map_err(map::object_error)?;
    record_write(gw, &stored.stats);
    if let Err(e) = claims.check(&stored.digest, payload.trailers()) {
        write::discard_written(gw, &stored.extents);
        return Err(map::payload_error(e));
    }
    let etag = stored
        .digest
        .etag(if md5 { EtagMode::Md5 } else { EtagMode::Fast });
    Ok(Received {
        stored,
        claims,
        etag,
    })
}

/// Adds a write's stage times and piece transfers to this core's metrics.
pub fn record_write(gw: &Gateway, stats: &crate::object_io::WriteStats) {
    use crate::metrics::{CoreMetrics, Stage};
    let c = gw.counters();
    c.stage(Stage::Hash, stats.stages.hash);
    c.stage(Stage::Encrypt, stats.stages.encrypt);
    c.stage(Stage::Encode, stats.stages.encode);
    c.stage(Stage::PieceWrite, stats.piece_write);
    CoreMetrics::add(&c.pieces_started, stats.pieces_started);
    CoreMetrics::add(&c.pieces_committed, stats.pieces_committed);
    CoreMetrics::add(&c.pieces_cancelled, stats.pieces_cancelled);
    CoreMetrics::add(&c.pieces_failed, stats.pieces_failed);
}

/// Reads a small request body (XML) whole, within `limit` bytes, with the
/// payload checks; returns it and the claims made about it.
pub async fn read_small_body(
    ex: &mut Exchange<'_>,
    req: &Request,
    limit: usize,
) -> Result<(Vec<u8>, DigestClaims), S3Error> {
    let claims = digest_claims(ex).map_err(map::payload_error)?;
    let mut payload = open_payload(ex, req, limit as u64).map_err(map::small_body_error)?;
    let mut body = Vec::new();
    while let Some(data) = payload.next(ex).await.map_err(map::small_body_error)? {
        body.extend_from_slice(data);
    }
    let digests = DigestRequest {
        md5: claims.content_md5.is_some(),
        checksum: claims.algorithm,
    };
    let mut hasher = ObjectHasher::new(digests);
    hasher.update(&body);
    let digest = hasher.finish(digests);
    claims
        .check(&digest, payload.trailers())
        .map_err(map::payload_error)?;
    Ok((body, claims))
}

/// What the request's headers claim about its body (Content-MD5,
/// `x-amz-checksum-*`, the trailer that will carry one).
fn digest_claims(ex: &Exchange<'_>) -> Result<DigestClaims, PayloadError> {
    DigestClaims::from_headers(|name| ex.head.header_str(name).map(String::from))
}

/// The request's payload as signed, refused past `bytes_max` decoded bytes.
fn open_payload(ex: &Exchange<'_>, req: &Request, bytes_max: u64) -> Result<Payload, PayloadError> {
    Payload::new(
        &req.caller.verified,
        &req.caller.signing_key,
        ex.head.header_str("x-amz-decoded-content-length"),
        ex.declared_length(),
        bytes_max,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_allows_the_grace_plus_what_the_bytes_earned() {
        let secs = Duration::from_secs;
        let mut pace = BodyPace::new(secs(10), 1000);
        assert_eq!(pace.allowance(), Some(secs(10)));
        pace.record(secs(4), 2000);
        assert_eq!(pace.allowance(), Some(secs(8)));
        // Waiting longer than earned leaves nothing: the next wait times out.
        pace.record(secs(9), 0);
        assert_eq!(pace.allowance(), Some(Duration::ZERO));
        pace.record(Duration::ZERO, 5000);
        assert_eq!(pace.allowance(), Some(secs(4)));
        assert_eq!(BodyPace::new(secs(10), 0).allowance(), None);
    }
}
