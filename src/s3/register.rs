//! `POST /v1/access`: registers an access grant as S3 credentials, the HTTP
//! shape of Storj's auth service. It shares the S3 port: in path style `v1`
//! cannot be an S3 bucket name (too short), so no path-style S3 request can
//! mean this path; in virtual-hosted style (`--domain`) it is an object key of
//! the bucket the host names, so registration is only ever a request to the
//! endpoint's own host, without a query (see [`is_registration`]). The grant
//! in the body is the credential: the body, the grant string and the answer
//! are wiped once used. The response is the only place the new access key id
//! ever appears.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::auth::Grant;
use crate::http::conn::Exchange;
use crate::registry::RegistryError;
use crate::s3::gateway::Gateway;
use crate::s3::route::virtual_host_bucket;

/// A grant is at most 64 KiB of binary, about 87 KiB as text; JSON around it.
const BODY_BYTES_MAX: u64 = 128 << 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    access_grant: String,
    #[serde(default)]
    public: bool,
}

/// The grant string holds the project's root key: wiped when dropped.
impl Drop for RegisterRequest {
    fn drop(&mut self) {
        self.access_grant.zeroize();
    }
}

#[derive(Serialize)]
struct RegisterResponse<'a> {
    access_key_id: &'a str,
    secret_key: &'a str,
    endpoint: &'a str,
}

/// Whether a request is a registration rather than S3: `POST /v1/access`
/// without a query, to the endpoint itself. With `domain` set, a request to a
/// bucket's virtual host is S3 whatever its path (`POST
/// bucket.domain/v1/access?uploads` starts a multipart upload of the key
/// `v1/access`), and so is any request with a query, S3's sub-resources.
pub fn is_registration(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    host: Option<&str>,
    domain: Option<&str>,
) -> bool {
    let virtual_host = match (host, domain) {
        (Some(host), Some(domain)) => virtual_host_bucket(host, domain).is_some(),
        _ => false,
    };
    method == "POST" && raw_path == "/v1/access" && raw_query.is_empty() && !virtual_host
}

async fn answer(ex: &mut Exchange<'_>, status: u16, body: &str) {
    let _ = ex
        .respond(
            status,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
        .await;
}

fn error_body(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

pub async fn register(gw: &Gateway, ex: &mut Exchange<'_>) {
    if ex.declared_length().is_some_and(|n| n > BODY_BYTES_MAX) {
        return answer(ex, 413, &error_body("request body too large")).await;
    }
    // Sized once, so the grant is never left behind in a buffer a growing
    // vector freed; wiped when dropped, whichever way this returns.
    let mut body = Zeroizing::new(Vec::with_capacity(BODY_BYTES_MAX as usize));
    loop {
        match ex.body_chunk().await {
            Ok(Some(data)) => {
                if (body.len() + data.len()) as u64 > BODY_BYTES_MAX {
                    return answer(ex, 413, &error_body("request body too large")).await;
                }
                body.extend_from_slice(data);
            }
            Ok(None) => break,
            Err(e) => return answer(ex, 400, &error_body(&e.to_string())).await,
        }
    }
    let request: RegisterRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return answer(ex, 400, &error_body(&format!("malformed request: {e}"))).await,
    };
    drop(body);
    if request.public {
        return answer(
            ex,
            400,
            &error_body("public access (credentials usable without the secret) is not supported"),
        )
        .await;
    }
    let grant = match Grant::parse(&request.access_grant) {
        Ok(grant) => grant,
        Err(e) => return answer(ex, 400, &error_body(&format!("access grant: {e}"))).await,
    };
    match gw
        .registry
        .register(grant, crate::clock::unix_now_secs_signed())
        .await
    {
        Ok(registered) => {
            let scheme = if gw.config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            let host = ex
                .head
                .header_str("host")
                .unwrap_or("127.0.0.1")
                .to_string();
            let endpoint = format!("{scheme}://{host}");
            let body = serde_json::to_string(&RegisterResponse {
                access_key_id: registered.access_key.expose(),
                secret_key: &registered.secret_key,
                endpoint: &endpoint,
            })
            .expect("serialisable");
            let body = Zeroizing::new(body);
            answer(ex, 200, &body).await;
        }
        Err(e) => {
            let status = match &e {
                RegistryError::Grant(crate::auth::GrantError::Revoked) | RegistryError::Expired => {
                    403
                }
                RegistryError::Grant(_) | RegistryError::NoSuchProject => 401,
                RegistryError::ProjectName => 400,
                RegistryError::ServerKey | RegistryError::Meta(_) => 500,
            };
            answer(ex, status, &error_body(&e.to_string())).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Story: `is_registration` looked only at the method and the path.
    /// Symptom: with `--domain`, `POST photos.<domain>/v1/access?uploads`
    /// (CreateMultipartUpload of the key `v1/access`, signed and valid) was
    /// answered by the registration handler with a JSON error. Consequence: a
    /// bucket could not hold that key, and an S3 request's body would have been
    /// read as a registration. Fix: registration is only a query-less POST to
    /// the endpoint's own host.
    #[test]
    fn only_the_endpoints_own_query_less_post_registers() {
        let domain = Some("s3.test");
        // (method, path, query, host, domain, registration?)
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            bool,
        );
        let cases: &[Case] = &[
            ("POST", "/v1/access", "", Some("127.0.0.1:9000"), None, true),
            ("POST", "/v1/access", "", Some("s3.test:9000"), domain, true),
            (
                "POST",
                "/v1/access",
                "",
                Some("127.0.0.1:9000"),
                domain,
                true,
            ),
            ("POST", "/v1/access", "", None, domain, true),
            // A bucket's virtual host: the key `v1/access`.
            (
                "POST",
                "/v1/access",
                "uploads",
                Some("photos.s3.test"),
                domain,
                false,
            ),
            (
                "POST",
                "/v1/access",
                "",
                Some("photos.s3.test:9000"),
                domain,
                false,
            ),
            (
                "POST",
                "/v1/access",
                "",
                Some("PHOTOS.S3.TEST"),
                domain,
                false,
            ),
            // S3 sub-resources, other methods, other paths.
            (
                "POST",
                "/v1/access",
                "uploads",
                Some("127.0.0.1"),
                None,
                false,
            ),
            (
                "POST",
                "/v1/access",
                "delete",
                Some("s3.test"),
                domain,
                false,
            ),
            ("PUT", "/v1/access", "", Some("127.0.0.1"), None, false),
            ("GET", "/v1/access", "", Some("127.0.0.1"), None, false),
            ("POST", "/v1/access/", "", Some("127.0.0.1"), None, false),
            ("POST", "/v1/accessx", "", Some("127.0.0.1"), None, false),
        ];
        for &(method, path, query, host, domain, expected) in cases {
            assert_eq!(
                is_registration(method, path, query, host, domain),
                expected,
                "{method} {host:?}{path}?{query} domain={domain:?}"
            );
        }
    }
}
