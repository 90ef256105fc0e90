//! What a client connection does before its MQTT bytes: the PROXY protocol header
//! on a balanced listener, then the TLS handshake and the WebSocket upgrade where
//! the listener has them.
//!
//! The header is consumed exactly: the socket is peeked, [`proxy_protocol::parse`]
//! says how long the header is, and only those bytes are read. What follows (a TLS
//! ClientHello, a CONNECT) stays in the socket for the next layer, so TLS and the
//! MQTT framer need not know a header was there. Bytes that cannot end a header
//! (a v1 line without its CRLF yet) are consumed as they come, so a peek never
//! returns the same incomplete bytes twice; at most the version's maximum is read.
//! Bounded in time by the caller. No interpretation here beyond the parser's.

use super::io::Stream;
use super::streams::accept_tls;
use super::websocket;
use crate::config::Listener;
use crate::metrics::Refusal;
use crate::proxy_protocol::{self, Accept, Header, HeaderError, Parsed, V2_MAX};
use futures_lite::{future, AsyncReadExt};
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::time::Duration;

/// The client's address, the address it connected to, and the common name of a
/// client certificate the balancer verified (when the listener takes that as
/// identity): from the PROXY header on a balanced listener, else the socket's.
pub async fn balanced_peer(
    listener: &Listener,
    timeout: Duration,
    stream: &mut TcpStream,
    socket_peer: SocketAddr,
) -> Result<(SocketAddr, SocketAddr, Option<String>), String> {
    let local = stream.local_addr().unwrap_or(listener.bind);
    let Some(accept) = listener.proxy_protocol else { return Ok((socket_peer, local, None)) };
    let late = async {
        glommio::timer::sleep(timeout).await;
        Err("timed out".to_string())
    };
    let h = future::or(async { read_header(stream, accept).await.map_err(|e| e.to_string()) }, late).await?;
    let cn = h.tls.as_ref().and_then(|t| t.verified_common_name()).map(str::to_string);
    let (peer, local) = h.addresses.unwrap_or((socket_peer, local));
    Ok((peer, local, cn.filter(|_| listener.proxy_protocol_tls_identity)))
}

/// The TLS handshake and the WebSocket upgrade, where the listener has them; what
/// refused the connection otherwise.
pub async fn handshakes(
    listener: &Listener,
    timeout: Duration,
    stream: TcpStream,
) -> Result<Stream, (Refusal, String)> {
    let s = accept_tls(stream, listener.tls.as_ref()).await.map_err(|e| (Refusal::TlsHandshake, e))?;
    let Some(path) = &listener.websocket_path else { return Ok(s) };
    let late = async {
        glommio::timer::sleep(timeout).await;
        Err("WebSocket upgrade timed out".to_string())
    };
    future::or(websocket::accept(s, path), late).await.map_err(|e| (Refusal::WebSocket, e))
}

/// Why no header was taken.
#[derive(Debug, thiserror::Error)]
pub enum PreambleError {
    /// The socket failed or closed before a whole header came.
    #[error("closed before the PROXY header: {0}")]
    Gone(String),
    /// The bytes were not a header the listener takes.
    #[error(transparent)]
    Header(#[from] HeaderError),
}

/// Reads the header `accept` asks for from the start of `stream`.
pub async fn read_header(stream: &mut TcpStream, accept: Accept) -> Result<Header, PreambleError> {
    let gone = |e: std::io::Error| PreambleError::Gone(e.to_string());
    // Bytes consumed so far (none of them ends a header), then what a peek shows.
    let mut have = [0u8; V2_MAX];
    let mut taken = 0;
    loop {
        let room = accept.max_len() - taken;
        let peeked = stream.peek(&mut have[taken..taken + room]).await.map_err(|e| gone(e.into()))?;
        if peeked == 0 {
            return Err(PreambleError::Gone("end of stream".into()));
        }
        match proxy_protocol::parse(&have[..taken + peeked], accept)? {
            Parsed::Done { header, len } => {
                stream.read_exact(&mut have[taken..len]).await.map_err(gone)?;
                return Ok(header);
            }
            Parsed::Incomplete => {
                stream.read_exact(&mut have[taken..taken + peeked]).await.map_err(gone)?;
                taken += peeked;
            }
        }
    }
}
