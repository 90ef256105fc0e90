//! The thread-per-core runtime: one glommio executor per selected CPU, each binding
//! every listener with SO_REUSEPORT and owning the connections it accepts.
//!
//! Start-up: ports given as 0 are reserved first (a bound, non-listening
//! SO_REUSEPORT socket, so every core binds the same port), every core binds and
//! reports, and only then `ready` is called with the real addresses. Shutdown: a
//! signal sets a shared flag; each core's watcher fires its local trigger, accept
//! loops stop, sessions end with DISCONNECT 0x8B (5.0), and the core waits for its
//! connections up to the shutdown timeout.

use super::conn;
use super::Core;
use crate::config::Config;
use crate::metrics::{self, Refusal, Registry};
use glommio::net::TcpListener;
use glommio::{CpuSet, LocalExecutorPoolBuilder, PoolPlacement};
use socket2::{Domain, Socket, Type};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tracing::{info, warn};

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

fn reserve(addr: SocketAddr) -> std::io::Result<(Socket, SocketAddr)> {
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

async fn accept_loop(core: Rc<Core>, listener: TcpListener, index: usize) {
    let max = core.config.limits.max_connections_per_core;
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            core.shutdown.wait().await;
            None
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(stream)) => {
                let peer = match stream.peer_addr() {
                    Ok(p) => p,
                    Err(_) => continue,
                };
                core.metrics.accepted.add(1);
                if core.live.get() >= max {
                    warn!(%peer, limit = max, "refused: connection limit of this core reached");
                    core.metrics.refused(Refusal::ConnectionLimit);
                    continue;
                }
                core.live.set(core.live.get() + 1);
                core.metrics.open.add(1);
                // `serve` gives the count back (before its sockets close).
                glommio::spawn_local(conn::serve(core.clone(), stream, peer, index)).detach();
            }
            Some(Err(e)) => {
                // E.g. out of file descriptors: back off instead of spinning.
                warn!(error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// What every shard starts from.
#[derive(Clone)]
struct Start {
    config: Arc<Config>,
    addrs: Vec<SocketAddr>,
    report: mpsc::Sender<Result<(), RuntimeError>>,
    stop: Arc<AtomicBool>,
    registry: Registry,
    tenants: super::tenants::Tenants,
}

async fn shard(start: Start) {
    let Start { config, addrs, report, stop, registry, tenants } = start;
    let core = Rc::new(Core::new(config.clone(), registry.register(), tenants));
    let mut listeners = Vec::new();
    for (l, addr) in config.listeners.iter().zip(&addrs) {
        match TcpListener::bind(addr) {
            Ok(t) => listeners.push(t),
            Err(e) => {
                let _ = report.send(Err(RuntimeError::Bind {
                    name: l.name.clone(),
                    addr: *addr,
                    reason: e.to_string(),
                }));
                return;
            }
        }
    }
    let _ = report.send(Ok(()));
    for (i, l) in listeners.into_iter().enumerate() {
        glommio::spawn_local(accept_loop(core.clone(), l, i)).detach();
    }
    // The signal handler only sets a flag; poll it at a human timescale.
    while !stop.load(Ordering::Relaxed) {
        glommio::timer::sleep(Duration::from_millis(50)).await;
    }
    core.shutdown.fire();
    let deadline = std::time::Instant::now() + config.shutdown_timeout;
    while core.live.get() > 0 && std::time::Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    if core.live.get() > 0 {
        warn!(open = core.live.get(), "shutdown timeout: dropping remaining connections");
    }
}

/// Runs the proxy until `stop` is set. `ready` gets each listener's name and bound
/// address, and the metrics endpoint's address, once every core listens. With
/// `spin_before_park`, an idle core polls that long before it sleeps (lower
/// wake-up latency, more CPU).
pub fn run(
    config: Arc<Config>,
    placement_of: &Placement,
    spin_before_park: Option<Duration>,
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(&[(String, SocketAddr)], Option<SocketAddr>),
) -> Result<(), RuntimeError> {
    let health = config
        .upstreams
        .iter()
        .map(|u| metrics::UpstreamHealth {
            name: u.name.clone(),
            servers: u.servers.iter().map(|s| s.name.clone()).collect(),
            up: u.up.clone(),
        })
        .collect();
    let registry =
        Registry::new(config.schemas.rules.iter().map(|r| r.filter.clone()).collect()).with_upstreams(health);
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
    // JWKS files are re-read off the data path; cores see new keys on their next load.
    for g in &config.guards {
        if let Some((path, every)) = &g.jwks_file {
            let files = vec![(g.verifier.keys.clone(), path.clone())];
            crate::auth::keys::watch(files, *every, stop.clone())
                .map_err(|e| RuntimeError::Executor(format!("JWKS watcher: {e}")))?;
        }
    }
    // Upstream servers are probed off the data path.
    super::health::spawn(&config.upstreams, stop.clone())
        .map_err(|e| RuntimeError::Executor(format!("health checks: {e}")))?;
    // Registry schemas are re-read off the data path too.
    crate::registry::spawn_refresh(config.schemas.clone(), config.registries.clone(), stop.clone())
        .map_err(|e| RuntimeError::Executor(format!("registry refresh: {e}")))?;
    let pool = placement(placement_of)?;
    let shards = pool.executor_count();
    let (tx, rx) = mpsc::channel();
    let start = Start {
        config: config.clone(),
        addrs: addrs.clone(),
        report: tx,
        stop: stop.clone(),
        registry,
        tenants: super::tenants::Tenants::default(),
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
    let named: Vec<(String, SocketAddr)> =
        config.listeners.iter().map(|l| l.name.clone()).zip(addrs).collect();
    info!(cores = shards, "listening");
    ready(&named, metrics_addr);
    for r in handles.join_all() {
        if let Err(e) = r {
            warn!(error = %e, "executor ended with an error");
        }
    }
    info!("stopped");
    Ok(())
}
