//! Who may do what: S3 credentials and the encrypted records behind them, and
//! access grants.
//! A stolen metadata database opens nothing: records are keyed by a hash of the
//! access key id and sealed under a key derived from it and from a secret
//! the server keeps outside the database, and the id itself is never stored.
//!
//! An access grant (`grant`) is one printable string holding a project id, a
//! macaroon API key (`macaroon`) and the project's root key; anyone holding it
//! can restrict it offline with a caveat (`caveat`), and the server verifies
//! the chain and asks the effective `permissions` about each request. All of
//! it is pure code over bytes: no clock (callers pass `now`), no random
//! source (callers pass an `Entropy` for keys, heads and nonces) and no I/O
//! (the server key's file is `runtime::server_key`'s).

pub mod caveat;
pub mod credentials;
pub mod error;
pub mod grant;
pub mod macaroon;
pub mod permissions;
pub mod server_key;
pub mod time;

pub use caveat::{Action, ActionSet, Caveat, PathRule, Privileges};
pub use credentials::{AccessKeyId, AccessRecord, CredentialError, RecordSecret};
pub use error::GrantError;
pub use grant::{Grant, GRANT_PREFIX};
pub use macaroon::{ApiKey, HeadId, ProjectSecret};
pub use permissions::{Denied, ListScope, Permissions};
pub use server_key::ServerKey;
pub use time::{format_time, parse_time};
