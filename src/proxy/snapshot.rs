//! The config snapshot the cores run on, and how a new one reaches them.
//!
//! A [`Snapshot`] is a validated [`Config`] plus what the runtime derived from it
//! (the addresses its listeners are bound at, the metric labels of its validation
//! rules). It is read-only and shared (`Arc`) by every core and every connection
//! admitted under it: a connection keeps the snapshot it was admitted with for its
//! whole life, so a session never sees half of one config and half of another.
//! [`Published`] holds the current one (`arc-swap`: a core's look at it takes no
//! lock); the reloader stores a new one, rings the cores' doorbell and waits until
//! every core has taken it.

use super::doorbell::Doorbell;
use crate::config::Config;
use crate::ratelimit::TokenBucket;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One config, as the cores run it.
#[derive(Debug)]
pub struct Snapshot {
    /// The validated config.
    pub config: Config,
    /// Where each of `config.listeners` is bound (ports 0 resolved).
    pub addrs: Vec<SocketAddr>,
    /// The metric counter of each validation rule (`None`: not counted).
    pub schema_labels: Vec<Option<usize>>,
    /// Counts up with every reload (1 at start).
    pub generation: u64,
    /// Each listener's `connect_rate` bucket (shared by the cores; a reload starts
    /// them full again).
    pub connect_rates: Vec<Option<Mutex<TokenBucket>>>,
}

impl Snapshot {
    /// Puts a snapshot together.
    pub fn new(
        config: Config,
        addrs: Vec<SocketAddr>,
        schema_labels: Vec<Option<usize>>,
        generation: u64,
    ) -> Self {
        let now = Instant::now();
        let connect_rates = config
            .listeners
            .iter()
            .map(|l| l.connect_rate.map(|r| Mutex::new(TokenBucket::new(r, now))))
            .collect();
        Snapshot { config, addrs, schema_labels, generation, connect_rates }
    }

    /// Takes a token from `listener`'s connect rate (true without one).
    pub fn may_connect(&self, listener: usize) -> bool {
        match self.connect_rates.get(listener) {
            Some(Some(bucket)) => bucket.lock().is_ok_and(|mut b| b.try_take(Instant::now())),
            _ => true,
        }
    }

    /// Where listener `name` is bound in this snapshot.
    pub fn addr_of(&self, name: &str) -> Option<SocketAddr> {
        let i = self.config.listeners.iter().position(|l| l.name == name)?;
        self.addrs.get(i).copied()
    }
}

/// The current snapshot, and the cores that have taken it.
pub struct Published {
    current: ArcSwap<Snapshot>,
    /// Cores that have applied the current generation.
    taken: AtomicUsize,
    /// Wakes the cores to look (a new snapshot, a stop).
    pub doorbell: Doorbell,
}

impl Published {
    /// Starts with `first`.
    pub fn new(first: Snapshot) -> Self {
        Published {
            current: ArcSwap::from_pointee(first),
            taken: AtomicUsize::new(0),
            doorbell: Doorbell::default(),
        }
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Its generation (a cheap look, for the cores' polls).
    pub fn generation(&self) -> u64 {
        self.current.load().generation
    }

    /// Makes `next` current and tells the cores.
    pub fn store(&self, next: Snapshot) {
        self.taken.store(0, Ordering::SeqCst);
        self.current.store(Arc::new(next));
        self.doorbell.ring();
    }

    /// A core says it runs the current snapshot now.
    pub fn taken(&self) {
        self.taken.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits until `cores` cores took the current snapshot (false: not within `limit`).
    pub fn wait_taken(&self, cores: usize, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while self.taken.load(Ordering::SeqCst) < cores {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}
