//! The process: one glommio executor per core, each pinned, each with its own
//! SO_REUSEPORT listener, io_uring and piece-store handles, serving every
//! connection it accepts from first byte to last; the metadata commit thread;
//! start-up (default project and credentials, the sweep of orphaned pieces) and
//! graceful shutdown on SIGINT/SIGTERM.

pub mod admin;
pub mod bootstrap;
pub mod error;
pub mod gc;

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
use crate::pieces::wire::ClusterKey;
use crate::pieces::RemoteConfig;
use crate::registry::Registry;
use crate::repair::RepairWorker;
use crate::s3::authn::Invalidation;
use crate::s3::gateway::Gateway;
use crate::shutdown::ShutdownSignal;
pub use error::ServeError;

/// Runs the gateway until SIGINT or SIGTERM.
pub fn serve(config: ServeConfig) -> Result<(), ServeError> {
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
        crate::auth::ServerKey::load_or_create(&config.server_key).map_err(|source| {
            ServeError::Data {
                path: config.server_key.display().to_string(),
                source,
            }
        })?;
    let (registry, committer) = Registry::open(&config.data.join("meta.redb"), server_key)?;
    let meta = registry.meta().clone();
    let welcome = bootstrap::ensure_default_project(&registry, &config)?;
    let cluster_key = cluster_key(&config)?;
    let stores = Arc::new(crate::cluster::registry::register(
        &meta,
        &config.stores,
        &config.nodes,
    )?);
    let swept = gc::sweep_orphans(&meta, stores.clone(), cluster_key.clone())?;
    if swept > 0 {
        eprintln!("ringgate: removed {swept} orphaned pieces left by an earlier crash");
    }

    let admin_token = admin_token(&config)?;
    let config = Arc::new(config);
    let cores = config.cores;
    let metrics = Arc::new(Metrics::new(cores));
    // One channel per core's grant cache: revocations reach every core at once.
    let (invalidation_senders, mut invalidation_receivers): (Vec<_>, Vec<_>) = (0..cores)
        .map(|_| futures_channel::mpsc::unbounded::<Invalidation>())
        .unzip();
    let mut admin_parts = Some((admin_token, invalidation_senders));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<Result<SocketAddr, ServeError>>();
    let mut shutdown_senders = Vec::with_capacity(cores);
    let mut executors = Vec::with_capacity(cores);
    let mut listen = config.listen;
    for core in 0..cores {
        let (stop_tx, stop_rx) = futures_channel::oneshot::channel::<()>();
        shutdown_senders.push(stop_tx);
        let config = config.clone();
        let registry = registry.clone();
        let tls = tls.clone();
        let metrics = metrics.clone();
        let addr_tx = addr_tx.clone();
        let invalidations = invalidation_receivers.remove(0);
        let admin = if core == 0 { admin_parts.take() } else { None };
        let (stores, cluster_key) = (stores.clone(), cluster_key.clone());
        let placement = if cores <= cpus {
            Placement::Fixed(core)
        } else {
            Placement::Unbound
        };
        let executor = LocalExecutorBuilder::new(placement)
            .name(&format!("ringgate-core{core}"))
            .spawn(move || async move {
                let channels = CoreChannels {
                    stop: stop_rx,
                    started: addr_tx,
                    invalidations,
                    admin,
                    stores,
                    cluster_key,
                };
                run_core(core, listen, config, registry, metrics, tls, channels).await;
            })
            .map_err(|e| ServeError::Core {
                core,
                reason: e.to_string(),
            })?;
        executors.push(executor);
        // Core 0 binds first: with port 0 the others need the port it got.
        match addr_rx.recv() {
            Ok(Ok(addr)) => listen = addr,
            Ok(Err(e)) => {
                stop_all(shutdown_senders);
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
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!(
        "ringgate: listening on {scheme}://{listen} ({cores} cores, erasure {}/{}/{}, {} local piece stores, {} nodes)",
        config.pipeline.layout.erasure().required,
        config.pipeline.layout.erasure().optimal,
        config.pipeline.layout.erasure().total,
        config.stores.len(),
        config.nodes.len()
    );
    bootstrap::print_welcome(&welcome, &config, &format!("{scheme}://{listen}"));

    wait_for_signal(shutdown_senders)?;
    for executor in executors {
        let _ = executor.join();
    }
    committer.shutdown();
    eprintln!("ringgate: stopped");
    Ok(())
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
        eprintln!("ringgate: signal {signal}: finishing requests in flight");
    }
    stop_all(senders);
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            eprintln!("ringgate: second signal: exiting now");
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
    admin: Option<(
        zeroize::Zeroizing<String>,
        Vec<futures_channel::mpsc::UnboundedSender<Invalidation>>,
    )>,
    /// The stores every core shares, and the key to sign node orders.
    stores: Arc<StoreTable>,
    cluster_key: Option<Arc<ClusterKey>>,
}

async fn run_core(
    core: usize,
    listen: SocketAddr,
    config: Arc<ServeConfig>,
    registry: Registry,
    metrics: Arc<Metrics>,
    tls: Option<Arc<rustls::ServerConfig>>,
    channels: CoreChannels,
) {
    let CoreChannels {
        stop,
        started,
        mut invalidations,
        admin,
        stores,
        cluster_key,
    } = channels;
    let stores = match StoreSet::open(stores, cluster_key, &RemoteConfig::default()).await {
        Ok(stores) => Rc::new(stores),
        Err(e) => {
            let _ = started.send(Err(ServeError::Store(e.to_string())));
            return;
        }
    };
    let listener = match TcpListener::bind(listen) {
        Ok(listener) => listener,
        Err(e) => {
            let _ = started.send(Err(ServeError::Listen {
                addr: listen,
                source: std::io::Error::other(e.to_string()),
            }));
            return;
        }
    };
    let addr = listener.local_addr().unwrap_or(listen);
    let shutdown = ShutdownSignal::new();
    let meta = registry.meta().clone();
    let gateway = Rc::new(Gateway::new(
        core,
        config.clone(),
        registry.clone(),
        stores.clone(),
        metrics.clone(),
    ));
    let settings = Rc::new(ConnSettings {
        head: HeadLimits {
            request_line_bytes_max: config.limits.request_line_bytes_max,
            head_bytes_max: config.limits.head_bytes_max,
            headers_count_max: config.limits.headers_count_max,
        },
        idle_timeout: config.limits.idle_timeout,
        stall_timeout: config.limits.stall_timeout,
    });
    {
        let shutdown = shutdown.clone();
        glommio::spawn_local(async move {
            let _ = stop.await;
            shutdown.trigger();
        })
        .detach();
    }
    {
        let gateway = gateway.clone();
        glommio::spawn_local(async move {
            use futures_lite::StreamExt;
            while let Some(what) = invalidations.next().await {
                gateway.grants.invalidate(&what);
            }
        })
        .detach();
    }
    if let Some((token, senders)) = admin {
        let repair = spawn_background(&config, &meta, &stores, &shutdown);
        let handler = admin::AdminHandler {
            metrics: metrics.clone(),
            commits: meta.commit_handle().stats().clone(),
            registry: registry.clone(),
            token,
            invalidations: senders,
            repair,
            stores: stores.clone(),
        };
        let admin = match admin_listener(&config, handler, &settings, &shutdown) {
            Ok(addr) => addr,
            Err(e) => {
                let _ = started.send(Err(e));
                return;
            }
        };
        println!("ringgate: admin (metrics) on http://{admin}");
        gc::spawn_collector(
            meta,
            stores,
            config.gc_delay,
            shutdown.clone(),
            metrics.clone(),
        );
    }
    let _ = started.send(Ok(addr));

    let gate = glommio::sync::Gate::new();
    let connections = Rc::new(std::cell::Cell::new(0usize));
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            shutdown.wait().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { break };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                // Out of descriptors or memory: back off instead of spinning.
                eprintln!("ringgate: core {core}: accept: {e}");
                glommio::timer::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let counters = metrics.core(core);
        if connections.get() >= config.limits.connections_per_core_max {
            CoreMetrics::add(&counters.connections_refused, 1);
            drop(stream);
            continue;
        }
        CoreMetrics::add(&counters.connections_accepted, 1);
        let transport = match Transport::new(stream, tls.as_ref()) {
            Ok(transport) => transport,
            Err(_) => continue,
        };
        connections.set(connections.get() + 1);
        counters
            .connections_open
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (gateway, settings, shutdown, connections, metrics) = (
            gateway.clone(),
            settings.clone(),
            shutdown.clone(),
            connections.clone(),
            metrics.clone(),
        );
        let spawned = gate.spawn(async move {
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
    drop(listener);
    let drained = glommio::timer::timeout(config.limits.shutdown_grace, async {
        let _ = gate.close().await;
        Ok(())
    })
    .await;
    if drained.is_err() {
        eprintln!(
            "ringgate: core {core}: {} connections still open after {:?}, closing them",
            connections.get(),
            config.limits.shutdown_grace
        );
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
        ClusterKey::load(path)
    } else {
        let created = ClusterKey::create(path);
        if created.is_ok() {
            eprintln!(
                "ringgate: created cluster key {}: start each node with --cluster-key pointing at a copy",
                path.display()
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

/// The admin API token: the configured one, else `<data>/admin-token`,
/// created (mode 0600) on first start.
fn admin_token(config: &ServeConfig) -> Result<zeroize::Zeroizing<String>, ServeError> {
    if let Some(token) = &config.admin_token {
        return Ok(zeroize::Zeroizing::new(token.clone()));
    }
    let path = config.data.join("admin-token");
    let data_error = |source| ServeError::Data {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(token) => Ok(zeroize::Zeroizing::new(token.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = crate::auth::credentials::generate_secret_key();
            bootstrap::write_private(&path, &format!("{}\n", token.as_str()))
                .map_err(data_error)?;
            Ok(token)
        }
        Err(e) => Err(data_error(e)),
    }
}
