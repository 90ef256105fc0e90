//! Connections open per source: an IPv4 address (also IPv4-mapped IPv6), or the
//! first 64 bits of an IPv6 address (one host usually holds a whole /64, so
//! counting single IPv6 addresses would let it take a fresh one per connection).
//! The table holds only sources with open connections, so it is bounded by the
//! connections themselves.

use std::collections::HashMap;
use std::net::IpAddr;

/// What connections are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// An IPv4 address.
    V4([u8; 4]),
    /// An IPv6 /64.
    V6([u8; 8]),
}

impl From<IpAddr> for SourceKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => SourceKey::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => SourceKey::V4(v4.octets()),
                None => {
                    let o = a.octets();
                    SourceKey::V6([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

/// Open connections per source.
#[derive(Debug, Default)]
pub struct PerSource(HashMap<SourceKey, usize>);

impl PerSource {
    /// Counts one more connection from `ip` if its source has fewer than `max`.
    pub fn acquire(&mut self, ip: IpAddr, max: usize) -> bool {
        let n = self.0.entry(SourceKey::from(ip)).or_insert(0);
        if *n >= max {
            if *n == 0 {
                self.0.remove(&SourceKey::from(ip));
            }
            return false;
        }
        *n += 1;
        true
    }

    /// One connection from `ip` ended.
    pub fn release(&mut self, ip: IpAddr) {
        let key = SourceKey::from(ip);
        if let Some(n) = self.0.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&key);
            }
        }
    }

    /// Sources with open connections.
    pub fn sources(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_source_and_forgets_empty_ones() {
        let mut p = PerSource::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(p.acquire(a, 2) && p.acquire(a, 2));
        assert!(!p.acquire(a, 2), "a third from the same address");
        assert!(p.acquire("192.0.2.2".parse().unwrap(), 2), "its neighbour is another source");
        // IPv4-mapped IPv6 is the same source; an IPv6 /64 is one source.
        assert!(!p.acquire("::ffff:192.0.2.1".parse().unwrap(), 2));
        assert!(p.acquire("2001:db8::1".parse().unwrap(), 1));
        assert!(!p.acquire("2001:db8::ffff:1".parse().unwrap(), 1), "same /64");
        assert!(p.acquire("2001:db8:0:1::1".parse().unwrap(), 1), "another /64");
        p.release(a);
        assert!(p.acquire(a, 2), "a place came free");
        for ip in [
            a,
            a,
            "192.0.2.2".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
            "2001:db8:0:1::1".parse().unwrap(),
        ] {
            p.release(ip);
        }
        assert_eq!(p.sources(), 0, "nothing kept for sources without connections");
        assert!(!p.acquire(a, 0) && p.sources() == 0);
    }
}
