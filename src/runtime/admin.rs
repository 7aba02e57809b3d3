//! The admin listener, off the S3 port, on core 0: `/metrics` (Prometheus
//! text) and `/health` for monitoring, and the admin API the `ringgate
//! project` and `ringgate grant revoke` commands use, behind a bearer token
//! (from the config or `<data>/admin-token`, mode 0600):
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /v1/projects {"name"}` | `{"project_id","name","access_grant"}`: the project's first grant |
//! | `GET /v1/projects` | `[{"project_id","name","created"}]` |
//! | `DELETE /v1/projects/<id>` | 204; 409 while it owns buckets |
//! | `POST /v1/revoke {"head"}` | `{"revoked"}`: the API-key head id (hex) is revoked |
//! | `GET /v1/stores` | `[{"id","location","domain","configured","alive",…}]`: the piece stores and their health |
//! | `GET /v1/repair` | the audit and repair worker's status (`repair::RepairStatus`) |
//! | `POST /v1/repair[?full=1]` | 202 `{"pass"}`: an audit pass starts now (`full`: every share); done when `passes_completed` reaches `pass` |
//!
//! Revocations and deleted projects are sent to every core's grant cache at
//! once, as explicit cross-core messages.

use std::rc::Rc;
use std::sync::Arc;

use futures_channel::mpsc::UnboundedSender;
use serde::Deserialize;

use crate::auth::HeadId;
use crate::clock::unix_now_ms;
use crate::cluster::StoreSet;
use crate::http::conn::{Exchange, RequestHandler};
use crate::http::HttpError;
use crate::meta::{CommitStats, MetaError, ProjectId};
use crate::metrics::Metrics;
use crate::registry::{Registry, RegistryError};
use crate::repair::RepairControl;
use crate::s3::authn::Invalidation;

const BODY_BYTES_MAX: usize = 64 << 10;

pub struct AdminHandler {
    pub metrics: Arc<Metrics>,
    pub commits: Arc<CommitStats>,
    pub registry: Registry,
    pub token: zeroize::Zeroizing<String>,
    /// One sender per core's grant cache.
    pub invalidations: Vec<UnboundedSender<Invalidation>>,
    pub repair: Rc<RepairControl>,
    pub stores: Rc<StoreSet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Revoke {
    head: String,
}

fn json_error(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

impl AdminHandler {
    fn authorized(&self, ex: &Exchange<'_>) -> bool {
        let Some(given) = ex
            .head
            .header_str("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let (a, b) = (given.trim().as_bytes(), self.token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn broadcast(&self, what: Invalidation) {
        for core in &self.invalidations {
            let _ = core.unbounded_send(what.clone());
        }
    }

    fn stores_json(&self) -> serde_json::Value {
        let now = unix_now_ms();
        let stores = self.stores.table().iter().map(|info| {
            serde_json::json!({
                "id": info.id,
                "location": info.last_location,
                "kind": if info.is_node() { "node" } else { "local" },
                "domain": info.domain,
                "configured": info.location.is_some(),
                "alive": info.health.is_alive() && info.location.is_some(),
                "down_for_secs": info.health.down_for(now).map(|d| d.as_secs()),
                "free_bytes": info.health.free_bytes(),
                "capacity_bytes": info.health.capacity_bytes(),
            })
        });
        serde_json::Value::Array(stores.collect())
    }

    async fn body(ex: &mut Exchange<'_>) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        while let Some(data) = ex.body_chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(data);
            if body.len() > BODY_BYTES_MAX {
                return Err("request body too large".into());
            }
        }
        Ok(body)
    }

    /// The JSON request body as `T`; a 400 answer if it is too large or not `T`.
    async fn json_body<T: serde::de::DeserializeOwned>(ex: &mut Exchange<'_>) -> Result<T, Answer> {
        let body = Self::body(ex).await.map_err(|e| (400, json_error(&e)))?;
        serde_json::from_slice(&body).map_err(|e| (400, json_error(&e.to_string())))
    }

    /// Checks the token, then dispatches to one handler per endpoint.
    async fn api(&self, ex: &mut Exchange<'_>, method: &str, path: &str) -> (u16, String) {
        if !self.authorized(ex) {
            return (401, json_error("missing or wrong admin token"));
        }
        let answer = match (method, path) {
            ("POST", "/v1/projects") => self.create_project(ex).await,
            ("GET", "/v1/projects") => self.list_projects().await,
            ("DELETE", path) if path.starts_with("/v1/projects/") => {
                self.delete_project(&path["/v1/projects/".len()..]).await
            }
            ("POST", "/v1/revoke") => self.revoke(ex).await,
            ("GET", "/v1/stores") => Ok((200, self.stores_json().to_string())),
            ("GET", "/v1/repair") => match serde_json::to_string(&self.repair.status()) {
                Ok(text) => Ok((200, text)),
                Err(e) => Ok((500, json_error(&e.to_string()))),
            },
            ("POST", "/v1/repair") => {
                let full = ex.head.target().contains("full=1");
                let pass = self.repair.request_pass(full);
                let body = serde_json::json!({ "requested": true, "pass": pass, "full": full });
                Ok((202, body.to_string()))
            }
            _ => Ok((404, json_error("no such admin endpoint"))),
        };
        answer.unwrap_or_else(|error| error)
    }

    /// `POST /v1/projects`: a new project and its first access grant.
    async fn create_project(&self, ex: &mut Exchange<'_>) -> Result<Answer, Answer> {
        let request: CreateProject = Self::json_body(ex).await?;
        let project = self
            .registry
            .create_project(&request.name)
            .await
            .map_err(registry_error)?;
        let body = serde_json::json!({
            "project_id": project.record.id.to_hex(),
            "name": project.record.name,
            "access_grant": &*project.grant.encode(),
        });
        Ok((200, body.to_string()))
    }

    /// `GET /v1/projects`: every project with its id, name and creation time.
    async fn list_projects(&self) -> Result<Answer, Answer> {
        let projects = self.registry.projects().await.map_err(registry_error)?;
        let list = projects
            .into_iter()
            .map(|p| {
                serde_json::json!({
                    "project_id": p.id.to_hex(),
                    "name": p.name,
                    "created": crate::auth::format_time((p.created_ms / 1000) as i64),
                })
            })
            .collect();
        Ok((200, serde_json::Value::Array(list).to_string()))
    }

    /// `DELETE /v1/projects/<id>`: an empty project goes, on every core at once.
    async fn delete_project(&self, id: &str) -> Result<Answer, Answer> {
        let Some(id) = ProjectId::from_hex(id) else {
            return Err((400, json_error("a project id is 32 hex digits")));
        };
        self.registry
            .delete_project(id)
            .await
            .map_err(registry_error)?;
        self.broadcast(Invalidation::ProjectDeleted(id));
        Ok((204, String::new()))
    }

    /// `POST /v1/revoke`: revokes an API-key head on every core at once.
    async fn revoke(&self, ex: &mut Exchange<'_>) -> Result<Answer, Answer> {
        let request: Revoke = Self::json_body(ex).await?;
        let Ok(head) = request.head.trim().parse::<HeadId>() else {
            return Err((400, json_error("an API-key head id is 32 hex digits")));
        };
        let newly = self.registry.revoke(head).await.map_err(registry_error)?;
        self.broadcast(Invalidation::Revoked(head));
        let body = serde_json::json!({ "revoked": true, "newly": newly });
        Ok((200, body.to_string()))
    }
}

/// An admin API answer: its status and JSON body.
type Answer = (u16, String);

/// A registry failure as the admin API answers it: its status and JSON error.
fn registry_error(e: RegistryError) -> Answer {
    let status = match &e {
        RegistryError::ProjectName => 400,
        RegistryError::Meta(MetaError::NoSuchProject) => 404,
        RegistryError::Meta(MetaError::ProjectNotEmpty) => 409,
        _ => 500,
    };
    (status, json_error(&e.to_string()))
}

impl RequestHandler for AdminHandler {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        let path = ex.head.target().split('?').next().unwrap_or("").to_string();
        let method = ex.head.method().as_str().to_string();
        let _ = match (method.as_str(), path.as_str()) {
            ("GET", "/metrics") => {
                let text = self.metrics.render(&self.commits.snapshot());
                ex.respond(
                    200,
                    &[("content-type", "text/plain; version=0.0.4")],
                    text.as_bytes(),
                )
                .await
            }
            ("GET", "/health") => {
                ex.respond(200, &[("content-type", "text/plain")], b"ok\n")
                    .await
            }
            (method, path) => {
                let (status, body) = self.api(ex, method, path).await;
                let body = zeroize::Zeroizing::new(body);
                ex.respond(
                    status,
                    &[("content-type", "application/json")],
                    body.as_bytes(),
                )
                .await
            }
        };
    }

    fn reject(&self, error: &HttpError, _request_id: &str) -> (u16, &'static str, Vec<u8>) {
        (
            error.status(),
            "application/json",
            json_error(&error.to_string()).into_bytes(),
        )
    }

    fn request_id(&self) -> String {
        String::from("admin")
    }
}
