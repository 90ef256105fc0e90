//! The HTTP/1.1 upgrade that opens an MQTT-over-WebSocket connection (RFC 6455
//! section 4.2, MQTT 5.0 section 6): `GET <path>` with `Upgrade: websocket`,
//! `Connection: Upgrade`, `Sec-WebSocket-Version: 13`, a 16-byte base64
//! `Sec-WebSocket-Key`, and a `Sec-WebSocket-Protocol` offering `mqtt` (or
//! `mqttv3.1`, the name MQTT 3.1 clients use). Parsed with `httparse` (zero-copy,
//! from the first bytes of the connection, at most [`MAX_REQUEST`] of them).
//! The answer is `101 Switching Protocols` echoing the chosen subprotocol, or an
//! HTTP error that says what was wrong (and nothing else).

use base64::Engine;

/// The largest upgrade request taken (request line and headers).
pub const MAX_REQUEST: usize = 8192;

/// Headers read at most.
const MAX_HEADERS: usize = 32;

/// RFC 6455's GUID, appended to the key for `Sec-WebSocket-Accept`.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// An upgrade the proxy accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Accept` of the answer.
    pub accept: String,
    /// The subprotocol chosen (echoed).
    pub protocol: &'static str,
}

/// The start of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A whole request of `len` bytes; what follows is WebSocket frames.
    Done {
        /// What was asked.
        upgrade: Upgrade,
        /// Bytes the request took.
        len: usize,
    },
    /// More bytes are needed.
    Incomplete,
}

/// Why an upgrade was refused: the HTTP answer says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Not HTTP, or over [`MAX_REQUEST`] bytes or [`MAX_HEADERS`] headers.
    #[error("not an HTTP/1.1 request ({0})")]
    Malformed(&'static str),
    /// Not `GET`.
    #[error("method {0} is not GET")]
    Method(String),
    /// Another path than the listener's.
    #[error("path {0} is not the listener's")]
    Path(String),
    /// A header that must be there is missing or wrong.
    #[error("{0}")]
    Header(&'static str),
    /// A WebSocket version other than 13.
    #[error("WebSocket version is not 13")]
    Version,
    /// No subprotocol the proxy speaks.
    #[error("no `mqtt` subprotocol offered")]
    Subprotocol,
}

impl HandshakeError {
    /// The HTTP answer (status line, headers, empty body), then the connection closes.
    pub fn response(&self) -> &'static [u8] {
        match self {
            HandshakeError::Method(_) => {
                b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            }
            HandshakeError::Path(_) => b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            HandshakeError::Version => {
                b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            }
            _ => b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        }
    }
}

/// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key ‖ GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key);
    ctx.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ctx.finish())
}

/// True when the comma-separated header value lists `token` (case-insensitive).
fn lists(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses the upgrade request at the start of `buf` for a listener on `path`.
pub fn parse(buf: &[u8], path: &str) -> Result<Request, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let window = &buf[..buf.len().min(MAX_REQUEST)];
    let len = match req.parse(window) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_REQUEST => {
            return Err(HandshakeError::Malformed("request over 8 KiB"))
        }
        Ok(httparse::Status::Partial) => return Ok(Request::Incomplete),
        Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::Malformed("over 32 headers")),
        Err(_) => return Err(HandshakeError::Malformed("bad request line or header")),
    };
    if req.version != Some(1) {
        return Err(HandshakeError::Malformed("not HTTP/1.1"));
    }
    let method = req.method.unwrap_or_default();
    if method != "GET" {
        return Err(HandshakeError::Method(method.to_string()));
    }
    let target = req.path.unwrap_or_default();
    // The query string does not choose the endpoint.
    if target.split('?').next() != Some(path) {
        return Err(HandshakeError::Path(target.to_string()));
    }
    let all = &*req.headers;
    let header = |name: &'static str| all.iter().filter(move |h| h.name.eq_ignore_ascii_case(name));
    if !header("upgrade").any(|h| lists(h.value, "websocket")) {
        return Err(HandshakeError::Header("no `Upgrade: websocket`"));
    }
    if !header("connection").any(|h| lists(h.value, "upgrade")) {
        return Err(HandshakeError::Header("no `Connection: Upgrade`"));
    }
    if !header("sec-websocket-version").any(|h| h.value.trim_ascii() == b"13") {
        return Err(HandshakeError::Version);
    }
    let mut keys = header("sec-websocket-key");
    let key = match (keys.next(), keys.next()) {
        (Some(k), None) => k.value.trim_ascii(),
        _ => return Err(HandshakeError::Header("not exactly one Sec-WebSocket-Key")),
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(key);
    if decoded.map(|k| k.len()) != Ok(16) {
        return Err(HandshakeError::Header("Sec-WebSocket-Key is not 16 bytes in base64"));
    }
    // The first subprotocol the client lists that the proxy speaks.
    let offered = header("sec-websocket-protocol").flat_map(|h| h.value.split(|&b| b == b','));
    let protocol = offered
        .map(<[u8]>::trim_ascii)
        .find_map(|p| ["mqtt", "mqttv3.1"].into_iter().find(|m| p == m.as_bytes()))
        .ok_or(HandshakeError::Subprotocol)?;
    Ok(Request::Done { upgrade: Upgrade { accept: accept_key(key), protocol }, len })
}

/// The `101 Switching Protocols` answer to an accepted upgrade.
pub fn response(u: &Upgrade) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: {}\r\n\r\n",
        u.accept, u.protocol
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What MQTT.js (ws, Node) sends, byte for byte apart from the key.
    const MQTTJS: &[u8] = b"GET /mqtt HTTP/1.1\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Connection: Upgrade\r\n\
        Upgrade: websocket\r\n\
        Sec-WebSocket-Protocol: mqtt\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
        Host: 127.0.0.1:8080\r\n\r\n";

    #[test]
    fn rfc_6455_accept_key() {
        // RFC 6455 section 1.3's example.
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn every_prefix_of_a_real_upgrade_is_incomplete() {
        let want = Upgrade { accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(), protocol: "mqtt" };
        for n in 0..MQTTJS.len() {
            assert_eq!(parse(&MQTTJS[..n], "/mqtt"), Ok(Request::Incomplete), "prefix of {n} bytes");
        }
        let mut more = MQTTJS.to_vec();
        more.extend_from_slice(&[0x82, 0x80, 1, 2, 3, 4]); // a first frame right behind
        for input in [MQTTJS, &more[..]] {
            assert_eq!(parse(input, "/mqtt"), Ok(Request::Done { upgrade: want.clone(), len: MQTTJS.len() }));
        }
        let answer = response(&want);
        assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(answer.contains("Sec-WebSocket-Protocol: mqtt\r\n") && answer.ends_with("\r\n\r\n"));
    }

    #[test]
    fn subprotocols_query_and_case() {
        let req = |extra: &str, line: &str| {
            format!("GET {line} HTTP/1.1\r\nHost: x\r\nUPGRADE: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n")
        };
        let chosen = |extra: &str| match parse(req(extra, "/mqtt?x=1").as_bytes(), "/mqtt") {
            Ok(Request::Done { upgrade, .. }) => Ok(upgrade.protocol),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(chosen("Sec-WebSocket-Protocol: wamp, mqtt\r\n"), Ok("mqtt"));
        assert_eq!(chosen("Sec-WebSocket-Protocol: mqttv3.1\r\n"), Ok("mqttv3.1"));
        assert_eq!(chosen("Sec-WebSocket-Protocol: wamp\r\nSec-WebSocket-Protocol: mqtt\r\n"), Ok("mqtt"));
        assert_eq!(chosen(""), Err(HandshakeError::Subprotocol));
        assert_eq!(chosen("Sec-WebSocket-Protocol: MQTT-ish\r\n"), Err(HandshakeError::Subprotocol));
    }

    #[test]
    fn refusals_and_their_answers() {
        let text = String::from_utf8(MQTTJS.to_vec()).unwrap();
        let cases: Vec<(String, HandshakeError, &str)> = vec![
            (text.replace("GET ", "POST "), HandshakeError::Method("POST".into()), "405"),
            (text.replace("/mqtt", "/other"), HandshakeError::Path("/other".into()), "404"),
            (text.replace("Version: 13", "Version: 8"), HandshakeError::Version, "426"),
            (
                text.replace("Upgrade: websocket\r\n", ""),
                HandshakeError::Header("no `Upgrade: websocket`"),
                "400",
            ),
            (
                text.replace("Connection: Upgrade", "Connection: close"),
                HandshakeError::Header("no `Connection: Upgrade`"),
                "400",
            ),
            (
                text.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
                HandshakeError::Header("Sec-WebSocket-Key is not 16 bytes in base64"),
                "400",
            ),
            (text.replace("HTTP/1.1", "HTTP/1.0"), HandshakeError::Malformed("not HTTP/1.1"), "400"),
            (
                "\x10\x0c\0\x04MQTT\x04\x02\0\x3c\0\0".to_string(),
                HandshakeError::Malformed("bad request line or header"),
                "400",
            ),
        ];
        for (req, want, status) in cases {
            let got = parse(req.as_bytes(), "/mqtt");
            assert_eq!(got, Err(want.clone()), "{req:?}");
            assert!(std::str::from_utf8(want.response())
                .unwrap()
                .starts_with(&format!("HTTP/1.1 {status} ")));
        }
        let huge = format!("GET /mqtt HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_REQUEST));
        assert_eq!(parse(huge.as_bytes(), "/mqtt"), Err(HandshakeError::Malformed("request over 8 KiB")));
        let many: String = (0..40).map(|i| format!("X-{i}: y\r\n")).collect();
        let req = format!("GET /mqtt HTTP/1.1\r\n{many}\r\n");
        assert_eq!(parse(req.as_bytes(), "/mqtt"), Err(HandshakeError::Malformed("over 32 headers")));
    }
}
