//! The client side, for the load generator and tests: sign a request (the
//! headers to add), presign a URL (the query to send), and start the chunk
//! chain. It goes through the server's canonicalisation code, not a copy.

use super::auth::{Scope, SignedHeaders};
use super::canonical::{build_canonical_request, string_to_sign, uri_encode};
use super::chunk::ChunkSigner;
use super::constants::{ALGORITHM, PRESIGNED_EXPIRES_SECS_MAX};
use super::date::AmzDateTime;
use super::error::{Malformed, SigV4Error};
use super::key::{sign, signing_key, SigningKey};
use super::payload::PayloadHash;
use super::request::RequestParts;
use super::text::signature_hex;

/// Headers the signer writes itself: any the caller passes are replaced.
const SIGNER_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// What to add to a request to authenticate it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRequest {
    /// The `Authorization` header's value.
    pub authorization: String,
    /// `x-amz-date`, `x-amz-content-sha256` and, with a session token,
    /// `x-amz-security-token`: send them with the request, all signed.
    pub headers: Vec<(&'static str, String)>,
    /// The request's signature: the seed of an aws-chunked body's chain.
    pub signature: [u8; 32],
}

/// Signs requests made at one time, in one region, with one credential.
#[derive(Clone, Debug)]
pub struct RequestSigner {
    access_key_id: String,
    security_token: Option<String>,
    key: SigningKey,
    datetime: AmzDateTime,
    scope: Scope,
}

impl RequestSigner {
    pub fn new(
        access_key_id: &str,
        secret_access_key: &[u8],
        region: &str,
        datetime: AmzDateTime,
    ) -> Self {
        let scope = Scope::new(datetime, region);
        let key = signing_key(
            secret_access_key,
            &scope.date,
            &scope.region,
            &scope.service,
        );
        Self {
            access_key_id: access_key_id.to_owned(),
            security_token: None,
            key,
            datetime,
            scope,
        }
    }

    /// Temporary credentials: the session token is sent and signed.
    pub fn with_security_token(mut self, security_token: &str) -> Self {
        self.security_token = Some(security_token.to_owned());
        self
    }

    pub fn datetime(&self) -> AmzDateTime {
        self.datetime
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Signs `parts` for header authorization with `payload` as
    /// `x-amz-content-sha256`. Every header in `parts` is signed (pass only
    /// those to sign; add the rest, like `user-agent`, afterwards); `host`
    /// must be among them.
    pub fn sign(
        &self,
        parts: &RequestParts,
        payload: &PayloadHash,
    ) -> Result<SignedRequest, SigV4Error> {
        let mut added = vec![
            ("x-amz-date", self.datetime.to_string()),
            ("x-amz-content-sha256", payload.as_str().to_owned()),
        ];
        if let Some(token) = &self.security_token {
            added.push(("x-amz-security-token", token.clone()));
        }
        let headers = with_headers(parts.headers, &added);
        let signed_headers =
            signed_header_names(&headers).map_err(SigV4Error::MalformedAuthorization)?;
        let parts = RequestParts {
            headers: &headers,
            ..*parts
        };
        let canonical = build_canonical_request(&parts, &signed_headers, payload.as_str(), false);
        let signature = sign(
            &self.key,
            &string_to_sign(self.datetime, &self.scope, &canonical),
        );
        let authorization = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
            self.access_key_id,
            self.scope,
            signed_headers.as_str(),
            signature_hex(&signature)
        );
        Ok(SignedRequest {
            authorization,
            headers: added,
            signature,
        })
    }

    /// Presigns `parts` for `expires_secs` (1..=604800): returns the raw query
    /// to send, the request's own query first, then the `X-Amz-*` parameters
    /// in the order AWS writes them. The payload is `UNSIGNED-PAYLOAD`; every
    /// header in `parts` is signed and must be sent, `host` among them.
    pub fn presign(&self, parts: &RequestParts, expires_secs: u32) -> Result<String, SigV4Error> {
        let malformed = SigV4Error::MalformedPresignedQuery;
        if !(1..=PRESIGNED_EXPIRES_SECS_MAX).contains(&expires_secs) {
            return Err(malformed(Malformed::Expires(expires_secs.to_string())));
        }
        let headers = with_headers(parts.headers, &[]);
        let signed_headers = signed_header_names(&headers).map_err(malformed)?;
        let credential = format!("{}/{}", self.access_key_id, self.scope);
        let mut query = String::with_capacity(parts.raw_query.len() + 512);
        if !parts.raw_query.is_empty() {
            query.push_str(parts.raw_query);
            query.push('&');
        }
        query.push_str(&format!(
            "X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={expires_secs}",
            uri_encode(credential.as_bytes(), false),
            self.datetime
        ));
        if let Some(token) = &self.security_token {
            query.push_str(&format!(
                "&X-Amz-Security-Token={}",
                uri_encode(token.as_bytes(), false)
            ));
        }
        query.push_str(&format!(
            "&X-Amz-SignedHeaders={}",
            uri_encode(signed_headers.as_str().as_bytes(), false)
        ));
        let signing_parts = RequestParts {
            raw_query: &query,
            headers: &headers,
            ..*parts
        };
        let canonical = build_canonical_request(
            &signing_parts,
            &signed_headers,
            PayloadHash::Unsigned.as_str(),
            true,
        );
        let signature = sign(
            &self.key,
            &string_to_sign(self.datetime, &self.scope, &canonical),
        );
        query.push_str(&format!("&X-Amz-Signature={}", signature_hex(&signature)));
        Ok(query)
    }

    /// The chain for an aws-chunked body, seeded with `signature` (from
    /// [`SignedRequest::signature`]).
    pub fn chunk_signer(&self, seed_signature: [u8; 32]) -> ChunkSigner {
        ChunkSigner::new(self.key.clone(), self.datetime, &self.scope, seed_signature)
    }
}

/// The caller's headers without those the signer writes, then `added`.
fn with_headers<'a>(
    headers: &[(&'a str, &'a [u8])],
    added: &'a [(&'static str, String)],
) -> Vec<(&'a str, &'a [u8])> {
    headers
        .iter()
        .filter(|(name, _)| !SIGNER_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s)))
        .copied()
        .chain(added.iter().map(|(name, value)| (*name, value.as_bytes())))
        .collect()
}

/// Lowercase, sorted, distinct names; `host` required.
fn signed_header_names(headers: &[(&str, &[u8])]) -> Result<SignedHeaders, Malformed> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(Malformed::HostNotSigned);
    }
    Ok(SignedHeaders::from_names(names))
}
