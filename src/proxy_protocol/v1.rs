//! PROXY protocol version 1: one text line,
//! `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` or `PROXY UNKNOWN …\r\n`,
//! at most 107 bytes. Addresses must be in their canonical text form and ports
//! decimal without leading zeros, as the spec asks of a sender.

use super::{Header, HeaderError, Parsed, V1_MAX};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const PREFIX: &[u8] = b"PROXY ";

pub(super) fn parse(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let seen = buf.len().min(PREFIX.len());
    if buf[..seen] != PREFIX[..seen] {
        return Err(HeaderError::Missing("v1"));
    }
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return match buf.len() >= V1_MAX {
            true => Err(HeaderError::V1TooLong),
            false => Ok(Parsed::Incomplete),
        };
    };
    if lf < PREFIX.len() + 1 || buf[lf - 1] != b'\r' {
        return Err(HeaderError::Malformed("v1 line not ended by CRLF"));
    }
    let line = std::str::from_utf8(&buf[PREFIX.len()..lf - 1])
        .map_err(|_| HeaderError::Malformed("v1 line is not text"))?;
    Ok(Parsed::Done { header: fields(line)?, len: lf + 1 })
}

fn fields(line: &str) -> Result<Header, HeaderError> {
    let mut parts = line.split(' ');
    let v6 = match parts.next() {
        Some("UNKNOWN") => return Ok(Header::default()),
        Some("TCP4") => false,
        Some("TCP6") => true,
        _ => return Err(HeaderError::Malformed("v1 protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeaderError::Malformed("v1 line does not have four address fields"));
    };
    let ip = |s: &str| -> Result<IpAddr, HeaderError> {
        let bad = HeaderError::Malformed("v1 address is not canonical for its protocol");
        match v6 {
            false => s.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| bad),
            true => s.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| bad),
        }
    };
    Ok(Header {
        addresses: Some((SocketAddr::new(ip(src)?, port(sport)?), SocketAddr::new(ip(dst)?, port(dport)?))),
        tls: None,
    })
}

/// A decimal port, 0 to 65535, no sign and no leading zeros.
fn port(s: &str) -> Result<u16, HeaderError> {
    let bad = HeaderError::Malformed("v1 port is not a decimal 0..65535");
    let digits = !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return Err(bad);
    }
    s.parse().map_err(|_| bad)
}

#[cfg(test)]
mod tests {
    use super::super::tests::check_all_prefixes;
    use super::super::{parse, Accept, Header, HeaderError, Parsed};

    fn header(src: &str, dst: &str) -> Header {
        Header { addresses: Some((src.parse().unwrap(), dst.parse().unwrap())), tls: None }
    }

    #[test]
    fn tcp4_tcp6_unknown() {
        // The spec's examples (section 2.1), field by field.
        check_all_prefixes(
            b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
            Accept::V1,
            &header("255.255.255.255:65535", "255.255.255.255:65535"),
        );
        check_all_prefixes(
            b"PROXY TCP6 ffff:f::ffff ::1 65535 0\r\n",
            Accept::V1,
            &header("[ffff:f::ffff]:65535", "[::1]:0"),
        );
        check_all_prefixes(b"PROXY UNKNOWN\r\n", Accept::V1, &Header::default());
        // UNKNOWN may carry anything; it is ignored.
        check_all_prefixes(b"PROXY UNKNOWN ffff:f:: ::1 65535 65535\r\n", Accept::V1, &Header::default());
    }

    #[test]
    fn the_longest_line_is_107_bytes() {
        let longest = b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        assert_eq!(longest.len(), 104);
        check_all_prefixes(
            longest,
            Accept::V1,
            &header(
                "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
                "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
            ),
        );
        let mut endless = b"PROXY UNKNOWN ".to_vec();
        endless.resize(106, b'x');
        assert_eq!(parse(&endless, Accept::V1), Ok(Parsed::Incomplete));
        endless.push(b'x');
        assert_eq!(parse(&endless, Accept::V1), Err(HeaderError::V1TooLong));
        // A CRLF past byte 107 does not count.
        endless.extend_from_slice(b"\r\n");
        assert_eq!(parse(&endless, Accept::V1), Err(HeaderError::V1TooLong));
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"[..], // LF without CR
            b"PROXY \r\n",
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", // two spaces
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",      // v6 address in TCP4
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",      // v4 address in TCP6
            b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", // leading zero
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \xff\r\n",
        ] {
            assert!(
                matches!(parse(bad, Accept::V1), Err(HeaderError::Malformed(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(bad),
                parse(bad, Accept::V1)
            );
        }
        assert_eq!(parse(b"GET / HTTP/1.1\r\n", Accept::V1), Err(HeaderError::Missing("v1")));
        assert_eq!(parse(b"\x10", Accept::V1), Err(HeaderError::Missing("v1")));
    }
}
