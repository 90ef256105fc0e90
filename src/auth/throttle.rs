//! Slowing down token guessing: failed authentications are counted per source
//! (an IPv4 address, or an IPv6 /64: one host usually holds a whole /64, so counting
//! single IPv6 addresses would let it pick a fresh one per guess); past a limit
//! within a window, that source's CONNECTs are refused without verifying anything,
//! after a delay, for the rest of the window.
//!
//! Per core (no locks); SO_REUSEPORT spreads one address's connections over the
//! cores, so the effective limit is per core. Bounded: when full, the source that
//! failed least recently is forgotten (an attacker cannot grow the table, and one
//! that keeps guessing stays at the recent end, throttled). Pure: time is an
//! argument.

use std::collections::{BTreeMap, HashMap};
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

/// What failures are counted by: an IPv4 address or an IPv6 /64.
type Source = crate::ratelimit::SourceKey;

#[derive(Debug)]
struct Entry {
    failures: u32,
    window_start: Instant,
    /// When it last failed, in [`Throttle::tick`]s (its key in `by_recency`).
    last: u64,
}

/// The per-core table.
#[derive(Debug)]
pub struct Throttle {
    capacity: usize,
    seen: HashMap<Source, Entry>,
    /// Sources by their last failure, least recent first.
    by_recency: BTreeMap<u64, Source>,
    tick: u64,
}

impl Throttle {
    /// A table of at most `capacity` sources.
    pub fn new(capacity: usize) -> Self {
        Throttle { capacity: capacity.max(1), seen: HashMap::new(), by_recency: BTreeMap::new(), tick: 0 }
    }

    /// True when `ip`'s source has used up its failures in the current window.
    pub fn is_throttled(&self, ip: IpAddr, cfg: &ThrottleConfig, now: Instant) -> bool {
        cfg.failures > 0
            && matches!(self.seen.get(&Source::from(ip)), Some(e)
                if e.failures >= cfg.failures && now.duration_since(e.window_start) < cfg.window)
    }

    /// Records a failed authentication from `ip`.
    pub fn failed(&mut self, ip: IpAddr, cfg: &ThrottleConfig, now: Instant) {
        if cfg.failures == 0 {
            return;
        }
        let source = Source::from(ip);
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.seen.get_mut(&source) {
            self.by_recency.remove(&e.last);
            e.last = tick;
            if now.duration_since(e.window_start) >= cfg.window {
                (e.failures, e.window_start) = (0, now);
            }
            e.failures += 1;
        } else {
            if self.seen.len() >= self.capacity {
                if let Some((_, oldest)) = self.by_recency.pop_first() {
                    self.seen.remove(&oldest);
                }
            }
            self.seen.insert(source, Entry { failures: 1, window_start: now, last: tick });
        }
        self.by_recency.insert(tick, source);
    }

    /// Sources tracked.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when no source is tracked.
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
    fn an_ipv6_host_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        let cfg = ThrottleConfig { failures: 2, window: Duration::from_secs(10), penalty: Duration::ZERO };
        let mut t = Throttle::new(100);
        let now = Instant::now();
        let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
        // Two guesses from two addresses of one /64: that /64 is throttled.
        t.failed(ip("2001:db8:1:2::1"), &cfg, now);
        t.failed(ip("2001:db8:1:2:ffff::9"), &cfg, now);
        assert!(t.is_throttled(ip("2001:db8:1:2:abcd::1"), &cfg, now));
        assert!(!t.is_throttled(ip("2001:db8:1:3::1"), &cfg, now), "another /64");
        t.failed(ip("::ffff:10.0.0.7"), &cfg, now);
        t.failed(ip("10.0.0.7"), &cfg, now);
        assert!(t.is_throttled(ip("10.0.0.7"), &cfg, now));
        assert!(!t.is_throttled(ip("10.0.0.8"), &cfg, now), "IPv4 stays per address");
    }

    #[test]
    fn a_full_table_forgets_the_least_recent_source_not_the_guesser() {
        let cfg = ThrottleConfig { failures: 3, window: Duration::from_secs(60), penalty: Duration::ZERO };
        let mut t = Throttle::new(16);
        let now = Instant::now();
        let guesser: IpAddr = "192.0.2.1".parse().expect("ip");
        for i in 0..1000u32 {
            // The guesser keeps trying (a throttled attempt counts as a failure too)
            // while a thousand other addresses fail once each.
            if i % 8 == 0 {
                t.failed(guesser, &cfg, now);
            }
            t.failed(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), &cfg, now);
            assert!(t.len() <= 16);
        }
        assert!(t.is_throttled(guesser, &cfg, now), "the table was flushed under the guesser");
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
