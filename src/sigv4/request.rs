//! The request as SigV4 reads it: method, the target's path and query still
//! percent-encoded, headers as received; and the query's decoded pairs.

use percent_encoding::percent_decode;

/// The parts of an HTTP request SigV4 reads, as received: the path and query
/// still percent-encoded, header names in any case, values as bytes.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The request target's path, before any decoding (`/bucket/a%20key`).
    pub raw_path: &'a str,
    /// Everything after `?`, without the `?`; empty when there is none.
    pub raw_query: &'a str,
    pub headers: &'a [(&'a str, &'a [u8])],
}

impl<'a> RequestParts<'a> {
    /// The values of every header named `name` (ASCII case-insensitive), in order.
    pub(crate) fn header_values<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// The query's decoded (name, value) pairs in order (`+` is a space; bytes
/// that are not UTF-8 become U+FFFD). Use this, not another decoder, for
/// what the signature covers.
pub fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_pairs(raw_query)
        .map(|(name, value)| {
            (
                String::from_utf8_lossy(&decode_query_component(name)).into_owned(),
                String::from_utf8_lossy(&decode_query_component(value)).into_owned(),
            )
        })
        .collect()
}

/// Raw `name=value` pieces; empty pieces (`a=1&&b=2`, a trailing `&`) skipped.
pub(crate) fn raw_pairs(raw_query: &str) -> impl Iterator<Item = (&[u8], &[u8])> {
    raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let piece = piece.as_bytes();
            match piece.iter().position(|&b| b == b'=') {
                Some(eq) => (&piece[..eq], &piece[eq + 1..]),
                None => (piece, &piece[piece.len()..]),
            }
        })
}

pub(crate) fn decode_query_component(raw: &[u8]) -> Vec<u8> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space).collect()
}
