//! `POST /v1/access`: registers an access grant as S3 credentials, the HTTP
//! shape of Storj's auth service. It shares the S3 port: `v1` cannot be an S3
//! bucket name (too short), so no S3 request can mean this path. The grant in
//! the body is the credential; the response is the only place the new access
//! key id ever appears.

use serde::{Deserialize, Serialize};

use crate::auth::Grant;
use crate::http::conn::Exchange;
use crate::registry::RegistryError;
use crate::s3::authn::now_unix;
use crate::s3::gateway::Gateway;

/// A grant is at most 64 KiB of binary, about 87 KiB as text; JSON around it.
const BODY_BYTES_MAX: u64 = 128 << 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    access_grant: String,
    #[serde(default)]
    public: bool,
}

#[derive(Serialize)]
struct RegisterResponse<'a> {
    access_key_id: &'a str,
    secret_key: &'a str,
    endpoint: &'a str,
}

pub fn is_registration(method: &str, raw_path: &str) -> bool {
    raw_path == "/v1/access" && method == "POST"
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
    let mut body = Vec::new();
    loop {
        match ex.body_chunk().await {
            Ok(Some(data)) => {
                body.extend_from_slice(data);
                if body.len() as u64 > BODY_BYTES_MAX {
                    return answer(ex, 413, &error_body("request body too large")).await;
                }
            }
            Ok(None) => break,
            Err(e) => return answer(ex, 400, &error_body(&e.to_string())).await,
        }
    }
    let request: RegisterRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return answer(ex, 400, &error_body(&format!("malformed request: {e}"))).await,
    };
    body.fill(0);
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
    match gw.registry.register(grant, now_unix()).await {
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
            let body = zeroize::Zeroizing::new(body);
            answer(ex, 200, &body).await;
        }
        Err(e) => {
            let status = match &e {
                RegistryError::Grant(crate::auth::GrantError::Revoked)
                | RegistryError::OutsideTimeWindow => 403,
                RegistryError::Grant(_) | RegistryError::NoSuchProject => 401,
                RegistryError::ProjectName => 400,
                RegistryError::ServerKey | RegistryError::Meta(_) => 500,
            };
            answer(ex, status, &error_body(&e.to_string())).await
        }
    }
}
