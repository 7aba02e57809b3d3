//! `Gateway`: one core's S3 service state, and `Request`, a routed and
//! authenticated request as handlers see it. The gateway owns the core's view
//! of the world (the metadata facade, its piece-store handles, the pipeline
//! settings, the sealed access-record cache); `service` turns each HTTP
//! exchange into a call of a handler with both.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use crate::auth::AccessKeyId;
use crate::cluster::StoreSet;
use crate::config::PipelineConfig;
use crate::config::ServeConfig;
use crate::entropy;
use crate::meta::{Meta, ProjectId};
use crate::metrics::{CoreMetrics, Metrics};
use crate::registry::Registry;
use crate::s3::authn::{Caller, GrantCache};
use crate::s3::route::Route;

pub struct Gateway {
    pub(crate) core: usize,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) config: Arc<ServeConfig>,
    pub(crate) meta: Meta,
    pub(crate) stores: Rc<StoreSet>,
    pub(crate) pipeline: Rc<PipelineConfig>,
    pub(crate) registry: Registry,
    pub(crate) grants: GrantCache,
    /// Upload slots of this core (`Limits::uploads_per_core_max`).
    pub(crate) uploads: glommio::sync::Semaphore,
    request_seq: Cell<u64>,
    /// Per-process random prefix of request ids, so ids from two runs differ.
    request_prefix: String,
}

/// A routed, authenticated request, as handlers see it.
pub struct Request {
    pub route: Route,
    pub query: Vec<(String, String)>,
    pub caller: Caller,
}

impl Request {
    pub fn project(&self) -> ProjectId {
        self.caller.project
    }

    pub fn bucket(&self) -> &str {
        self.route.bucket.as_deref().unwrap_or("")
    }

    pub fn key(&self) -> &str {
        self.route.key.as_deref().unwrap_or("")
    }

    /// The first query parameter `name`, decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        crate::s3::route::query_value(&self.query, name)
    }

    pub fn access_key(&self) -> &AccessKeyId {
        &self.caller.access_key
    }
}

impl Gateway {
    pub fn new(
        core: usize,
        config: Arc<ServeConfig>,
        registry: Registry,
        stores: Rc<StoreSet>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut prefix = [0u8; 3];
        entropy::fill(&mut prefix);
        Self {
            core,
            metrics,
            pipeline: Rc::new(config.pipeline.clone()),
            grants: GrantCache::new(
                config.limits.grant_cache_entries_max,
                config.limits.grant_cache_ttl,
            ),
            uploads: glommio::sync::Semaphore::new(config.limits.uploads_per_core_max as u64),
            config,
            meta: registry.meta().clone(),
            registry,
            stores,
            request_seq: Cell::new(0),
            request_prefix: format!(
                "{:02X}{}",
                core & 0xff,
                crate::pipeline::checksum::hex(&prefix).to_ascii_uppercase()
            ),
        }
    }

    /// This core's counters.
    pub fn counters(&self) -> &CoreMetrics {
        self.metrics.core(self.core)
    }

    /// A new request id: this process's prefix, then a per-core sequence.
    pub fn next_request_id(&self) -> String {
        let seq = self.request_seq.get();
        self.request_seq.set(seq + 1);
        format!("{}{:010X}", self.request_prefix, seq)
    }
}
