//! Config reloads, off the data path: on SIGHUP, or (with `--watch`) when the
//! config file or a file it names changes, the reloader thread loads and validates
//! the config again, binds what it adds, starts its background services, publishes
//! the new [`Snapshot`] and waits until every core runs it; then it stops the old
//! snapshot's services and announces new listeners (`ready` lines).
//!
//! A config that does not load (the same error `--check-config` prints), or whose
//! new listeners cannot be bound, is refused: logged, counted
//! (`mqtt_proxy_config_reloads_total{result="refused"}`), and the running snapshot
//! stays. Open connections are never touched by a reload except through their
//! listener (`listeners.rs`): each keeps the snapshot it was admitted under.

use super::runtime::{reserve, Announce};
use super::services::Services;
use super::snapshot::{Published, Snapshot};
use crate::config::{Config, Upstream};
use crate::metrics::{Registry, UpstreamHealth};
use socket2::Socket;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{info, warn};

/// Where the config comes from, loaded again on every reload.
pub type Source = Box<dyn Fn() -> Result<Config, String> + Send>;

/// What triggers a reload.
pub struct Reload {
    /// Loads the config again (the same way it was loaded at start).
    pub source: Source,
    /// Set by SIGHUP.
    pub hangup: Arc<AtomicBool>,
    /// Poll the config's files for changes this often (`--watch`).
    pub watch: Option<Duration>,
}

/// How often the reloader looks at the SIGHUP flag.
const TICK: Duration = Duration::from_millis(50);

/// How long the reloader waits for every core to take a new snapshot.
const TAKE_LIMIT: Duration = Duration::from_secs(10);

/// What the reloader keeps between reloads.
pub(super) struct Reloader {
    pub reload: Reload,
    pub published: Arc<Published>,
    pub services: Services,
    pub registry: Registry,
    pub announce: Announce,
    pub cores: usize,
    pub stop: Arc<AtomicBool>,
}

/// A file's identity for change detection: modification time and length.
type Stamp = Option<(SystemTime, u64)>;

fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files
        .iter()
        .map(|p| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len()))))
        .collect()
}

impl Reloader {
    /// Runs until the process stops (and then rings the cores' doorbell, so they
    /// see the stop at once).
    pub fn run(mut self) {
        let mut files = self.published.load().config.sources.clone();
        let mut seen = stamps(&files);
        let mut since_look = Duration::ZERO;
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            since_look += TICK;
            let hangup = self.reload.hangup.swap(false, Ordering::Relaxed);
            let changed = match self.reload.watch {
                Some(every) if since_look >= every => {
                    since_look = Duration::ZERO;
                    stamps(&files) != seen
                }
                _ => false,
            };
            if !hangup && !changed {
                continue;
            }
            // Stamps taken before loading: a file that changes while it is read is
            // seen as changed again at the next look.
            let before = stamps(&files);
            let why = if hangup { "SIGHUP" } else { "a watched file changed" };
            if self.apply(why) {
                files = self.published.load().config.sources.clone();
                seen = stamps(&files);
            } else {
                seen = before;
            }
        }
        self.published.doorbell.ring();
    }

    /// One reload; true when it was applied.
    fn apply(&mut self, why: &str) -> bool {
        super::systemd::notify("RELOADING=1");
        let applied = self.try_apply(why);
        super::systemd::notify("READY=1");
        applied
    }

    fn try_apply(&mut self, why: &str) -> bool {
        let old = self.published.load();
        let refuse = |registry: &Registry, error: &str| {
            warn!(trigger = why, %error, "config reload refused; the running config stays");
            registry.reloaded(false);
            false
        };
        let config = match (self.reload.source)() {
            Ok(c) => c,
            Err(e) => return refuse(&self.registry, &e),
        };
        // Unchanged listeners keep their bound address; new ones are reserved first
        // (so a port that cannot be had refuses the reload before any core tries).
        let mut reserved: Vec<Socket> = Vec::new();
        let mut addrs = Vec::new();
        for l in &config.listeners {
            let kept = old
                .config
                .listeners
                .iter()
                .zip(&old.addrs)
                .find(|(o, _)| o.name == l.name && o.bind == l.bind);
            match kept {
                Some((_, addr)) => addrs.push(*addr),
                None => match reserve(l.bind) {
                    Ok((sock, addr)) => {
                        reserved.push(sock);
                        addrs.push(addr);
                    }
                    Err(e) => {
                        return refuse(
                            &self.registry,
                            &format!("cannot bind listener {} on {}: {e}", l.name, l.bind),
                        )
                    }
                },
            }
        }
        carry_health(&old.config.upstreams, &config.upstreams);
        let services = match Services::start(&config) {
            Ok(s) => s,
            Err(e) => return refuse(&self.registry, &e),
        };
        let filters: Vec<String> = config.schemas.rules.iter().map(|r| r.filter.clone()).collect();
        let added: Vec<(String, SocketAddr)> = config
            .listeners
            .iter()
            .zip(&addrs)
            .filter(|(l, a)| old.addr_of(&l.name) != Some(**a))
            .map(|(l, a)| (l.name.clone(), *a))
            .collect();
        let removed = old
            .config
            .listeners
            .iter()
            .filter(|o| !config.listeners.iter().any(|l| l.name == o.name))
            .count();
        self.registry.set_upstreams(health_of(&config.upstreams));
        let next = Snapshot::new(config, addrs, self.registry.schema_labels(&filters), old.generation + 1);
        let generation = next.generation;
        self.published.store(next);
        if !self.published.wait_taken(self.cores, TAKE_LIMIT) {
            warn!(generation, "not every core took the new config in time");
        }
        drop(reserved);
        // The old snapshot's probes and watchers stop; its connections keep its config.
        self.services = services;
        (self.announce)(&added, None);
        info!(trigger = why, generation, added = added.len(), removed, "config reloaded");
        self.registry.reloaded(true);
        true
    }
}

/// A server that keeps its place in an upstream of the same name keeps its health
/// mark, so a reload does not send clients to a server known to be down.
fn carry_health(old: &[Upstream], new: &[Upstream]) {
    for n in new {
        let Some(o) = old.iter().find(|o| o.name == n.name) else { continue };
        for (i, s) in n.servers.iter().enumerate() {
            if let Some(j) = o.servers.iter().position(|x| x.name == s.name) {
                if let (Some(to), Some(from)) = (n.up.get(i), o.up.get(j)) {
                    to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
                }
            }
        }
    }
}

/// The health marks the metrics report.
pub(super) fn health_of(upstreams: &[Upstream]) -> Vec<UpstreamHealth> {
    upstreams
        .iter()
        .map(|u| UpstreamHealth {
            name: u.name.clone(),
            servers: u.servers.iter().map(|s| s.name.clone()).collect(),
            up: u.up.clone(),
        })
        .collect()
}
