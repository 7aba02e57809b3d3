//! The admin listener, off the S3 port: `/metrics` (Prometheus text) and
//! `/health`. It runs on core 0 and reads every core's metrics slot.

use std::sync::Arc;

use crate::http::conn::{Exchange, RequestHandler};
use crate::http::HttpError;
use crate::meta::CommitStats;
use crate::metrics::Metrics;

pub struct AdminHandler {
    pub metrics: Arc<Metrics>,
    pub commits: Arc<CommitStats>,
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
            _ => {
                ex.respond(404, &[("content-type", "text/plain")], b"not found\n")
                    .await
            }
        };
    }

    fn reject(&self, error: &HttpError, _request_id: &str) -> (u16, &'static str, Vec<u8>) {
        (
            error.status(),
            "text/plain",
            format!("{error}\n").into_bytes(),
        )
    }

    fn request_id(&self) -> String {
        String::from("admin")
    }
}
