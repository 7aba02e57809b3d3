//! The request as SigV4 reads it: method, the target's path and query still
//! percent-encoded, headers as received. Decoding them is `crate::target`'s.

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
