//! How a request body is delimited (RFC 9112 §6): no body, a Content-Length, or
//! the chunked transfer coding. The one place that decides it, so that no two
//! parts of ringgate can read a request's length differently (request smuggling).

use super::head::RequestHead;

/// The framing of a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: neither Content-Length nor Transfer-Encoding (RFC 9112 §6.3, rule 7).
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// The body is chunked: feed it to a [`super::chunked::ChunkedDecoder`].
    Chunked,
}

/// A request whose body length cannot be determined safely. The connection loop
/// answers with [`FramingError::status`] and closes the connection.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("request has both transfer-encoding and content-length")]
    LengthAndTransferEncoding,
    #[error("transfer-encoding in an http/1.0 request")]
    TransferEncodingInHttp10,
    #[error("chunked is not the final transfer coding")]
    ChunkedNotFinal,
    #[error("chunked transfer coding applied more than once")]
    ChunkedRepeated,
    #[error("transfer coding {0:?} is not implemented")]
    TransferCodingUnsupported(String),
    #[error("content-length {0:?} is not a decimal number of at most 64 bits")]
    ContentLengthInvalid(String),
    #[error("content-length values {first} and {second} differ")]
    ContentLengthConflict { first: u64, second: u64 },
}

impl FramingError {
    /// The HTTP status to answer with: 501 for a coding we do not implement
    /// (RFC 9112 §6.1), 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            Self::TransferCodingUnsupported(_) => 501,
            _ => 400,
        }
    }
}

impl BodyFraming {
    /// Decides the framing of `head`'s body, following RFC 9112 §6.3 for requests:
    ///
    /// - Transfer-Encoding with Content-Length is refused (400) rather than
    ///   resolved in favour of Transfer-Encoding, as §6.3 rule 3 allows: the
    ///   combination is the classic smuggling vector and no S3 client sends it.
    /// - Transfer-Encoding must end in `chunked`, applied once (400 otherwise,
    ///   rule 4); any coding before it is one we do not implement (501).
    ///   Transfer-Encoding in an HTTP/1.0 request is faulty framing (400, §6.1).
    /// - Content-Length may repeat (as fields or a list) only with equal values;
    ///   each must be 1*DIGIT and fit in a u64 (400 otherwise, rule 5).
    pub fn from_head(head: &RequestHead) -> Result<Self, FramingError> {
        let has_transfer_encoding = head.header("transfer-encoding").is_some();
        let has_content_length = head.header("content-length").is_some();
        if has_transfer_encoding {
            if has_content_length {
                return Err(FramingError::LengthAndTransferEncoding);
            }
            if head.version_minor() == 0 {
                return Err(FramingError::TransferEncodingInHttp10);
            }
            return transfer_codings(head);
        }
        let mut length = None;
        for element in head
            .headers_all("content-length")
            .flat_map(|v| v.split(|&b| b == b','))
        {
            let element = super::head::trim_ows(element);
            let value = parse_decimal(element).ok_or_else(|| {
                FramingError::ContentLengthInvalid(String::from_utf8_lossy(element).into_owned())
            })?;
            match length {
                Some(first) if first != value => {
                    return Err(FramingError::ContentLengthConflict {
                        first,
                        second: value,
                    })
                }
                _ => length = Some(value),
            }
        }
        Ok(length.map_or(Self::None, Self::Length))
    }
}

fn transfer_codings(head: &RequestHead) -> Result<BodyFraming, FramingError> {
    let codings: Vec<&[u8]> = head.list_elements("transfer-encoding").collect();
    let Some((last, before)) = codings.split_last() else {
        // A Transfer-Encoding field with no coding in it.
        return Err(FramingError::ChunkedNotFinal);
    };
    if !last.eq_ignore_ascii_case(b"chunked") {
        return Err(FramingError::ChunkedNotFinal);
    }
    for coding in before {
        if coding.eq_ignore_ascii_case(b"chunked") {
            return Err(FramingError::ChunkedRepeated);
        }
    }
    match before.first() {
        Some(coding) => Err(FramingError::TransferCodingUnsupported(
            String::from_utf8_lossy(coding).into_owned(),
        )),
        None => Ok(BodyFraming::Chunked),
    }
}

/// `1*DIGIT` as a u64; `None` if empty, not all digits, or too large.
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::head::{parse_request_head, HeadLimits};

    fn check(version_minor: u8, fields: &str, expected: Result<BodyFraming, FramingError>) {
        let input = format!("PUT /b/k HTTP/1.{version_minor}\r\nHost: h\r\n{fields}\r\n");
        let (head, _) = parse_request_head(input.as_bytes(), &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(BodyFraming::from_head(&head), expected, "{fields:?}");
    }

    #[test]
    fn framings() {
        use BodyFraming::*;
        use FramingError::*;
        check(1, "", Ok(None));
        check(1, "Content-Length: 0\r\n", Ok(Length(0)));
        check(
            1,
            "Content-Length: 18446744073709551615\r\n",
            Ok(Length(u64::MAX)),
        );
        check(
            1,
            "Content-Length: 5\r\ncontent-length: 5\r\n",
            Ok(Length(5)),
        );
        check(1, "Content-Length: 5, 5\r\n", Ok(Length(5)));
        check(0, "Content-Length: 7\r\n", Ok(Length(7)));
        check(1, "Transfer-Encoding: chunked\r\n", Ok(Chunked));
        check(1, "Transfer-Encoding: Chunked\r\n", Ok(Chunked));
        check(1, "Transfer-Encoding: , chunked\r\n", Ok(Chunked));

        check(
            1,
            "Content-Length: 18446744073709551616\r\n",
            Err(ContentLengthInvalid("18446744073709551616".into())),
        );
        check(
            1,
            "Content-Length: +5\r\n",
            Err(ContentLengthInvalid("+5".into())),
        );
        check(
            1,
            "Content-Length: -1\r\n",
            Err(ContentLengthInvalid("-1".into())),
        );
        check(
            1,
            "Content-Length: 0x10\r\n",
            Err(ContentLengthInvalid("0x10".into())),
        );
        check(
            1,
            "Content-Length: 1 2\r\n",
            Err(ContentLengthInvalid("1 2".into())),
        );
        check(
            1,
            "Content-Length:\r\n",
            Err(ContentLengthInvalid("".into())),
        );
        check(
            1,
            "Content-Length: 5,\r\n",
            Err(ContentLengthInvalid("".into())),
        );
        check(
            1,
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            Err(ContentLengthConflict {
                first: 5,
                second: 6,
            }),
        );
        check(
            1,
            "Content-Length: 5, 6\r\n",
            Err(ContentLengthConflict {
                first: 5,
                second: 6,
            }),
        );
        check(
            1,
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            Err(LengthAndTransferEncoding),
        );
        check(
            1,
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            Err(LengthAndTransferEncoding),
        );
        check(
            0,
            "Transfer-Encoding: chunked\r\n",
            Err(TransferEncodingInHttp10),
        );
        check(1, "Transfer-Encoding: gzip\r\n", Err(ChunkedNotFinal));
        check(
            1,
            "Transfer-Encoding: chunked, gzip\r\n",
            Err(ChunkedNotFinal),
        );
        check(1, "Transfer-Encoding:\r\n", Err(ChunkedNotFinal));
        check(
            1,
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
            Err(ChunkedNotFinal),
        );
        check(
            1,
            "Transfer-Encoding: chunked, chunked\r\n",
            Err(ChunkedRepeated),
        );
        check(
            1,
            "Transfer-Encoding: gzip, chunked\r\n",
            Err(TransferCodingUnsupported("gzip".into())),
        );
        check(
            1,
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            Err(TransferCodingUnsupported("gzip".into())),
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(
            FramingError::TransferCodingUnsupported("gzip".into()).status(),
            501
        );
        assert_eq!(FramingError::LengthAndTransferEncoding.status(), 400);
        assert_eq!(
            FramingError::ContentLengthConflict {
                first: 1,
                second: 2
            }
            .status(),
            400
        );
    }
}
