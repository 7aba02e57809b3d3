//! AWS Signature Version 4: canonical requests, signing keys, header and
//! presigned (query) authentication, chunk and trailer signatures. Pure code.
