//! A minimal blocking HTTP/1.1 client for the schema registry: one `GET` per
//! connection (`Connection: close`), over TCP or rustls TLS, with a timeout on
//! connect, read and write, and a cap on the response size. Understands
//! `Content-Length`, chunked transfer coding, and read-to-close bodies.
//!
//! Not a general HTTP client: no redirects, no keep-alive, no compression.

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Largest response accepted.
const MAX_RESPONSE: usize = 8 << 20;

/// A base URL: `http(s)://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `https`.
    pub tls: bool,
    /// Host name or address (no brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path prefix without trailing `/` (may be empty).
    pub prefix: String,
}

impl Url {
    /// Parses a base URL.
    pub fn parse(s: &str) -> Result<Url, String> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("`{s}`: the URL must start with http:// or https://"));
        };
        let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let default = if tls { 443 } else { 80 };
        let port_of = |p: &str| p.parse::<u16>().map_err(|_| format!("`{s}`: bad port `{p}`"));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| format!("`{s}`: unclosed `[`"))?;
            match after.strip_prefix(':') {
                Some(p) => (h, port_of(p)?),
                None => (h, default),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, port_of(p)?),
                None => (authority, default),
            }
        };
        if host.is_empty() {
            return Err(format!("`{s}`: no host"));
        }
        Ok(Url { tls, host: host.to_string(), port, prefix: prefix.trim_end_matches('/').to_string() })
    }
}

/// An HTTP failure.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connect, TLS, read or write failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The response is not HTTP/1.x as expected.
    #[error("bad response: {0}")]
    Protocol(String),
    /// A status other than 200.
    #[error("HTTP {status}: {body}")]
    Status {
        /// Status code.
        status: u16,
        /// Start of the body.
        body: String,
    },
}

/// Where and how to send requests.
#[derive(Clone)]
pub struct Client {
    /// Base URL.
    pub url: Url,
    /// TLS settings for `https`.
    pub tls: Option<Arc<ClientConfig>>,
    /// Name to verify instead of the URL's host.
    pub server_name: Option<String>,
    /// `Authorization` header value.
    pub authorization: Option<crate::config::Secret>,
    /// Connect/read/write timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `GET {prefix}{path}`; the body of a 200 answer.
    pub fn get(&self, path: &str) -> Result<String, HttpError> {
        let addr = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| HttpError::Protocol(format!("{} resolves to nothing", self.url.host)))?;
        let tcp = TcpStream::connect_timeout(&addr, self.timeout)?;
        tcp.set_read_timeout(Some(self.timeout))?;
        tcp.set_write_timeout(Some(self.timeout))?;
        let mut req = format!(
            "GET {}{path} HTTP/1.1\r\nHost: {}:{}\r\nAccept: application/vnd.schemaregistry.v1+json, application/json\r\nConnection: close\r\nUser-Agent: mqtt-proxy\r\n",
            if self.url.prefix.is_empty() { String::new() } else { format!("/{}", self.url.prefix) },
            self.url.host,
            self.url.port
        );
        if let Some(a) = &self.authorization {
            req.push_str(&format!("Authorization: {}\r\n", a.0));
        }
        req.push_str("\r\n");
        let raw = match (&self.tls, self.url.tls) {
            (_, false) => exchange(tcp, req.as_bytes())?,
            (None, true) => return Err(HttpError::Protocol("https needs `tls` settings".into())),
            (Some(cfg), true) => {
                let name = self.server_name.clone().unwrap_or_else(|| self.url.host.clone());
                let name = ServerName::try_from(name)
                    .map_err(|e| HttpError::Protocol(format!("bad TLS server name: {e}")))?;
                let conn = ClientConnection::new(cfg.clone(), name)
                    .map_err(|e| HttpError::Protocol(format!("TLS: {e}")))?;
                exchange(StreamOwned::new(conn, tcp), req.as_bytes())?
            }
        };
        parse(&raw)
    }
}

fn exchange(mut s: impl Read + Write, req: &[u8]) -> Result<Vec<u8>, HttpError> {
    s.write_all(req)?;
    s.flush()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > MAX_RESPONSE {
                    return Err(HttpError::Protocol("response too large".into()));
                }
                if complete(&out) {
                    break;
                }
            }
            // A TLS peer that closes without close_notify: what we have is checked below.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// True once a Content-Length body is all there (saves waiting for the close).
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| raw.len() >= end + 4 + n)
}

/// Parses a whole response; the body of a 200.
pub fn parse(raw: &[u8]) -> Result<String, HttpError> {
    let bad = |m: &str| HttpError::Protocol(m.to_string());
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") {
        return Err(bad(&format!("status line `{status_line}`")));
    }
    let status: u16 = code.parse().map_err(|_| bad(&format!("status line `{status_line}`")))?;
    let (mut length, mut chunked) = (None, false);
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(v.trim().parse::<usize>().map_err(|_| bad("bad Content-Length"))?)
            }
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest).ok_or_else(|| bad("bad chunked body"))?
    } else if let Some(n) = length {
        rest.get(..n).ok_or_else(|| bad("body shorter than Content-Length"))?.to_vec()
    } else {
        rest.to_vec()
    };
    let body = String::from_utf8(body).map_err(|_| bad("body is not UTF-8"))?;
    if status != 200 {
        return Err(HttpError::Status { status, body: body.chars().take(200).collect() });
    }
    Ok(body)
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://127.0.0.1:8081/apis/ccompat/v7/").expect("url");
        assert_eq!(
            u,
            Url { tls: false, host: "127.0.0.1".into(), port: 8081, prefix: "apis/ccompat/v7".into() }
        );
        let u = Url::parse("https://registry.example.com").expect("url");
        assert_eq!((u.tls, u.port, u.prefix.as_str()), (true, 443, ""));
        assert_eq!(Url::parse("http://[::1]:9/").expect("v6").host, "::1");
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://x:99999").is_err());
    }

    #[test]
    fn responses() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse(ok).expect("ok"), "{}");
        assert!(complete(ok));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";
        assert_eq!(parse(chunked).expect("chunked"), "abcd");
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 18\r\n\r\n{\"error_code\":404}";
        assert!(matches!(parse(missing), Err(HttpError::Status { status: 404, .. })));
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").is_err());
        assert!(parse(b"garbage").is_err());
    }
}
