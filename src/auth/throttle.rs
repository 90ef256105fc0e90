//! Slowing down token guessing: failed authentications are counted per source
//! address; past a limit within a window, that address's CONNECTs are refused
//! without verifying anything, after a delay, for the rest of the window.
//!
//! Per core (no locks); SO_REUSEPORT spreads one address's connections over the
//! cores, so the effective limit is per core. Bounded: when full, stale windows are
//! dropped first, then the table is cleared (an attacker cannot grow it). Pure: time
//! is an argument.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures allowed per window before throttling (0: never throttle).
    pub failures: u32,
    /// Window length.
    pub window: Duration,
    /// Delay before a throttled client is answered.
    pub penalty: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig { failures: 10, window: Duration::from_secs(60), penalty: Duration::from_secs(1) }
    }
}

/// The per-core table.
#[derive(Debug)]
pub struct Throttle {
    capacity: usize,
    seen: HashMap<IpAddr, (u32, Instant)>,
}

impl Throttle {
    /// A table of at most `capacity` addresses.
    pub fn new(capacity: usize) -> Self {
        Throttle { capacity, seen: HashMap::new() }
    }

    /// True when `ip` has used up its failures in the current window.
    pub fn is_throttled(&self, ip: IpAddr, cfg: &ThrottleConfig, now: Instant) -> bool {
        cfg.failures > 0
            && matches!(self.seen.get(&ip), Some((n, start)) if *n >= cfg.failures && now.duration_since(*start) < cfg.window)
    }

    /// Records a failed authentication from `ip`.
    pub fn failed(&mut self, ip: IpAddr, cfg: &ThrottleConfig, now: Instant) {
        if cfg.failures == 0 {
            return;
        }
        if self.seen.len() >= self.capacity && !self.seen.contains_key(&ip) {
            self.seen.retain(|_, (_, start)| now.duration_since(*start) < cfg.window);
            if self.seen.len() >= self.capacity {
                self.seen.clear();
            }
        }
        let e = self.seen.entry(ip).or_insert((0, now));
        if now.duration_since(e.1) >= cfg.window {
            *e = (0, now);
        }
        e.0 += 1;
    }

    /// Addresses tracked.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_the_limit_until_the_window_ends() {
        let cfg = ThrottleConfig { failures: 3, window: Duration::from_secs(10), penalty: Duration::ZERO };
        let mut t = Throttle::new(100);
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(!t.is_throttled(ip, &cfg, t0));
            t.failed(ip, &cfg, t0);
        }
        assert!(t.is_throttled(ip, &cfg, t0 + Duration::from_secs(9)));
        assert!(!t.is_throttled("10.0.0.2".parse().expect("ip"), &cfg, t0));
        assert!(!t.is_throttled(ip, &cfg, t0 + Duration::from_secs(10)));
        t.failed(ip, &cfg, t0 + Duration::from_secs(11));
        assert!(!t.is_throttled(ip, &cfg, t0 + Duration::from_secs(11)), "new window");
    }

    #[test]
    fn stays_bounded() {
        let cfg = ThrottleConfig { failures: 1, window: Duration::from_secs(10), penalty: Duration::ZERO };
        let mut t = Throttle::new(16);
        let now = Instant::now();
        for i in 0..1000u32 {
            t.failed(IpAddr::from(i.to_be_bytes()), &cfg, now);
            assert!(t.len() <= 16);
        }
    }
}
