//! One request on the wire: sign the head, send it with its generated
//! body (a small request in one write), read the answer, stream a GET body
//! through its verifier, keep other bodies when small, and put the
//! connection back when it can carry another request.

use std::time::{Instant, SystemTime};

use base64::Engine as _;
use md5::Digest as _;

use super::error::OpError;
use super::thread::Core;
use crate::bench::body::{BodyEncoder, BodyPlan};
use crate::bench::client::{Conn, HttpError};
use crate::bench::content::{Corrupt, Verifier};
use crate::bench::s3::{self, sign_head, Request};
use crate::bench::wire::{BodyReader, ResponseHead};
use crate::sigv4::PayloadHash;

/// Largest response body kept (errors, listings, multipart answers).
const SMALL_BODY_BYTES_MAX: usize = 4 << 20;

/// A request body.
#[derive(Clone, Copy)]
pub(super) enum Body<'a> {
    Empty,
    /// Generated content, in the run's payload mode.
    Content(BodyPlan),
    /// Small fixed bytes (XML), payload signed, with Content-MD5 if asked.
    Bytes {
        data: &'a [u8],
        content_md5: bool,
    },
}

pub(super) struct Reply {
    pub head: ResponseHead,
    pub first_byte: Instant,
    /// The body, unless it went to a verifier.
    pub body: Vec<u8>,
}

/// A failed exchange, and whether it may be the server having closed an
/// idle keep-alive connection (nothing of the response arrived).
struct Failure {
    error: OpError,
    stale: bool,
}

impl From<OpError> for Failure {
    fn from(error: OpError) -> Self {
        Self {
            error,
            stale: false,
        }
    }
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Self {
        let stale = matches!(
            e,
            HttpError::Io {
                response_started: false,
                ..
            }
        );
        Self {
            error: e.into(),
            stale,
        }
    }
}

impl Core {
    /// Sends a signed request and reads the answer; a status outside
    /// `expect` is an error. A request that fails on a reused connection
    /// before any answer arrives is sent again once on a new one: the server
    /// most likely closed the idle connection.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn call(
        &self,
        name: &'static str,
        method: &'static str,
        path: &str,
        query: &str,
        unsigned: &[(&str, &str)],
        body: Body<'_>,
        expect: &[u16],
        mut verifier: Option<&mut Verifier>,
        scratch: &mut [u8],
    ) -> Result<Reply, OpError> {
        let request = Request {
            method,
            path,
            query,
            signed: &[],
            unsigned,
        };
        for attempt in 0..2 {
            let mut conn = if attempt == 0 {
                self.pool.checkout().await?
            } else {
                self.pool.connect().await?
            };
            let reused = conn.reused;
            match self
                .exchange(
                    &mut conn,
                    &request,
                    body,
                    expect,
                    verifier.as_deref_mut(),
                    scratch,
                )
                .await
            {
                Ok((reply, reusable)) => {
                    if reusable {
                        self.pool.checkin(conn);
                    }
                    if !expect.contains(&reply.head.status) {
                        return Err(OpError::Http {
                            request: name,
                            status: reply.head.status,
                            code: s3::error_code(&reply.body),
                        });
                    }
                    return Ok(reply);
                }
                Err(f) if f.stale && reused && attempt == 0 => continue,
                Err(f) => return Err(f.error),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// One request on one connection; returns the reply and whether the
    /// connection can carry another.
    async fn exchange(
        &self,
        conn: &mut Conn,
        request: &Request<'_>,
        body: Body<'_>,
        expect: &[u16],
        verifier: Option<&mut Verifier>,
        scratch: &mut [u8],
    ) -> Result<(Reply, bool), Failure> {
        let (head, mut encoder) = self.head(request, body, scratch)?;
        let sent = self
            .send(conn, &head, body, encoder.as_mut(), scratch)
            .await;
        if let Err(e) = &sent {
            // The server may have answered (and closed) before taking the
            // whole body; if it did not, the write error is the story.
            if matches!(e, HttpError::Timeout { .. }) {
                return Err(sent.unwrap_err().into());
            }
        }
        let (head, first_byte) = match conn.read_head().await {
            Ok(h) => h,
            Err(e) => {
                return Err(match sent {
                    Err(write_error) => write_error.into(),
                    Ok(()) => e.into(),
                })
            }
        };
        let mut reader = BodyReader::new(&head, request.method);
        let mut kept = Vec::new();
        let expected = expect.contains(&head.status);
        let mut cut_short = false;
        match verifier {
            Some(v) if expected => {
                conn.read_body(&mut reader, |data| {
                    self.flowed(data.len());
                    v.update(data).map_err(|c| OpError::Corrupt(c.to_string()))
                })
                .await?;
                v.finish()
                    .map_err(|c: Corrupt| OpError::Corrupt(c.to_string()))?;
            }
            _ => {
                let read = conn
                    .read_body(&mut reader, |data| {
                        if kept.len() + data.len() > SMALL_BODY_BYTES_MAX {
                            return Err(OpError::Protocol(format!(
                                "HTTP {} answer body larger than {SMALL_BODY_BYTES_MAX} bytes",
                                head.status
                            )));
                        }
                        kept.extend_from_slice(data);
                        Ok(())
                    })
                    .await;
                match read {
                    Ok(()) => {}
                    // An unexpected answer (a whole object where a range was
                    // asked for): its status is the story, not its size.
                    Err(OpError::Protocol(_)) if !expected => cut_short = true,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let reusable =
            sent.is_ok() && !cut_short && reader.reusable() && !head.close && !conn.has_leftover();
        Ok((
            Reply {
                head,
                first_byte,
                body: kept,
            },
            reusable,
        ))
    }

    /// The signed head, and the body encoder that goes with it.
    fn head(
        &self,
        request: &Request<'_>,
        body: Body<'_>,
        scratch: &mut [u8],
    ) -> Result<(Vec<u8>, Option<BodyEncoder>), OpError> {
        let mut signed: Vec<(&'static str, String)> = Vec::new();
        let (payload, length) = match body {
            Body::Empty => (
                self.empty_payload.clone(),
                matches!(request.method, "PUT" | "POST").then_some(0),
            ),
            Body::Bytes { data, content_md5 } => {
                if content_md5 {
                    let md5 = md5::Md5::digest(data);
                    signed.push((
                        "content-md5",
                        base64::engine::general_purpose::STANDARD.encode(md5),
                    ));
                }
                let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(data).into();
                (PayloadHash::from_digest(digest), Some(data.len() as u64))
            }
            Body::Content(plan) => {
                signed.extend(plan.headers());
                (plan.payload_hash(scratch), Some(plan.wire_bytes()))
            }
        };
        let signed: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let request = Request {
            signed: &signed,
            ..request.clone()
        };
        let mut cache = self.signer.borrow_mut();
        let signer = cache.at(SystemTime::now());
        let head = sign_head(
            signer,
            &self.plan.addressing.host,
            &request,
            &payload,
            length,
        )
        .map_err(|e| OpError::Protocol(format!("signing: {e}")))?;
        let encoder = match body {
            Body::Content(plan) => Some(BodyEncoder::new(
                plan,
                plan.mode
                    .signs_chunks()
                    .then(|| signer.chunk_signer(head.signature)),
            )),
            _ => None,
        };
        Ok((head.bytes, encoder))
    }

    /// Writes the head and the body; a small request leaves in one write.
    async fn send(
        &self,
        conn: &mut Conn,
        head: &[u8],
        body: Body<'_>,
        encoder: Option<&mut BodyEncoder>,
        scratch: &mut [u8],
    ) -> Result<(), HttpError> {
        let h = head.len();
        match (body, encoder) {
            (_, Some(encoder)) => {
                let mut pending = 0;
                if h + encoder.buffer_bytes_min() <= scratch.len() {
                    scratch[..h].copy_from_slice(head);
                    pending = h;
                } else {
                    conn.write_all(head).await?;
                }
                while !encoder.is_finished() {
                    let n = encoder.fill(&mut scratch[pending..]);
                    conn.write_all(&scratch[..pending + n]).await?;
                    self.flowed(n);
                    pending = 0;
                }
                if pending > 0 {
                    conn.write_all(&scratch[..pending]).await?;
                }
                Ok(())
            }
            (Body::Bytes { data, .. }, None) if h + data.len() <= scratch.len() => {
                scratch[..h].copy_from_slice(head);
                scratch[h..h + data.len()].copy_from_slice(data);
                conn.write_all(&scratch[..h + data.len()]).await
            }
            (Body::Bytes { data, .. }, None) => {
                conn.write_all(head).await?;
                conn.write_all(data).await
            }
            (_, None) => conn.write_all(head).await,
        }
    }
}
