//! HTTP/1.1 for the S3 endpoint: request heads, body framings (length, chunked,
//! aws-chunked) and response heads as pure parsers over bytes.
//!
//! Sans-IO: nothing here reads a socket or knows the runtime. The connection
//! loop owns the buffers and drives, per request:
//!
//! 1. [`parse_request_head`] over the read buffer until it returns the head and
//!    its length; [`crate::target::Target::parse`] splits the target for routing;
//!    [`RequestHead::expects_continue`] says whether to send `100 Continue`.
//! 2. [`BodyFraming::from_head`]: no body, `Content-Length` bytes, or chunked.
//! 3. For a chunked body, [`ChunkedDecoder::step`] over the bytes after the head;
//!    its `Data` ranges are the body, in place.
//! 4. If `x-amz-content-sha256` names an aws-chunked mode
//!    ([`AwsChunkedMode::from_content_sha256`]), the body is an aws-chunked
//!    payload: feed it, in whatever pieces step 2 or 3 yields, to
//!    [`AwsChunkedDecoder::step`], and call [`AwsChunkedDecoder::finish`] at its end.
//! 5. [`write_response_head`] into a reused buffer.
//!
//! Every decoder step consumes a prefix of its input and returns (bytes
//! consumed, what they held); data comes back as ranges of the caller's buffer.
//! Step until `NeedMore` (all input consumed: read more) or `Done`.
//!
//! | module | owns | errors (HTTP status) |
//! | --- | --- | --- |
//! | `head` | request line and fields → [`RequestHead`]; [`HeadLimits`] | [`HeadError`] (414, 431, 400, 505, 417) |
//! | `framing` | [`BodyFraming`]: the one decision on a body's length | [`FramingError`] (400, 501) |
//! | `chunked` | [`ChunkedDecoder`], and the chunked grammar `aws_chunked` reuses | [`ChunkedError`] (400) |
//! | `aws_chunked` | [`AwsChunkedDecoder`]: payload, chunk signatures, trailers | [`AwsChunkedError`] (400) |
//! | `response` | [`write_response_head`], the reason-phrase table | [`ResponseError`] (500) |
//! | `fuzz` | `fuzz_*` entry points; split-feeding drivers shared with tests | |
//!
//! *Invariants:* no I/O, no runtime import; every parser returns `Err` for bad
//! input and never panics; every step consumes a byte or moves its state on, so
//! no input makes a loop over it spin; every limit is a named field of a
//! `*Limits` struct with a default; each error knows its HTTP status, while S3
//! error codes are the `s3` module's business.
//!
//! A PUT whose aws-chunked payload (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`, as the
//! SDKs for JavaScript and Python send it) arrives in HTTP chunks:
//!
//! ```
//! use ringgate::http::*;
//! use ringgate::target::Target;
//! let payload = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
//! let mut request = b"PUT /bucket/key HTTP/1.1\r\nHost: s3.local\r\n\
//!     Transfer-Encoding: chunked\r\nContent-Encoding: aws-chunked\r\n\
//!     x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\n\r\n".to_vec();
//! for part in [&payload[..13], &payload[13..]] {
//!     request.extend(format!("{:x}\r\n", part.len()).bytes());
//!     request.extend(part.iter().chain(b"\r\n"));
//! }
//! request.extend(b"0\r\n\r\n");
//!
//! let (head, mut at) = parse_request_head(&request, &HeadLimits::default())?.expect("complete");
//! assert_eq!(Target::parse(head.target())?.path()?, "/bucket/key");
//! assert_eq!(BodyFraming::from_head(&head)?, BodyFraming::Chunked);
//! let mode = head.header("x-amz-content-sha256").and_then(AwsChunkedMode::from_content_sha256);
//! let mut chunked = ChunkedDecoder::new(ChunkedLimits::default());
//! let mut aws = AwsChunkedDecoder::new(mode.expect("aws-chunked"), AwsChunkedLimits::default());
//! let (mut object, mut trailers) = (Vec::new(), Vec::new());
//! loop {
//!     let input = &request[at..];
//!     let (consumed, step) = chunked.step(input)?;
//!     at += consumed;
//!     match step {
//!         ChunkedStep::Data(range) => {
//!             let mut body = &input[range];
//!             loop {
//!                 let (used, event) = aws.step(body)?;
//!                 match &event {
//!                     AwsChunkedStep::Data(range) => object.extend_from_slice(&body[range.clone()]),
//!                     AwsChunkedStep::Trailer { name, value } => trailers.push((name.clone(), value.clone())),
//!                     _ => {}
//!                 }
//!                 body = &body[used..];
//!                 if matches!(event, AwsChunkedStep::NeedMore | AwsChunkedStep::Done) {
//!                     break;
//!                 }
//!             }
//!         }
//!         ChunkedStep::NeedMore => unreachable!("the connection loop reads more here"),
//!         ChunkedStep::Done => break,
//!     }
//! }
//! aws.finish()?;
//! assert_eq!((object.as_slice(), aws.decoded_bytes()), (&b"hello"[..], 5));
//! assert_eq!(trailers, [("x-amz-checksum-crc32".to_string(), "NhCmhg==".to_string())]);
//! assert_eq!(at, request.len());
//!
//! let mut out = Vec::new();
//! write_response_head(&mut out, 200, [("etag", "\"5d41402abc4b2a76b9719d911017c592\""), ("content-length", "0")])?;
//! assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aws_chunked;
pub mod chunked;
pub mod conn;
pub mod framing;
pub mod fuzz;
pub mod head;
pub mod response;
pub mod transport;

pub use aws_chunked::{
    AwsChunkedDecoder, AwsChunkedError, AwsChunkedLimits, AwsChunkedMode, AwsChunkedStep,
};
pub use chunked::{ChunkedDecoder, ChunkedError, ChunkedLimits, ChunkedStep, TruncatedAt};
pub use framing::{BodyFraming, FramingError};
pub use head::{parse_request_head, HeadError, HeadLimits, MalformedHead, Method, RequestHead};
pub use response::{reason_phrase, write_response_head, ResponseError};

/// What can go wrong with a request before a handler sees it, with its status.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Head(#[from] HeadError),
    #[error(transparent)]
    Framing(#[from] FramingError),
    #[error(transparent)]
    Chunked(#[from] ChunkedError),
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Head(e) => e.status(),
            Self::Framing(e) => e.status(),
            Self::Chunked(e) => e.status(),
        }
    }
}
