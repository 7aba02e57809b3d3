//! The S3 server against real clients on loopback: the AWS SDK for Rust for
//! every operation, raw sockets for bad input, and the process itself for
//! crashes. One test binary, so the SDK is built and linked once.

mod access_log;
mod api;
mod attributes;
mod bad_input;
mod bucket_config;
mod cluster;
mod durability;
mod grants;
mod harness;
mod object_lock;
mod real_clients;
mod slow_clients;
mod stolen;
mod tagging;
mod tls;
mod versioning;
