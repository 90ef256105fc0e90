//! Reading a PROXY protocol header off a just-accepted socket, on a listener that
//! requires one, and writing one to a broker.
//!
//! The header is consumed exactly: the socket is peeked, [`proxy_protocol::parse`]
//! says how long the header is, and only those bytes are read. What follows (a TLS
//! ClientHello, a CONNECT) stays in the socket for the next layer, so TLS and the
//! MQTT framer need not know a header was there. Bytes that cannot end a header
//! (a v1 line without its CRLF yet) are consumed as they come, so a peek never
//! returns the same incomplete bytes twice; at most the version's maximum is read.
//! Bounded in time by the caller. No interpretation here beyond the parser's.

use crate::proxy_protocol::{self, Accept, Header, HeaderError, Parsed, V2_MAX};
use futures_lite::AsyncReadExt;
use glommio::net::TcpStream;

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
