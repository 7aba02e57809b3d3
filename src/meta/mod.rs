//! The metadata contract (projects, buckets, objects, segments, multipart
//! uploads) and its embedded redb backend with group commit.
