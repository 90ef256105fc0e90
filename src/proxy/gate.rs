//! Admission limits shared by every core (touched a few times per connection,
//! never per message): connections between accept and CONNACK (a connect storm is
//! shed with CONNACK 0x9F beyond `limits.max_connecting`), and open connections
//! per source address (`limits.max_connections_per_ip`, CONNACK 0x97 beyond it).
//! A listener's `connect_rate` bucket lives with the config snapshot (`snapshot.rs`).

use crate::ratelimit::PerSource;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The shared counts.
#[derive(Debug, Default)]
pub struct Gate {
    connecting: AtomicUsize,
    per_ip: Mutex<PerSource>,
}

/// One connection in its CONNECT phase (counted until dropped).
pub struct Connecting<'a>(&'a Gate);

impl Connecting<'_> {
    /// Connections in the CONNECT phase now, this one included.
    pub fn now(&self) -> usize {
        self.0.connecting.load(Ordering::Relaxed)
    }
}

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.connecting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One open connection from a source (its place is given back when dropped).
pub struct IpSlot {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Ok(mut p) = self.gate.per_ip.lock() {
            p.release(self.ip);
        }
    }
}

impl Gate {
    /// Counts a connection into its CONNECT phase.
    pub fn connecting(&self) -> Connecting<'_> {
        self.connecting.fetch_add(1, Ordering::Relaxed);
        Connecting(self)
    }

    /// A place for one more connection from `ip`, if its source has fewer than `max`.
    pub fn ip_slot(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let taken = self.per_ip.lock().ok()?.acquire(ip, max);
        taken.then(|| IpSlot { gate: self.clone(), ip })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_back_when_dropped() {
        let gate = Arc::new(Gate::default());
        let (a, b) = (gate.connecting(), gate.connecting());
        assert_eq!(b.now(), 2);
        drop(a);
        assert_eq!(b.now(), 1);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let one = gate.ip_slot(ip, 1).expect("first");
        assert!(gate.ip_slot(ip, 1).is_none());
        drop(one);
        assert!(gate.ip_slot(ip, 1).is_some());
    }
}
