//! The PROXY protocol (HAProxy's, versions 1 and 2): the header an L4 balancer
//! puts in front of a connection's bytes to say whom the connection is really
//! from, and the v2 header the proxy sends to a broker for the same reason.
//!
//! Pure: bytes in, a [`Header`] and how many bytes it took out (or
//! [`Parsed::Incomplete`] when more are needed, or a [`HeaderError`]); no I/O, no
//! clock. The reading side (`proxy::preamble`) peeks at the socket, asks
//! [`parse`], and consumes exactly the header, so what follows it (a TLS
//! ClientHello, a CONNECT) stays in the socket for the next layer.
//!
//! Which version a listener takes is configured ([`Accept`]), never guessed from a
//! connection that might not carry a header: a client that could send
//! `PROXY TCP4 …` itself to a listener without a balancer would choose its own
//! address. Checked strictly: v1 lines at most 107 bytes with canonical addresses
//! and ports, v2 headers at most [`V2_MAX`] bytes with the address block their
//! family needs and well-formed TLVs. Not here: CRC32c checking of the v2
//! checksum TLV (accepted unchecked; the balancer is a trusted neighbour).

mod v1;
mod v2;

pub use v2::{encode as encode_v2, encode_local as encode_v2_local};

use std::net::SocketAddr;

/// The longest v1 line, `PROXY` to CRLF (spec, section 2.1).
pub const V1_MAX: usize = 107;

/// The longest v2 header the proxy takes: 16 fixed bytes, the 216-byte UNIX
/// address block, and room for TLVs (the size the spec suggests a receiver
/// reads into).
pub const V2_MAX: usize = 536;

/// The v2 signature, the first 12 bytes of every v2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Which header versions a listener takes (one is required on every connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Text lines (`send-proxy`).
    V1,
    /// Binary headers (`send-proxy-v2`).
    V2,
    /// Either, told apart by their first bytes.
    Any,
}

impl Accept {
    /// `v1`, `v2` or `any`, as in the config.
    pub fn parse(s: &str) -> Option<Accept> {
        match s {
            "v1" => Some(Accept::V1),
            "v2" => Some(Accept::V2),
            "any" => Some(Accept::Any),
            _ => None,
        }
    }

    /// The most bytes a header of an accepted version can take.
    pub fn max_len(self) -> usize {
        match self {
            Accept::V1 => V1_MAX,
            Accept::V2 | Accept::Any => V2_MAX,
        }
    }
}

/// What a header says about its connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// The client's address and the address it connected to; `None` for a v2
    /// LOCAL connection (the balancer's own, e.g. a health check), v1 `UNKNOWN`,
    /// and families that are not TCP over IP: the socket's own addresses stand.
    pub addresses: Option<(SocketAddr, SocketAddr)>,
    /// What the balancer's TLS termination saw (v2 `PP2_TYPE_SSL`).
    pub tls: Option<TlsInfo>,
}

/// The v2 SSL TLV: the client's TLS connection as the balancer saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsInfo {
    /// The client connected over TLS (`PP2_CLIENT_SSL`).
    pub ssl: bool,
    /// It presented a certificate, on this connection or its session
    /// (`PP2_CLIENT_CERT_CONN` / `PP2_CLIENT_CERT_SESS`).
    pub client_cert: bool,
    /// The balancer verified that certificate (`verify` field is zero).
    pub verified: bool,
    /// The certificate's subject common name (`PP2_SUBTYPE_SSL_CN`).
    pub common_name: Option<String>,
    /// The TLS version (`PP2_SUBTYPE_SSL_VERSION`), e.g. `TLSv1.3`.
    pub version: Option<String>,
}

impl TlsInfo {
    /// The common name of a certificate the client presented and the balancer
    /// verified: the only case in which it names the client.
    pub fn verified_common_name(&self) -> Option<&str> {
        match (self.ssl, self.client_cert, self.verified) {
            (true, true, true) => self.common_name.as_deref(),
            _ => None,
        }
    }
}

/// The result of looking at the start of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header of `len` bytes.
    Done {
        /// What it says.
        header: Header,
        /// Its length: the first byte after it is the client's.
        len: usize,
    },
    /// More bytes are needed (never more than the version's maximum in all).
    Incomplete,
}

/// Why a header was refused (the connection is closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The bytes are not a header of an accepted version.
    #[error("no PROXY protocol {0} header")]
    Missing(&'static str),
    /// A v1 line longer than 107 bytes.
    #[error("PROXY v1 line longer than 107 bytes")]
    V1TooLong,
    /// A v2 header longer than the proxy takes.
    #[error("PROXY v2 header of {0} bytes (at most 536)")]
    V2TooLong(usize),
    /// A v2 version or command nibble the spec does not define.
    #[error("PROXY v2 version/command byte {0:#04x}")]
    V2Command(u8),
    /// A malformed header (what was wrong).
    #[error("malformed PROXY header: {0}")]
    Malformed(&'static str),
}

/// Looks at the start of `buf` for a header of an accepted version.
pub fn parse(buf: &[u8], accept: Accept) -> Result<Parsed, HeaderError> {
    let v1 = b"PROXY ";
    let is_prefix_of = |sig: &[u8]| sig.starts_with(&buf[..buf.len().min(sig.len())]);
    match accept {
        Accept::V1 => v1::parse(buf),
        Accept::V2 => v2::parse(buf),
        Accept::Any if buf.is_empty() => Ok(Parsed::Incomplete),
        // One byte tells them apart ('P' or '\r'); the parser checks the rest.
        Accept::Any if is_prefix_of(v1) => v1::parse(buf),
        Accept::Any if is_prefix_of(&V2_SIGNATURE) => v2::parse(buf),
        Accept::Any => Err(HeaderError::Missing("v1 or v2")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shorter prefix of a header is incomplete; the whole header (with
    /// anything after it) parses to the same header and length.
    pub(super) fn check_all_prefixes(wire: &[u8], accept: Accept, want: &Header) {
        for n in 0..wire.len() {
            assert_eq!(parse(&wire[..n], accept), Ok(Parsed::Incomplete), "prefix of {n} bytes");
        }
        let mut more = wire.to_vec();
        more.extend_from_slice(b"\x10\x0c\0\x04MQTT");
        for input in [wire, &more[..]] {
            match parse(input, accept) {
                Ok(Parsed::Done { header, len }) => {
                    assert_eq!(len, wire.len());
                    assert_eq!(&header, want);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn any_takes_both_versions_and_nothing_else() {
        let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.2 51000 1883\r\n";
        let want = Header {
            addresses: Some(("192.0.2.1:51000".parse().unwrap(), "198.51.100.2:1883".parse().unwrap())),
            tls: None,
        };
        check_all_prefixes(v1, Accept::Any, &want);
        let v2 = encode_v2(want.addresses.unwrap().0, want.addresses.unwrap().1);
        check_all_prefixes(&v2, Accept::Any, &want);
        // An MQTT CONNECT where a header should be.
        assert_eq!(parse(b"\x10\x0c\0\x04MQTT", Accept::Any), Err(HeaderError::Missing("v1 or v2")));
        assert_eq!(parse(b"PROXZ", Accept::Any), Err(HeaderError::Missing("v1 or v2")));
        // A listener for one version refuses the other.
        assert!(matches!(parse(v1, Accept::V2), Err(HeaderError::Missing("v2"))));
        assert!(matches!(parse(&v2, Accept::V1), Err(HeaderError::Missing("v1"))));
    }

    proptest::proptest! {
        /// Any bytes, with or without a signature in front: a header, incomplete, or
        /// an error; never a panic, never a length past the input or the maximum.
        #[test]
        fn arbitrary_bytes(kind in 0u8..3, tail in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut buf = match kind {
                0 => V2_SIGNATURE.to_vec(),
                1 => b"PROXY ".to_vec(),
                _ => Vec::new(),
            };
            buf.extend_from_slice(&tail);
            for accept in [Accept::V1, Accept::V2, Accept::Any] {
                if let Ok(Parsed::Done { len, .. }) = parse(&buf, accept) {
                    proptest::prop_assert!(len <= buf.len() && len <= accept.max_len());
                }
            }
        }
    }

    #[test]
    fn config_names() {
        assert_eq!(Accept::parse("v1"), Some(Accept::V1));
        assert_eq!(Accept::parse("v2"), Some(Accept::V2));
        assert_eq!(Accept::parse("any"), Some(Accept::Any));
        assert_eq!(Accept::parse("auto"), None);
    }

    #[test]
    fn common_name_only_of_a_verified_certificate() {
        let mut t = TlsInfo {
            ssl: true,
            client_cert: true,
            verified: true,
            common_name: Some("d".into()),
            version: None,
        };
        assert_eq!(t.verified_common_name(), Some("d"));
        t.verified = false;
        assert_eq!(t.verified_common_name(), None);
        t.verified = true;
        t.client_cert = false;
        assert_eq!(t.verified_common_name(), None);
    }
}
