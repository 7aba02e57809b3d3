//! The process: one glommio executor per core, each pinned, each with its own
//! SO_REUSEPORT listener, io_uring and piece-store handles, serving every
//! connection it accepts from first byte to last; the metadata commit thread;
//! start-up (default project and credentials, the sweep of orphaned pieces) and
//! graceful shutdown on SIGINT/SIGTERM.

pub mod admin;
pub mod bootstrap;
pub mod error;
pub mod gc;
pub mod server_key;

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use futures_lite::future;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use crate::cluster::{StoreSet, StoreTable};
use crate::config::ServeConfig;
use crate::http::conn::{serve_connection, ConnSettings};
use crate::http::head::HeadLimits;
use crate::http::transport::Transport;
use crate::meta::Meta;
use crate::metrics::{CoreMetrics, Metrics};
use crate::pieces::wire::{key_file, ClusterKey};
use crate::pieces::RemoteConfig;
use crate::registry::Registry;
use crate::repair::RepairWorker;
use crate::s3::authn::Invalidation;
use crate::s3::gateway::Gateway;
use crate::shutdown::ShutdownSignal;
pub use error::ServeError;

/// Runs the gateway until SIGINT or SIGTERM.
pub fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let process = start_up(&config)?;
    let config = Arc::new(config);
    let shared = CoreShared {
        metrics: Arc::new(Metrics::new(config.cores)),
        config: config.clone(),
        registry: process.registry,
        tls: process.tls,
    };
    let scheme = if shared.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let cores = start_cores(
        &shared,
        process.stores,
        process.cluster_key,
        process.admin_token,
    )?;
    let listen = cores.listen;
    let erasure = config.pipeline.layout.erasure();
    let erasure = format!("{}/{}/{}", erasure.required, erasure.optimal, erasure.total);
    tracing::info!(
        listen = %format_args!("{scheme}://{listen}"),
        cores = config.cores,
        erasure = %erasure,
        local_stores = config.stores.len(),
        nodes = config.nodes.len(),
        "serving S3"
    );
    // For people and scripts (tests read the address from it), whatever the
    // log filter: stdout.
    println!(
        "ringgate: listening on {scheme}://{listen} ({} cores, erasure {erasure}, {} local piece stores, {} nodes)",
        config.cores,
        config.stores.len(),
        config.nodes.len()
    );
    bootstrap::print_welcome(&process.welcome, &config, &format!("{scheme}://{listen}"));

    wait_for_signal(cores.stop)?;
    for executor in cores.executors {
        let _ = executor.join();
    }
    process.committer.shutdown();
    tracing::info!("stopped");
    Ok(())
}

/// What start-up opened before the cores start.
struct Process {
    tls: Option<Arc<rustls::ServerConfig>>,
    registry: Registry,
    committer: crate::meta::Committer,
    welcome: bootstrap::Welcome,
    stores: Arc<StoreTable>,
    cluster_key: Option<Arc<ClusterKey>>,
    admin_token: zeroize::Zeroizing<String>,
}

/// Opens the data folder, the TLS files, the server key and the metadata;
/// ensures the default project; registers the stores and sweeps the pieces an
/// earlier crash orphaned.
fn start_up(config: &ServeConfig) -> Result<Process, ServeError> {
    std::fs::create_dir_all(&config.data).map_err(|source| ServeError::Data {
        path: config.data.display().to_string(),
        source,
    })?;
    let tls = match &config.tls {
        Some(files) => Some(
            crate::http::transport::tls_config(&files.cert, &files.key).map_err(ServeError::Tls)?,
        ),
        None => None,
    };
    let server_key =
        server_key::load_or_create(&config.server_key).map_err(|source| ServeError::Data {
            path: config.server_key.display().to_string(),
            source,
        })?;
    let (registry, committer) = Registry::open(&config.data.join("meta.redb"), server_key)?;
    let meta = registry.meta().clone();
    let wrapped = registry.wrap_legacy_records_blocking()?;
    if wrapped > 0 {
        tracing::info!(
            wrapped,
            "sealed access records of version 2 under the record secret"
        );
    }
    let welcome = bootstrap::ensure_default_project(&registry, config)?;
    let cluster_key = cluster_key(config)?;
    let stores = Arc::new(crate::cluster::identity::register(
        &meta,
        &config.stores,
        &config.nodes,
    )?);
    let swept = gc::sweep_orphans(&meta, stores.clone(), cluster_key.clone())?;
    if swept > 0 {
        tracing::info!(swept, "removed orphaned pieces left by an earlier crash");
    }
    Ok(Process {
        admin_token: admin_token(config)?,
        tls,
        registry,
        committer,
        welcome,
        stores,
        cluster_key,
    })
}

/// What every core shares, each holding its own clone.
#[derive(Clone)]
struct CoreShared {
    config: Arc<ServeConfig>,
    registry: Registry,
    metrics: Arc<Metrics>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// The cores once started: the address they listen on (with port 0, the one
/// core 0 got), their stop signals and their threads.
struct StartedCores {
    listen: SocketAddr,
    stop: Vec<futures_channel::oneshot::Sender<()>>,
    executors: Vec<glommio::ExecutorJoinHandle<()>>,
}

/// Starts one executor per core, one after the other: each reports its
/// address, or why it could not start, before the next one starts.
fn start_cores(
    shared: &CoreShared,
    stores: Arc<StoreTable>,
    cluster_key: Option<Arc<ClusterKey>>,
    admin_token: zeroize::Zeroizing<String>,
) -> Result<StartedCores, ServeError> {
    let cores = shared.config.cores;
    // One channel per core's grant cache: revocations reach every core at once.
    let (invalidation_senders, mut invalidation_receivers): (Vec<_>, Vec<_>) = (0..cores)
        .map(|_| futures_channel::mpsc::unbounded::<Invalidation>())
        .unzip();
    let mut admin_parts = Some((admin_token, invalidation_senders));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<Result<SocketAddr, ServeError>>();
    let mut started = StartedCores {
        listen: shared.config.listen,
        stop: Vec::with_capacity(cores),
        executors: Vec::with_capacity(cores),
    };
    for core in 0..cores {
        let (stop_tx, stop_rx) = futures_channel::oneshot::channel::<()>();
        started.stop.push(stop_tx);
        let channels = CoreChannels {
            stop: stop_rx,
            started: addr_tx.clone(),
            invalidations: invalidation_receivers.remove(0),
            admin: if core == 0 { admin_parts.take() } else { None },
            stores: stores.clone(),
            cluster_key: cluster_key.clone(),
        };
        let placement = if cores <= cpus {
            Placement::Fixed(core)
        } else {
            Placement::Unbound
        };
        let (shared, listen) = (shared.clone(), started.listen);
        let executor = LocalExecutorBuilder::new(placement)
            .name(&format!("ringgate-core{core}"))
            .spawn(move || async move { run_core(core, listen, shared, channels).await })
            .map_err(|e| ServeError::Core {
                core,
                reason: e.to_string(),
            })?;
        started.executors.push(executor);
        // Core 0 binds first: with port 0 the others need the port it got.
        match addr_rx.recv() {
            Ok(Ok(addr)) => started.listen = addr,
            Ok(Err(e)) => {
                stop_all(started.stop);
                return Err(e);
            }
            Err(_) => {
                return Err(ServeError::Core {
                    core,
                    reason: "stopped while starting".into(),
                })
            }
        }
    }
    Ok(started)
}

fn stop_all(senders: Vec<futures_channel::oneshot::Sender<()>>) {
    for sender in senders {
        let _ = sender.send(());
    }
}

/// Blocks until SIGINT or SIGTERM, then tells every core to stop. A second
/// signal exits at once.
fn wait_for_signal(senders: Vec<futures_channel::oneshot::Sender<()>>) -> Result<(), ServeError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(ServeError::Signals)?;
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "finishing requests in flight");
    }
    stop_all(senders);
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            tracing::warn!("second signal: exiting now");
            std::process::exit(130);
        }
    });
    Ok(())
}

/// What a core receives from the process: its stop signal, the channel to say
/// it started, its grant-cache invalidations and (core 0) the admin API's parts.
struct CoreChannels {
    stop: futures_channel::oneshot::Receiver<()>,
    started: std::sync::mpsc::Sender<Result<SocketAddr, ServeError>>,
    invalidations: futures_channel::mpsc::UnboundedReceiver<Invalidation>,
    admin: Option<AdminParts>,
    /// The stores every core shares, and the key to sign node orders.
    stores: Arc<StoreTable>,
    cluster_key: Option<Arc<ClusterKey>>,
}

/// Core 0's share of the admin API: its token and every core's invalidations.
type AdminParts = (
    zeroize::Zeroizing<String>,
    Vec<futures_channel::mpsc::UnboundedSender<Invalidation>>,
);

/// One core from start to stop: opens its stores and listener, reports that it
/// started, serves connections until shutdown, then drains them.
async fn run_core(core: usize, listen: SocketAddr, shared: CoreShared, channels: CoreChannels) {
    let CoreChannels {
        stop,
        started,
        invalidations,
        admin,
        stores,
        cluster_key,
    } = channels;
    let Some((stores, listener)) = open_core(listen, stores, cluster_key, &started).await else {
        return;
    };
    let addr = listener.local_addr().unwrap_or(listen);
    let shutdown = ShutdownSignal::new();
    let gateway = Rc::new(Gateway::new(
        core,
        shared.config.clone(),
        shared.registry.clone(),
        stores.clone(),
        shared.metrics.clone(),
    ));
    let settings = conn_settings(&shared.config);
    spawn_stop_watch(stop, &shutdown);
    spawn_invalidations(invalidations, &gateway);
    if let Some(admin) = admin {
        if let Err(e) = start_admin(&shared, &stores, admin, &settings, &shutdown) {
            let _ = started.send(Err(e));
            return;
        }
    }
    let _ = started.send(Ok(addr));
    let acceptor = Acceptor {
        core,
        config: shared.config,
        metrics: shared.metrics,
        tls: shared.tls,
        gateway,
        settings,
        shutdown,
        gate: glommio::sync::Gate::new(),
        connections: Rc::new(std::cell::Cell::new(0usize)),
    };
    acceptor.run(listener).await;
}

/// Opens this core's handles on the stores and binds its listener; a failure
/// is reported on `started` and gives `None`.
async fn open_core(
    listen: SocketAddr,
    stores: Arc<StoreTable>,
    cluster_key: Option<Arc<ClusterKey>>,
    started: &std::sync::mpsc::Sender<Result<SocketAddr, ServeError>>,
) -> Option<(Rc<StoreSet>, TcpListener)> {
    let stores = match StoreSet::open(stores, cluster_key, &RemoteConfig::default()).await {
        Ok(stores) => Rc::new(stores),
        Err(e) => {
            let _ = started.send(Err(ServeError::Store(e.to_string())));
            return None;
        }
    };
    match TcpListener::bind(listen) {
        Ok(listener) => Some((stores, listener)),
        Err(e) => {
            let _ = started.send(Err(ServeError::Listen {
                addr: listen,
                source: std::io::Error::other(e.to_string()),
            }));
            None
        }
    }
}

fn conn_settings(config: &ServeConfig) -> Rc<ConnSettings> {
    Rc::new(ConnSettings {
        head: HeadLimits {
            request_line_bytes_max: config.limits.request_line_bytes_max,
            head_bytes_max: config.limits.head_bytes_max,
            headers_count_max: config.limits.headers_count_max,
        },
        idle_timeout: config.limits.idle_timeout,
        stall_timeout: config.limits.stall_timeout,
    })
}

/// Triggers the core's shutdown when the process says stop.
fn spawn_stop_watch(stop: futures_channel::oneshot::Receiver<()>, shutdown: &Rc<ShutdownSignal>) {
    let shutdown = shutdown.clone();
    glommio::spawn_local(async move {
        let _ = stop.await;
        shutdown.trigger();
    })
    .detach();
}

/// Applies the grant-cache invalidations other cores send to this core's cache.
fn spawn_invalidations(
    mut invalidations: futures_channel::mpsc::UnboundedReceiver<Invalidation>,
    gateway: &Rc<Gateway>,
) {
    let gateway = gateway.clone();
    glommio::spawn_local(async move {
        use futures_lite::StreamExt;
        while let Some(what) = invalidations.next().await {
            gateway.grants.invalidate(&what);
        }
    })
    .detach();
}

/// Core 0's extra duties: the background workers, the admin listener and the
/// garbage collector.
fn start_admin(
    shared: &CoreShared,
    stores: &Rc<StoreSet>,
    (token, senders): AdminParts,
    settings: &Rc<ConnSettings>,
    shutdown: &Rc<ShutdownSignal>,
) -> Result<(), ServeError> {
    let CoreShared {
        config,
        registry,
        metrics,
        ..
    } = shared;
    let meta = registry.meta().clone();
    let repair = spawn_background(config, &meta, stores, shutdown);
    let handler = admin::AdminHandler {
        metrics: metrics.clone(),
        commits: meta.commit_handle().stats().clone(),
        registry: registry.clone(),
        token,
        invalidations: senders,
        repair,
        stores: stores.clone(),
    };
    let admin = admin_listener(config, handler, settings, shutdown)?;
    println!("ringgate: admin (metrics) on http://{admin}");
    tracing::info!(admin = %admin, "admin listener (metrics, health, admin API)");
    gc::spawn_collector(
        meta,
        stores.clone(),
        config.gc_delay,
        shutdown.clone(),
        metrics.clone(),
    );
    Ok(())
}

/// A core's S3 listener loop and what each connection it admits needs.
struct Acceptor {
    core: usize,
    config: Arc<ServeConfig>,
    metrics: Arc<Metrics>,
    tls: Option<Arc<rustls::ServerConfig>>,
    gateway: Rc<Gateway>,
    settings: Rc<ConnSettings>,
    shutdown: Rc<ShutdownSignal>,
    /// Every connection task, so shutdown can wait for them.
    gate: glommio::sync::Gate,
    connections: Rc<std::cell::Cell<usize>>,
}

impl Acceptor {
    /// Accepts until shutdown, then gives open connections the grace period.
    async fn run(self, listener: TcpListener) {
        loop {
            let accepted = future::or(async { Some(listener.accept().await) }, async {
                self.shutdown.wait().await;
                None
            })
            .await;
            let Some(accepted) = accepted else { break };
            match accepted {
                Ok(stream) => self.admit(stream),
                Err(e) => {
                    // Out of descriptors or memory: back off instead of spinning.
                    tracing::warn!(core = self.core, "accept: {e}");
                    glommio::timer::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
        drop(listener);
        self.drain().await;
    }

    /// Refuses a connection over the per-core limit, else serves it in its own task.
    fn admit(&self, stream: glommio::net::TcpStream) {
        let core = self.core;
        let counters = self.metrics.core(core);
        if self.connections.get() >= self.config.limits.connections_per_core_max {
            CoreMetrics::add(&counters.connections_refused, 1);
            drop(stream);
            return;
        }
        CoreMetrics::add(&counters.connections_accepted, 1);
        let transport = match Transport::new(stream, self.tls.as_ref()) {
            Ok(transport) => transport,
            Err(_) => return,
        };
        self.connections.set(self.connections.get() + 1);
        counters
            .connections_open
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (gateway, settings, shutdown, connections, metrics) = (
            self.gateway.clone(),
            self.settings.clone(),
            self.shutdown.clone(),
            self.connections.clone(),
            self.metrics.clone(),
        );
        let spawned = self.gate.spawn(async move {
            serve_connection(gateway, transport, settings, shutdown).await;
            connections.set(connections.get() - 1);
            metrics
                .core(core)
                .connections_open
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        });
        if let Ok(task) = spawned {
            task.detach();
        }
    }

    /// Waits up to the shutdown grace for the open connections to finish.
    async fn drain(self) {
        let grace = self.config.limits.shutdown_grace;
        let drained = glommio::timer::timeout(grace, async {
            let _ = self.gate.close().await;
            Ok(())
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                core = self.core,
                connections = self.connections.get(),
                "connections still open after {grace:?}, closing them"
            );
        }
    }
}

/// Starts core 0's background work: store health checks (cheap, beside the
/// requests) and the audit and repair worker (in a task queue with few shares,
/// so requests come first); the garbage collector starts with the admin listener.
fn spawn_background(
    config: &Arc<ServeConfig>,
    meta: &Meta,
    stores: &Rc<StoreSet>,
    shutdown: &Rc<ShutdownSignal>,
) -> Rc<crate::repair::RepairControl> {
    let queue = glommio::executor().create_task_queue(
        glommio::Shares::Static(50),
        glommio::Latency::NotImportant,
        "background",
    );
    let (health_stores, health_stop) = (stores.clone(), shutdown.clone());
    let interval = config.health_interval;
    // Health checks run beside requests, not below them: a check starved of
    // CPU by a busy core would time out and call live nodes dead.
    let health = glommio::spawn_local(async move {
        // A busy node answers late, not never: give it the interval.
        let timeout = interval.clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(10),
        );
        while !health_stop.is_triggered() {
            crate::cluster::health::check_all(&health_stores, timeout).await;
            future::or(glommio::timer::sleep(interval), health_stop.wait()).await;
        }
    });
    health.detach();
    let (worker, control) = RepairWorker::new(
        meta.clone(),
        stores.clone(),
        config.repair.clone(),
        config.pipeline.layout.erasure(),
        config.pipeline.hedge,
    );
    let stop = shutdown.clone();
    let repair = glommio::spawn_local_into(
        async move { worker.run(async move { stop.wait().await }).await },
        queue,
    );
    if let Ok(task) = repair {
        task.detach();
    }
    control
}

/// The key that signs piece orders for the nodes: `--cluster-key`, else
/// `<data>/cluster.key`, created on first start with nodes. `None` without
/// nodes.
fn cluster_key(config: &ServeConfig) -> Result<Option<Arc<ClusterKey>>, ServeError> {
    if config.nodes.is_empty() {
        return Ok(None);
    }
    let path = &config.cluster_key;
    let key = if path.exists() {
        key_file::load(path)
    } else {
        let created = key_file::create(path);
        if created.is_ok() {
            tracing::warn!(
                path = %path.display(),
                "created a cluster key: give each node its own key with `ringgate node-key NAME`"
            );
        }
        created
    };
    key.map(|k| Some(Arc::new(k)))
        .map_err(|e| ServeError::ClusterKey {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// Binds the admin listener on this core (0) and serves it in the background;
/// returns its address, also written to `<data>/admin.addr`.
fn admin_listener(
    config: &ServeConfig,
    handler: admin::AdminHandler,
    settings: &Rc<ConnSettings>,
    shutdown: &Rc<ShutdownSignal>,
) -> Result<SocketAddr, ServeError> {
    let listener = TcpListener::bind(config.admin_listen).map_err(|e| ServeError::Listen {
        addr: config.admin_listen,
        source: std::io::Error::other(e.to_string()),
    })?;
    let addr = listener.local_addr().unwrap_or(config.admin_listen);
    let path = config.data.join("admin.addr");
    std::fs::write(&path, format!("{addr}\n")).map_err(|source| ServeError::Data {
        path: path.display().to_string(),
        source,
    })?;
    let handler = Rc::new(handler);
    let (settings, shutdown) = (settings.clone(), shutdown.clone());
    glommio::spawn_local(async move {
        loop {
            let accepted = future::or(async { Some(listener.accept().await) }, async {
                shutdown.wait().await;
                None
            })
            .await;
            let Some(Ok(stream)) = accepted else {
                if shutdown.is_triggered() {
                    break;
                }
                continue;
            };
            let Ok(transport) = Transport::new(stream, None) else {
                continue;
            };
            let (handler, settings, shutdown) =
                (handler.clone(), settings.clone(), shutdown.clone());
            glommio::spawn_local(serve_connection(handler, transport, settings, shutdown)).detach();
        }
    })
    .detach();
    Ok(addr)
}

/// The admin API token: the configured one (flag, RINGGATE_ADMIN_TOKEN or
/// the config file), else the first line of `admin_token_file`, else
/// `<data>/admin-token`, created (mode 0600) on first start.
fn admin_token(config: &ServeConfig) -> Result<zeroize::Zeroizing<String>, ServeError> {
    if let Some(token) = &config.admin_token {
        return Ok(zeroize::Zeroizing::new(token.clone()));
    }
    if let Some(path) = &config.admin_token_file {
        return read_token_file(path);
    }
    let path = config.data.join("admin-token");
    let data_error = |source| ServeError::Data {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(token) => Ok(zeroize::Zeroizing::new(token.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = crate::auth::credentials::generate_secret_key(&mut crate::entropy::Os);
            bootstrap::write_private(&path, format!("{}\n", token.as_str()).as_bytes())
                .map_err(data_error)?;
            Ok(token)
        }
        Err(e) => Err(data_error(e)),
    }
}

/// The first line of a token file, which must not be empty.
fn read_token_file(path: &std::path::Path) -> Result<zeroize::Zeroizing<String>, ServeError> {
    let data_error = |source| ServeError::Data {
        path: path.display().to_string(),
        source,
    };
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(data_error)?);
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(data_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the admin token file is empty",
        )));
    }
    Ok(zeroize::Zeroizing::new(token.to_string()))
}
