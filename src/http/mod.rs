//! HTTP/1.1 for the S3 endpoint: request heads, body framings (length, chunked,
//! aws-chunked) and response heads as pure parsers over bytes.
