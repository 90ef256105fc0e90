//! The thread-per-core runtime: one glommio executor per selected CPU, each binding
//! every listener with SO_REUSEPORT and owning the connections it accepts.
//!
//! Start-up: ports given as 0 are reserved first (a bound, non-listening
//! SO_REUSEPORT socket, so every core binds the same port), every core binds and
//! reports, and only then `ready` is called with the real addresses. Each core then
//! waits for its doorbell (`doorbell.rs`: rung by the reloader on a new config
//! snapshot or a stop), looking at least once a second, and takes a new snapshot
//! (`reload.rs`) by re-binding its listeners (`listeners.rs`). Shutdown: a signal
//! sets a shared flag; each core's watcher retires its listeners (accept loops
//! stop, sessions end with DISCONNECT 0x8B for 5.0 clients), and the core waits for
//! its connections up to the shutdown timeout.

use super::listeners::Listeners;
use super::reload::{health_of, Reload, Reloader};
use super::services::Services;
use super::snapshot::{Published, Snapshot};
use super::Core;
use crate::config::Config;
use crate::metrics::{self, Registry};
use glommio::{CpuSet, LocalExecutorPoolBuilder, PoolPlacement};
use socket2::{Domain, Socket, Type};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tracing::{info, warn};

/// How often a core looks for a stop that rang no doorbell.
const LOOK_ANYWAY: Duration = Duration::from_secs(1);

/// How executors are placed on CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// N executors pinned to N distinct CPUs.
    Cores(usize),
    /// One executor pinned to each listed CPU.
    Cpus(Vec<usize>),
    /// N executors, not pinned.
    Unpinned(usize),
}

/// Runtime failures (start-up only; a running core never fails the process).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A listener could not be bound.
    #[error("cannot bind listener {name} on {addr}: {reason}")]
    Bind {
        /// Listener name.
        name: String,
        /// Address.
        addr: SocketAddr,
        /// OS error.
        reason: String,
    },
    /// The executors could not be started (CPU selection, io_uring, locked memory).
    #[error(
        "cannot start executors: {0} (glommio needs io_uring and >= 512 KiB of locked memory: `ulimit -l`)"
    )]
    Executor(String),
}

/// Binds `addr` without listening (SO_REUSEPORT), so a port 0 becomes a real port
/// every core can bind too; the socket is dropped once they have.
pub(super) fn reserve(addr: SocketAddr) -> std::io::Result<(Socket, SocketAddr)> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_port(true)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    let bound = s.local_addr()?.as_socket().unwrap_or(addr);
    Ok((s, bound))
}

fn placement(p: &Placement) -> Result<PoolPlacement, RuntimeError> {
    Ok(match p {
        Placement::Cores(n) => PoolPlacement::MaxSpread(*n, None),
        Placement::Unpinned(n) => PoolPlacement::Unbound(*n),
        Placement::Cpus(list) => {
            let online = CpuSet::online().map_err(|e| RuntimeError::Executor(e.to_string()))?;
            let mut sets = Vec::new();
            for &cpu in list {
                let one = online.clone().filter(|l| l.cpu == cpu);
                if one.is_empty() {
                    return Err(RuntimeError::Executor(format!("CPU {cpu} is not online")));
                }
                sets.push(one);
            }
            PoolPlacement::Custom(sets)
        }
    })
}

/// Says where listeners (and the metrics endpoint, at start) are bound: at start
/// and for the listeners a reload adds.
pub type Announce = Arc<dyn Fn(&[(String, SocketAddr)], Option<SocketAddr>) + Send + Sync>;

/// What every shard starts from.
#[derive(Clone)]
struct Start {
    published: Arc<Published>,
    report: mpsc::Sender<Result<(), RuntimeError>>,
    stop: Arc<AtomicBool>,
    registry: Registry,
    tenants: super::tenants::Tenants,
    gate: Arc<super::gate::Gate>,
}

async fn shard(start: Start) {
    let Start { published, report, stop, registry, tenants, gate } = start;
    let snap = published.load();
    let core = Rc::new(Core::new(snap.clone(), registry.register(), tenants, gate));
    let mut listeners = Listeners::default();
    if let Err(e) = listeners.apply(&core, &snap) {
        let _ = report.send(Err(e));
        return;
    }
    // Hung before the core reports ready: the reloader starts after that, so no
    // ring can miss this core.
    let mut bell = published
        .doorbell
        .hang()
        .map_err(|e| warn!(core = core.id, error = %e, "no doorbell: looking for reloads every 50 ms"))
        .ok();
    let _ = report.send(Ok(()));
    let mut generation = snap.generation;
    drop(snap);
    // The signal handler and the reloader only set shared state. The reloader rings
    // the doorbell when it changed it; a stop flag set by a signal handler alone is
    // seen within a second. Without a bell (no socket pair), look every 50 ms.
    while !stop.load(Ordering::Relaxed) {
        match bell.as_mut() {
            Some(bell) => futures_lite::future::or(bell.rung(), glommio::timer::sleep(LOOK_ANYWAY)).await,
            None => glommio::timer::sleep(Duration::from_millis(50)).await,
        }
        if published.generation() != generation {
            let next = published.load();
            generation = next.generation;
            core.take_snapshot(next.clone());
            if let Err(e) = listeners.apply(&core, &next) {
                warn!(core = core.id, error = %e, "reload: a listener could not be bound on this core");
            }
            published.taken();
        }
    }
    // Every core says so (systemd takes the first; the rest change nothing).
    super::systemd::notify("STOPPING=1");
    listeners.close_all();
    let deadline = std::time::Instant::now() + core.snapshot().config.shutdown_timeout;
    while core.live.get() > 0 && std::time::Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    if core.live.get() > 0 {
        warn!(open = core.live.get(), "shutdown timeout: dropping remaining connections");
    }
}

/// Runs the proxy until `stop` is set. `ready` gets each listener's name and bound
/// address, and the metrics endpoint's address, once every core listens (and again
/// for listeners a reload adds). With `spin_before_park`, an idle core polls that
/// long before it sleeps (lower wake-up latency, more CPU). With `reload`, the
/// config is loaded again on SIGHUP or when its files change (`reload.rs`).
pub fn run(
    config: Config,
    placement_of: &Placement,
    spin_before_park: Option<Duration>,
    stop: Arc<AtomicBool>,
    ready: Announce,
    reload: Option<Reload>,
) -> Result<(), RuntimeError> {
    let filters: Vec<String> = config.schemas.rules.iter().map(|r| r.filter.clone()).collect();
    let registry = Registry::new(filters.clone()).with_upstreams(health_of(&config.upstreams));
    let metrics_addr = match config.metrics {
        Some(addr) => Some(metrics::http::serve(addr, registry.clone()).map_err(|e| RuntimeError::Bind {
            name: "metrics".into(),
            addr,
            reason: e.to_string(),
        })?),
        None => None,
    };
    let mut reserved = Vec::new();
    let mut addrs = Vec::new();
    for l in &config.listeners {
        let (sock, addr) = reserve(l.bind).map_err(|e| RuntimeError::Bind {
            name: l.name.clone(),
            addr: l.bind,
            reason: e.to_string(),
        })?;
        reserved.push(sock);
        addrs.push(addr);
    }
    // Health probes, JWKS and registry refreshes run off the data path.
    let services = Services::start(&config).map_err(RuntimeError::Executor)?;
    let named: Vec<(String, SocketAddr)> =
        config.listeners.iter().map(|l| l.name.clone()).zip(addrs.iter().copied()).collect();
    let first = Snapshot::new(config, addrs, registry.schema_labels(&filters), 1);
    let published = Arc::new(Published::new(first));
    let pool = placement(placement_of)?;
    let shards = pool.executor_count();
    let (tx, rx) = mpsc::channel();
    let tenants = super::tenants::Tenants::default();
    let counted = tenants.clone();
    registry.set_tenants(Arc::new(move || counted.counts()));
    let start = Start {
        published: published.clone(),
        report: tx,
        stop: stop.clone(),
        registry: registry.clone(),
        tenants,
        gate: Arc::default(),
    };
    let mut builder = LocalExecutorPoolBuilder::new(pool).name("mqtt-proxy");
    if let Some(spin) = spin_before_park {
        builder = builder.spin_before_park(spin);
    }
    let handles =
        builder.on_all_shards(move || shard(start)).map_err(|e| RuntimeError::Executor(e.to_string()))?;
    let mut failure = None;
    for _ in 0..shards {
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some(RuntimeError::Executor("an executor exited during start-up".into())),
        }
    }
    drop(reserved);
    if let Some(e) = failure {
        stop.store(true, Ordering::Relaxed);
        handles.join_all();
        return Err(e);
    }
    info!(cores = shards, "listening");
    ready(&named, metrics_addr);
    super::systemd::notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    // The reloader owns the running snapshot's services from here on (and replaces
    // them); without it they live until the end.
    let _services = match reload {
        None => Some(services),
        Some(reload) => {
            let reloader = Reloader {
                reload,
                published,
                services,
                registry,
                announce: ready,
                cores: shards,
                stop: stop.clone(),
            };
            std::thread::Builder::new()
                .name("reload".into())
                .spawn(move || reloader.run())
                .map_err(|e| RuntimeError::Executor(format!("reloader: {e}")))?;
            None
        }
    };
    for r in handles.join_all() {
        if let Err(e) = r {
            warn!(error = %e, "executor ended with an error");
        }
    }
    info!("stopped");
    Ok(())
}
