//! Connections per tenant, counted across all cores (a route's `max_connections`,
//! and the metrics' open and admitted counts by tenant), and the tenant's shared
//! message bucket (a route's `max_message_rate`).
//!
//! The one piece of mutable state the cores share: a mutex-protected map touched
//! twice per session (CONNECT and close), never per message. The message bucket
//! has a lock of its own, which sessions take once per lease of tokens, not per
//! message (`pace.rs`).

use crate::ratelimit::{Rate, TokenBucket};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A tenant's message bucket, shared by its sessions on every core.
pub type TenantBucket = Arc<Mutex<TokenBucket>>;

#[derive(Debug)]
struct Entry {
    connections: usize,
    /// Made with the tenant's first connection when it has a rate; gone with its last.
    bucket: Option<TenantBucket>,
}

/// Open connections by tenant, and connections admitted by tenant since start.
#[derive(Debug, Default, Clone)]
pub struct Tenants(Arc<Mutex<Counts>>);

#[derive(Debug, Default)]
struct Counts {
    open: HashMap<String, Entry>,
    /// Kept after a tenant's last connection ends (a counter), for at most
    /// [`TOTALS_MAX`] tenants; the rest count under [`OTHER`].
    totals: HashMap<String, u64>,
}

/// Tenants whose admitted connections are counted by name.
const TOTALS_MAX: usize = 10_000;

/// Where the tenants beyond [`TOTALS_MAX`] are counted.
pub const OTHER: &str = "_other";

/// One counted connection; gives its place back when dropped.
#[derive(Debug)]
pub struct Slot {
    tenants: Tenants,
    name: String,
    /// The tenant's message bucket, if it has a rate.
    pub bucket: Option<TenantBucket>,
}

impl Tenants {
    /// Takes a place for `name` if it has fewer than `max` connections; with `rate`,
    /// the slot carries the tenant's message bucket.
    pub fn acquire(&self, name: &str, max: Option<usize>, rate: Option<Rate>) -> Option<Slot> {
        let mut counts = self.0.lock().ok()?;
        let Counts { open, totals } = &mut *counts;
        let e = open.entry(name.to_string()).or_insert(Entry { connections: 0, bucket: None });
        if max.is_some_and(|max| e.connections >= max) {
            return None;
        }
        e.connections += 1;
        let key = if totals.contains_key(name) || totals.len() < TOTALS_MAX { name } else { OTHER };
        *totals.entry(key.to_string()).or_insert(0) += 1;
        if let (None, Some(r)) = (&e.bucket, rate) {
            e.bucket = Some(Arc::new(Mutex::new(TokenBucket::new(r, Instant::now()))));
        }
        let bucket = rate.and(e.bucket.clone());
        Some(Slot { tenants: self.clone(), name: name.to_string(), bucket })
    }

    /// Every tenant's open connections and connections admitted so far (metrics).
    pub fn counts(&self) -> Vec<(String, usize, u64)> {
        let Ok(c) = self.0.lock() else { return Vec::new() };
        c.totals
            .iter()
            .map(|(name, total)| (name.clone(), c.open.get(name).map_or(0, |e| e.connections), *total))
            .collect()
    }

    /// Open connections of `name`.
    #[cfg(test)]
    pub fn count(&self, name: &str) -> usize {
        self.0.lock().map(|c| c.open.get(name).map_or(0, |e| e.connections)).unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.tenants.0.lock() {
            if let Some(e) = c.open.get_mut(&self.name) {
                e.connections = e.connections.saturating_sub(1);
                if e.connections == 0 {
                    c.open.remove(&self.name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn limits_and_releases() {
        let t = Tenants::default();
        let a = t.acquire("acme", Some(2), None).expect("first");
        let b = t.acquire("acme", Some(2), None).expect("second");
        assert!(t.acquire("acme", Some(2), None).is_none(), "third over the limit");
        assert!(t.acquire("globex", Some(2), None).is_some(), "other tenants are separate");
        drop(a);
        assert_eq!(t.count("acme"), 1);
        assert!(t.acquire("acme", Some(2), None).is_some());
        drop(b);
        let mut counts = t.counts();
        counts.sort();
        assert_eq!(counts, [("acme".to_string(), 0, 3), ("globex".to_string(), 0, 1)], "totals stay");
    }

    #[test]
    fn a_tenants_sessions_share_one_bucket() {
        let t = Tenants::default();
        let rate = Rate { count: 10, per: Duration::from_secs(1), burst: 10 };
        let (a, b) =
            (t.acquire("acme", None, Some(rate)).unwrap(), t.acquire("acme", None, Some(rate)).unwrap());
        let (ba, bb) = (a.bucket.clone().unwrap(), b.bucket.clone().unwrap());
        assert!(Arc::ptr_eq(&ba, &bb));
        let other = t.acquire("globex", None, Some(rate)).unwrap();
        assert!(!Arc::ptr_eq(&ba, other.bucket.as_ref().unwrap()));
        assert!(t.acquire("plain", None, None).unwrap().bucket.is_none());
    }
}
