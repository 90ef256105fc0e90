//! Connections per tenant, counted across all cores (a route's `max_connections`).
//!
//! The one piece of mutable state the cores share: a mutex-protected map touched
//! twice per session (CONNECT and close), never per message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open connections by tenant.
#[derive(Debug, Default, Clone)]
pub struct Tenants(Arc<Mutex<HashMap<String, usize>>>);

/// One counted connection; gives its place back when dropped.
#[derive(Debug)]
pub struct Slot {
    tenants: Tenants,
    name: String,
}

impl Tenants {
    /// Takes a place for `name` if it has fewer than `max` connections.
    pub fn acquire(&self, name: &str, max: Option<usize>) -> Option<Slot> {
        let mut m = self.0.lock().ok()?;
        let n = m.entry(name.to_string()).or_insert(0);
        if max.is_some_and(|max| *n >= max) {
            return None;
        }
        *n += 1;
        Some(Slot { tenants: self.clone(), name: name.to_string() })
    }

    /// Open connections of `name`.
    #[cfg(test)]
    pub fn count(&self, name: &str) -> usize {
        self.0.lock().map(|m| m.get(name).copied().unwrap_or(0)).unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.tenants.0.lock() {
            if let Some(n) = m.get_mut(&self.name) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&self.name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_releases() {
        let t = Tenants::default();
        let a = t.acquire("acme", Some(2)).expect("first");
        let b = t.acquire("acme", Some(2)).expect("second");
        assert!(t.acquire("acme", Some(2)).is_none(), "third over the limit");
        assert!(t.acquire("globex", Some(2)).is_some(), "other tenants are separate");
        drop(a);
        assert_eq!(t.count("acme"), 1);
        assert!(t.acquire("acme", Some(2)).is_some());
        drop(b);
    }
}
