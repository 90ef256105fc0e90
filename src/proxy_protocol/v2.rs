//! PROXY protocol version 2: a 16-byte binary head (signature, version and
//! command, address family, length), the address block of the family, then TLVs.
//! Parsed: the TCP over IPv4 / IPv6 addresses and the SSL TLV (0x20) with its
//! version (0x21) and common name (0x22) sub-TLVs; other TLVs are skipped after
//! their bounds are checked. Encoded: the header the proxy sends a broker.

use super::{Header, HeaderError, Parsed, TlsInfo, V2_MAX, V2_SIGNATURE};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Command nibbles.
const LOCAL: u8 = 0x0;
const PROXY: u8 = 0x1;

/// Address families (high nibble) and their address block sizes.
const AF_UNSPEC: u8 = 0x0;
const AF_INET: u8 = 0x1;
const AF_INET6: u8 = 0x2;
const AF_UNIX: u8 = 0x3;
/// Transport (low nibble): a stream.
const STREAM: u8 = 0x1;

/// TLV types used.
const PP2_TYPE_SSL: u8 = 0x20;
const PP2_SUBTYPE_SSL_VERSION: u8 = 0x21;
const PP2_SUBTYPE_SSL_CN: u8 = 0x22;
/// `client` bits of the SSL TLV.
const PP2_CLIENT_SSL: u8 = 0x01;
const PP2_CLIENT_CERT_CONN: u8 = 0x02;
const PP2_CLIENT_CERT_SESS: u8 = 0x04;

pub(super) fn parse(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let seen = buf.len().min(V2_SIGNATURE.len());
    if buf[..seen] != V2_SIGNATURE[..seen] {
        return Err(HeaderError::Missing("v2"));
    }
    if buf.len() < 16 {
        return Ok(Parsed::Incomplete);
    }
    let (ver_cmd, family) = (buf[12], buf[13]);
    if ver_cmd >> 4 != 2 || (ver_cmd & 0xf) > PROXY {
        return Err(HeaderError::V2Command(ver_cmd));
    }
    let len = 16 + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if len > V2_MAX {
        return Err(HeaderError::V2TooLong(len));
    }
    if buf.len() < len {
        return Ok(Parsed::Incomplete);
    }
    // A LOCAL connection is the balancer's own: whatever follows is ignored.
    if ver_cmd & 0xf == LOCAL {
        return Ok(Parsed::Done { header: Header::default(), len });
    }
    let body = &buf[16..len];
    let block = match family >> 4 {
        AF_UNSPEC => 0,
        AF_INET => 12,
        AF_INET6 => 36,
        AF_UNIX => 216,
        _ => return Err(HeaderError::Malformed("v2 address family")),
    };
    if family & 0xf > 2 {
        return Err(HeaderError::Malformed("v2 transport protocol"));
    }
    if body.len() < block {
        return Err(HeaderError::Malformed("v2 address block shorter than its family"));
    }
    let (addrs, mut tlvs) = body.split_at(block);
    let addresses = match (family >> 4, family & 0xf) {
        (AF_INET, STREAM) => {
            let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(addrs[o], addrs[o + 1], addrs[o + 2], addrs[o + 3]));
            Some((SocketAddr::new(ip(0), be16(&addrs[8..])), SocketAddr::new(ip(4), be16(&addrs[10..]))))
        }
        (AF_INET6, STREAM) => {
            let ip = |o: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&addrs[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            Some((SocketAddr::new(ip(0), be16(&addrs[32..])), SocketAddr::new(ip(16), be16(&addrs[34..]))))
        }
        // UNSPEC, UNIX, datagrams: the socket's own addresses stand.
        _ => None,
    };
    let mut tls = None;
    while !tlvs.is_empty() {
        let (kind, value, rest) = tlv(tlvs)?;
        if kind == PP2_TYPE_SSL {
            tls = Some(ssl(value)?);
        }
        tlvs = rest;
    }
    Ok(Parsed::Done { header: Header { addresses, tls }, len })
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// One TLV: its type, its value and what follows it.
fn tlv(b: &[u8]) -> Result<(u8, &[u8], &[u8]), HeaderError> {
    if b.len() < 3 {
        return Err(HeaderError::Malformed("v2 TLV shorter than its type and length"));
    }
    let len = usize::from(be16(&b[1..]));
    if b.len() < 3 + len {
        return Err(HeaderError::Malformed("v2 TLV overruns the header"));
    }
    Ok((b[0], &b[3..3 + len], &b[3 + len..]))
}

/// The SSL TLV: `client` (1 byte), `verify` (4), then sub-TLVs.
fn ssl(v: &[u8]) -> Result<TlsInfo, HeaderError> {
    if v.len() < 5 {
        return Err(HeaderError::Malformed("v2 SSL TLV shorter than 5 bytes"));
    }
    let client = v[0];
    let mut info = TlsInfo {
        ssl: client & PP2_CLIENT_SSL != 0,
        client_cert: client & (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS) != 0,
        verified: v[1..5] == [0, 0, 0, 0],
        ..TlsInfo::default()
    };
    let mut subs = &v[5..];
    while !subs.is_empty() {
        let (kind, value, rest) = tlv(subs)?;
        let text = || {
            std::str::from_utf8(value)
                .map(str::to_string)
                .map_err(|_| HeaderError::Malformed("v2 SSL sub-TLV is not UTF-8"))
        };
        match kind {
            PP2_SUBTYPE_SSL_VERSION => info.version = Some(text()?),
            PP2_SUBTYPE_SSL_CN => info.common_name = Some(text()?),
            _ => {}
        }
        subs = rest;
    }
    Ok(info)
}

/// The v2 header for a TCP connection from `src` to `dst` (PROXY command, no
/// TLVs). Mixed families are sent as IPv6, the IPv4 side mapped.
pub fn encode(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(52);
    out.extend_from_slice(&V2_SIGNATURE);
    out.push(0x20 | PROXY);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&[AF_INET << 4 | STREAM, 0, 12]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            out.extend_from_slice(&[AF_INET6 << 4 | STREAM, 0, 36]);
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
        }
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out
}

/// The v2 header of a connection the proxy makes on its own behalf (a health
/// probe): LOCAL command, no addresses.
pub fn encode_local() -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..12].copy_from_slice(&V2_SIGNATURE);
    out[12] = 0x20 | LOCAL;
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::check_all_prefixes;
    use super::super::{parse, Accept, Header, HeaderError, Parsed, TlsInfo, V2_SIGNATURE};
    use super::{encode, encode_local};

    fn head(ver_cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut v = V2_SIGNATURE.to_vec();
        v.extend_from_slice(&[ver_cmd, family]);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn tcp4_field_by_field() {
        let wire = [
            0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // signature
            0x21, // version 2, PROXY
            0x11, // AF_INET, STREAM
            0x00, 0x0c, // 12 bytes follow
            192, 0, 2, 1, // source address
            198, 51, 100, 2, // destination address
            0xc7, 0x38, // source port 51000
            0x07, 0x5b, // destination port 1883
        ];
        let addrs = ("192.0.2.1:51000".parse().unwrap(), "198.51.100.2:1883".parse().unwrap());
        check_all_prefixes(&wire, Accept::V2, &Header { addresses: Some(addrs), tls: None });
        assert_eq!(encode(addrs.0, addrs.1), wire, "encode gives the same bytes");
    }

    #[test]
    fn tcp6_and_mixed_families_round_trip() {
        for (s, d) in [("[2001:db8::1]:1", "[2001:db8::2]:65535"), ("10.0.0.1:5", "[::1]:6")] {
            let (s, d) = (s.parse().unwrap(), d.parse().unwrap());
            let wire = encode(s, d);
            assert_eq!(wire.len(), 16 + 36);
            let Ok(Parsed::Done { header, .. }) = parse(&wire, Accept::V2) else { panic!() };
            let (ps, pd) = header.addresses.unwrap();
            assert_eq!((ps.port(), pd.port()), (s.port(), d.port()));
            assert_eq!(ps.ip().to_canonical(), s.ip().to_canonical());
            assert_eq!(pd.ip().to_canonical(), d.ip().to_canonical());
        }
    }

    #[test]
    fn local_and_other_families_keep_the_socket_addresses() {
        // LOCAL: the balancer's health check; its body is ignored.
        check_all_prefixes(&head(0x20, 0x00, &[]), Accept::V2, &Header::default());
        assert_eq!(encode_local().to_vec(), head(0x20, 0x00, &[]));
        check_all_prefixes(&head(0x20, 0x11, &[1, 2, 3]), Accept::V2, &Header::default());
        // UNSPEC, UNIX stream, UDP over IPv4: no addresses taken.
        check_all_prefixes(&head(0x21, 0x00, &[]), Accept::V2, &Header::default());
        check_all_prefixes(&head(0x21, 0x31, &[0; 216]), Accept::V2, &Header::default());
        check_all_prefixes(&head(0x21, 0x12, &[0; 12]), Accept::V2, &Header::default());
    }

    /// What HAProxy's `send-proxy-v2-ssl-cn` sends: the addresses, then an SSL TLV
    /// with the client's certificate's CN.
    #[test]
    fn ssl_tlv_with_common_name() {
        let mut body = vec![127, 0, 0, 7, 127, 0, 0, 1, 0x30, 0x39, 0x07, 0x5b];
        body.extend_from_slice(&[0x04, 0, 1, 0xaa]); // PP2_TYPE_NOOP, skipped
        let mut ssl = vec![0x07, 0, 0, 0, 0]; // SSL | CERT_CONN | CERT_SESS, verified
        ssl.extend_from_slice(&[0x21, 0, 7]);
        ssl.extend_from_slice(b"TLSv1.3");
        ssl.extend_from_slice(&[0x22, 0, 9]);
        ssl.extend_from_slice(b"device-42");
        body.extend_from_slice(&[0x20, 0, ssl.len() as u8]);
        body.extend_from_slice(&ssl);
        let want = Header {
            addresses: Some(("127.0.0.7:12345".parse().unwrap(), "127.0.0.1:1883".parse().unwrap())),
            tls: Some(TlsInfo {
                ssl: true,
                client_cert: true,
                verified: true,
                common_name: Some("device-42".into()),
                version: Some("TLSv1.3".into()),
            }),
        };
        let wire = head(0x21, 0x11, &body);
        check_all_prefixes(&wire, Accept::V2, &want);
        assert_eq!(want.tls.as_ref().unwrap().verified_common_name(), Some("device-42"));
        // verify != 0: the balancer could not verify it.
        let mut unverified = wire.clone();
        let at = wire.len() - ssl.len() + 1;
        unverified[at + 3] = 1;
        let Ok(Parsed::Done { header, .. }) = parse(&unverified, Accept::V2) else { panic!() };
        assert_eq!(header.tls.unwrap().verified_common_name(), None);
    }

    #[test]
    fn malformed_headers_are_refused() {
        let v4 = [0u8; 12];
        let cases: Vec<(Vec<u8>, HeaderError)> = vec![
            (head(0x11, 0x11, &v4), HeaderError::V2Command(0x11)),
            (head(0x22, 0x11, &v4), HeaderError::V2Command(0x22)),
            (head(0x21, 0x41, &v4), HeaderError::Malformed("v2 address family")),
            (head(0x21, 0x13, &v4), HeaderError::Malformed("v2 transport protocol")),
            (head(0x21, 0x21, &v4), HeaderError::Malformed("v2 address block shorter than its family")),
            (
                head(0x21, 0x11, &[&v4[..], &[0x20, 0]].concat()),
                HeaderError::Malformed("v2 TLV shorter than its type and length"),
            ),
            (
                head(0x21, 0x11, &[&v4[..], &[0x20, 0, 9, 1]].concat()),
                HeaderError::Malformed("v2 TLV overruns the header"),
            ),
            (
                head(0x21, 0x11, &[&v4[..], &[0x20, 0, 2, 1, 0]].concat()),
                HeaderError::Malformed("v2 SSL TLV shorter than 5 bytes"),
            ),
            (
                head(0x21, 0x11, &[&v4[..], &[0x20, 0, 9, 1, 0, 0, 0, 0, 0x22, 0, 1, 0xff]].concat()),
                HeaderError::Malformed("v2 SSL sub-TLV is not UTF-8"),
            ),
        ];
        for (wire, want) in cases {
            assert_eq!(parse(&wire, Accept::V2), Err(want));
        }
        // Longer than 536 bytes: refused from the 16-byte head, before the rest came.
        let mut long = head(0x21, 0x11, &[]);
        long[14..16].copy_from_slice(&521u16.to_be_bytes());
        assert_eq!(parse(&long, Accept::V2), Err(HeaderError::V2TooLong(537)));
        long[14..16].copy_from_slice(&520u16.to_be_bytes());
        assert_eq!(parse(&long, Accept::V2), Ok(Parsed::Incomplete));
        assert_eq!(parse(b"\r\n\r\n\0\r\nQUIX", Accept::V2), Err(HeaderError::Missing("v2")));
    }
}
