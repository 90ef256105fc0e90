//! Address ranges for route conditions (`source: [10.0.0.0/8, 2001:db8::/32]`): an
//! address and a prefix length; a bare address is a range of one. IPv4-mapped
//! IPv6 addresses match IPv4 ranges. Pure.

use std::net::IpAddr;

/// A range of addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ip` or `ip/prefix`; host bits must be zero (`10.0.0.1/8` is refused:
    /// it usually means a typo).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = ip.parse().map_err(|_| format!("`{s}`: not an IP address or range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => n,
                _ => return Err(format!("`{s}`: prefix length is not 0..={max}")),
            },
        };
        let c = Cidr { net, prefix };
        if !c.contains(net) || c.masked(net) != bits(net) {
            return Err(format!("`{s}`: address has bits set beyond the prefix"));
        }
        Ok(c)
    }

    fn masked(&self, ip: IpAddr) -> u128 {
        let (v, width) = match ip {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        };
        match self.prefix {
            0 => 0,
            p => v & (u128::MAX << (width - u32::from(p))) & (u128::MAX >> (128 - width)),
        }
    }

    /// True when `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.net.is_ipv4() && self.masked(ip) == self.masked(self.net)
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_and_single_addresses() {
        let c = Cidr::parse("192.0.2.0/24").unwrap();
        assert!(c.contains(ip("192.0.2.0")) && c.contains(ip("192.0.2.255")));
        assert!(!c.contains(ip("192.0.3.1")));
        assert!(c.contains(ip("::ffff:192.0.2.9")), "IPv4-mapped");
        assert!(!c.contains(ip("2001:db8::1")));
        let one = Cidr::parse("127.0.0.9").unwrap();
        assert!(one.contains(ip("127.0.0.9")) && !one.contains(ip("127.0.0.10")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/+8", "10.0.0/8", "x", "2001:db8::1/32", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
