//! One core's listeners: bound (SO_REUSEPORT, so every core binds the same
//! address), accepting, and retired as config snapshots come and go.
//!
//! [`Listeners::apply`] brings the set in line with a snapshot: a listener whose
//! name and bound address are unchanged keeps its socket and accept loop (its new
//! connections get the new snapshot); a new one is bound and accepts; a removed one
//! (or one whose address moved) stops accepting at once, and its open connections
//! are ended with a 5.0 DISCONNECT 0x8B (Server shutting down) once the snapshot's
//! `shutdown_timeout` has passed, so they reconnect to a listener that exists.

use super::runtime::RuntimeError;
use super::snapshot::Snapshot;
use super::trigger::Trigger;
use super::{conn, Core};
use crate::metrics::{ListenerCounters, Refusal};
use glommio::net::TcpListener;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// The life of one bound listener on one core.
#[derive(Default)]
pub struct Life {
    /// Stop accepting.
    closed: Trigger,
    /// End the connections it accepted (after the grace period).
    pub retired: Trigger,
    /// Its connections, accepted and open (the metrics thread reads them).
    pub counters: Arc<ListenerCounters>,
}

/// A bound listener.
struct Bound {
    name: String,
    addr: SocketAddr,
    life: Rc<Life>,
}

/// The listeners of one core.
#[derive(Default)]
pub struct Listeners {
    bound: Vec<Bound>,
    /// Closed listeners whose connections are still in their grace period.
    retiring: Vec<Rc<Life>>,
}

impl Listeners {
    /// Binds what `snap` adds, keeps what it keeps, retires what it drops. A bind
    /// failure is returned (at start-up it is fatal; on reload the reloader reserved
    /// the address first, so it means something else took it).
    pub fn apply(&mut self, core: &Rc<Core>, snap: &Snapshot) -> Result<(), RuntimeError> {
        let wanted: Vec<(&str, SocketAddr)> =
            snap.config.listeners.iter().map(|l| l.name.as_str()).zip(snap.addrs.iter().copied()).collect();
        let grace = snap.config.shutdown_timeout;
        self.retiring.retain(|l| !l.retired.is_fired());
        let retiring = &mut self.retiring;
        self.bound.retain(|b| {
            let keep = wanted.contains(&(b.name.as_str(), b.addr));
            if !keep {
                info!(listener = %b.name, addr = %b.addr, core = core.id, "listener closed; its connections end after the shutdown timeout");
                retire(b.life.clone(), grace);
                retiring.push(b.life.clone());
            }
            keep
        });
        for (name, addr) in wanted {
            if self.bound.iter().any(|b| b.name == name) {
                continue;
            }
            let listener = TcpListener::bind(addr).map_err(|e| RuntimeError::Bind {
                name: name.to_string(),
                addr,
                reason: e.to_string(),
            })?;
            let counters = core.metrics.listeners.register(name);
            let life = Rc::new(Life { counters, ..Life::default() });
            glommio::spawn_local(accept_loop(core.clone(), listener, name.to_string(), life.clone()))
                .detach();
            self.bound.push(Bound { name: name.to_string(), addr, life });
        }
        Ok(())
    }
}

impl Listeners {
    /// The core shuts down: every listener stops accepting and its connections end now.
    pub fn close_all(&mut self) {
        for life in self.bound.drain(..).map(|b| b.life).chain(self.retiring.drain(..)) {
            life.closed.fire();
            life.retired.fire();
        }
    }
}

/// Stops accepting now; ends the connections after `grace`.
fn retire(life: Rc<Life>, grace: Duration) {
    life.closed.fire();
    glommio::spawn_local(async move {
        glommio::timer::sleep(grace).await;
        life.retired.fire();
    })
    .detach();
}

/// Accepts until the core shuts down or the listener is closed; each connection is
/// served under the snapshot current when it was accepted.
async fn accept_loop(core: Rc<Core>, listener: TcpListener, name: String, life: Rc<Life>) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            life.closed.wait().await;
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
                life.counters.accepted.add(1);
                let snap: Arc<Snapshot> = core.snapshot();
                let max = snap.config.limits.max_connections_per_core;
                let Some(index) = snap.config.listeners.iter().position(|l| l.name == name) else { continue };
                if core.live.get() >= max {
                    warn!(%peer, limit = max, "refused: connection limit of this core reached");
                    core.metrics.refused(Refusal::ConnectionLimit);
                    continue;
                }
                core.live.set(core.live.get() + 1);
                core.metrics.open.add(1);
                life.counters.open.add(1);
                // `serve` gives the count back (before its sockets close).
                let serve = conn::serve(core.clone(), snap, stream, peer, index, life.clone());
                glommio::spawn_local(serve).detach();
            }
            Some(Err(e)) => {
                // E.g. out of file descriptors: back off instead of spinning.
                warn!(error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
