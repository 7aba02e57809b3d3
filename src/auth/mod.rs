//! Who may do what: S3 credentials and the encrypted records behind them.
//! A stolen metadata database opens nothing: records are keyed by a hash of the
//! access key id and sealed under a key derived from it, and the id itself is
//! never stored.

pub mod credentials;

pub use credentials::{AccessKeyId, AccessRecord, CredentialError};
