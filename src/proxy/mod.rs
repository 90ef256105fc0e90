//! I/O only: the glommio executors (one per core), listeners, and the connection
//! driver that carries out what the pure session core decides.
//!
//! Each core owns its listeners (SO_REUSEPORT), the connections it accepts and
//! their upstream sockets; the only thing shared between cores is the read-only
//! config snapshot (`snapshot`, replaced as a whole by a reload: `reload`). Inside a core everything is `Rc`/`Cell`: no locks, no atomics on
//! the data path. The MQTT decisions live in [`crate::session`] (pure); this module
//! does the I/O around them:
//!
//! - `conn`: one connection's phases, `admit` (TLS → CONNECT → guard → ACL →
//!   route → upstream; `admit.rs`, `authenticate.rs`, `routing.rs`, `streams.rs`)
//!   → hop → finish (goodbye, counts, one log line; `goodbye.rs`);
//! - `relay`: the single-broker hop (two pumps, frames forwarded as the same bytes);
//! - `multi`: the multi-broker driver (client, link and timer tasks around
//!   `session::multi::Multi`);
//! - `writer`: the one way a socket of a session is written; `io`: shared streams
//!   and bounded reads; `keepalive`, `notify`, `trigger`: wake-ups and deadlines;
//! - `runtime`, `health`, `tenants`, `stats`: executors, upstream probes, tenant
//!   counts, log limiting.
//! - `footprint`: the memory an idle connection costs, under test.
//! - `memory`: process-wide memory settings at start (transparent huge pages off).
//! - `snapshot`, `reload`, `services`, `listeners`: the config the cores run, how
//!   a new one replaces it, the threads it needs, and the listeners it binds.
//! - `preamble`: the PROXY protocol header of a balanced listener.
//! - `websocket`: a `ws`/`wss` client connection as a plain MQTT byte stream.
//! - `systemd`: readiness notifications (`Type=notify`).

mod admit;
mod authenticate;
mod conn;
mod doorbell;
mod footprint;
mod gate;
mod goodbye;
mod health;
mod io;
mod keepalive;
mod listeners;
pub mod memory;
mod multi;
mod notify;
mod pace;
mod preamble;
mod relay;
mod reload;
mod routing;
mod runtime;
mod services;
mod session_io;
mod snapshot;
mod stats;
mod streams;
pub mod systemd;
mod tcp;
mod tenants;
mod trigger;
mod websocket;
mod writer;

pub use reload::{Reload, Source};
pub use runtime::{run, Announce, Placement, RuntimeError};
pub use snapshot::Snapshot;

use crate::auth::{Throttle, TokenCache};
use crate::metrics::CoreMetrics;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

/// Seconds since the Unix epoch (token lifetimes are in these).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Verified tokens remembered per core (a few hundred bytes each).
const TOKEN_CACHE_PER_CORE: usize = 50_000;

/// Source addresses whose authentication failures are remembered per core.
const THROTTLE_ADDRESSES_PER_CORE: usize = 100_000;

/// What one core shares between its tasks.
pub struct Core {
    /// This core's executor id (in logs).
    pub id: usize,
    /// The config snapshot new connections are admitted under (each connection
    /// keeps the one it was admitted with).
    snapshot: RefCell<Arc<Snapshot>>,
    /// Open connections on this core.
    live: Cell<usize>,
    /// This core's counters (read by the metrics thread).
    pub metrics: Arc<CoreMetrics>,
    /// Verified tokens (borrowed only between awaits).
    tokens: RefCell<TokenCache>,
    /// Recent authentication failures per source address.
    throttle: RefCell<Throttle>,
    /// Payload rejections: one log line per rule and direction per second.
    schema_log: stats::LogLimiter,
    /// Connections per tenant (shared by all cores).
    tenants: tenants::Tenants,
    /// Where reads into an empty connection buffer land (`io::read_into`).
    scratch: io::Scratch,
    /// Admission limits shared by all cores.
    gate: std::sync::Arc<gate::Gate>,
}

/// One open connection on its core: created in `conn::serve` after the socket is
/// wrapped, so it is dropped (and the counts go down) before the socket closes.
/// It holds its listener's life (the listener's counts; its retirement ends the session).
pub(crate) struct Open<'a>(&'a Core, Rc<listeners::Life>);

impl Open<'_> {
    /// Gives the count back now (a connection that ends before it has a socket to
    /// order the drop against).
    pub(crate) fn release(self) {}

    /// Its listener's life.
    pub(crate) fn life(&self) -> &listeners::Life {
        &self.1
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.live.set(self.0.live.get().saturating_sub(1));
        self.0.metrics.open.sub(1);
        self.1.counters.open.sub(1);
    }
}

impl Core {
    /// Takes over the accounting of a connection the accept loop counted.
    pub(crate) fn open(&self, life: Rc<listeners::Life>) -> Open<'_> {
        Open(self, life)
    }

    /// The current snapshot.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// The core's verified-token cache, for a session admitted under `snap`: only
    /// while that is the current snapshot (the cache holds only the current
    /// guards' verdicts; an older snapshot's guard verifies without it).
    pub(crate) fn tokens_for(&self, snap: &Arc<Snapshot>) -> Option<std::cell::RefMut<'_, TokenCache>> {
        match Arc::ptr_eq(snap, &self.snapshot.borrow()) {
            true => Some(self.tokens.borrow_mut()),
            false => None,
        }
    }

    /// Runs new connections on `next` from now on. Verified tokens are forgotten:
    /// the guard that verified them may have changed.
    fn take_snapshot(&self, next: Arc<Snapshot>) {
        *self.snapshot.borrow_mut() = next;
        self.tokens.borrow_mut().clear();
    }

    fn new(
        snapshot: Arc<Snapshot>,
        metrics: Arc<CoreMetrics>,
        tenants: tenants::Tenants,
        gate: Arc<gate::Gate>,
    ) -> Self {
        Core {
            id: glommio::executor().id(),
            scratch: io::Scratch::default(),
            snapshot: RefCell::new(snapshot),
            live: Cell::new(0),
            metrics,
            tokens: RefCell::new(TokenCache::new(TOKEN_CACHE_PER_CORE)),
            throttle: RefCell::new(Throttle::new(THROTTLE_ADDRESSES_PER_CORE)),
            schema_log: stats::LogLimiter::new(std::time::Duration::from_secs(1)),
            tenants,
            gate,
        }
    }
}
