//! A `ws`/`wss` listener's client connection as a plain MQTT byte stream: the
//! upgrade is answered ([`accept`]), then [`WsStream`] reads frames and yields
//! their unmasked payload, and wraps every write in one binary frame. Everything
//! above it (CONNECT, guard, ACL, routing, validation, the relay) is the same as
//! on TCP. The framing rules are `crate::websocket`'s (pure); here is only the I/O.
//!
//! Bounded: the frame buffer holds at most a partial header or control frame (data
//! payload is passed on as it arrives), the decoded bytes at most one read, the
//! outgoing buffer one write's frame plus answers to control frames (past
//! [`CONTROL_BACKLOG`] of those, reading waits until they are written). A client
//! close is answered and ends the stream; a frame the protocol forbids is answered
//! with its close status and ends it with an error (the session's close reason).

use super::io::Stream;
use crate::websocket::frames::{self, Deframer, Signal};
use crate::websocket::handshake::{self, Request};
use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Bytes read from the socket at a time.
const READ: usize = 4096;

/// Answers to control frames (pongs) held before reading waits for them.
const CONTROL_BACKLOG: usize = 4096;

/// Where the stream stands.
enum State {
    Open,
    /// A close frame is queued: once it is written, reads end (with this error, if
    /// the client broke the protocol).
    Closing(Option<String>),
    Closed,
}

/// An upgraded client connection.
pub struct WsStream {
    inner: Stream,
    /// Frame bytes read and not yet decoded.
    raw: BytesMut,
    /// MQTT bytes decoded and not yet read.
    plain: BytesMut,
    deframer: Deframer,
    /// Frames to write; `sent` of them are written.
    out: Vec<u8>,
    sent: usize,
    state: State,
}

impl WsStream {
    /// The socket underneath (TCP or TLS).
    pub fn inner(&self) -> &Stream {
        &self.inner
    }

    /// Writes what `out` holds.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            match ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.sent..])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.sent += n,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        self.out.clear();
        self.sent = 0;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Queues a close frame and stops taking data.
    fn close_with(&mut self, code: u16, error: Option<String>) {
        if matches!(self.state, State::Open) {
            frames::close_frame(code, &mut self.out);
            self.state = State::Closing(error);
        }
    }
}

impl AsyncRead for WsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            // Answers to the client's control frames go out while reading.
            if !this.out.is_empty() {
                match this.poll_drain(cx) {
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending if this.out.len() > CONTROL_BACKLOG => return Poll::Pending,
                    _ => {}
                }
            }
            if !this.plain.is_empty() {
                let n = buf.len().min(this.plain.len());
                buf[..n].copy_from_slice(&this.plain.split_to(n));
                return Poll::Ready(Ok(n));
            }
            match this.state {
                State::Open => {}
                State::Closing(_) => {
                    if !this.out.is_empty() {
                        ready!(this.poll_drain(cx))?;
                    }
                    let State::Closing(error) = std::mem::replace(&mut this.state, State::Closed) else {
                        return Poll::Ready(Ok(0));
                    };
                    return Poll::Ready(match error {
                        Some(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                        None => Ok(0),
                    });
                }
                State::Closed => return Poll::Ready(Ok(0)),
            }
            match this.deframer.decode(&mut this.raw, &mut this.plain) {
                Ok(Some(Signal::Ping(payload))) => {
                    frames::pong(&payload, &mut this.out);
                    continue;
                }
                Ok(Some(Signal::Close(code))) => {
                    this.close_with(code.unwrap_or(frames::status::NORMAL), None);
                    continue;
                }
                Err(e) => {
                    this.close_with(e.status(), Some(e.to_string()));
                    continue;
                }
                Ok(None) if !this.plain.is_empty() => continue,
                Ok(None) => {}
            }
            let filled = this.raw.len();
            this.raw.resize(filled + READ, 0);
            let r = Pin::new(&mut this.inner).poll_read(cx, &mut this.raw[filled..]);
            let n = match &r {
                Poll::Ready(Ok(n)) => *n,
                _ => 0,
            };
            this.raw.truncate(filled + n);
            match r {
                Poll::Ready(Ok(0)) => {
                    this.state = State::Closed;
                    return Poll::Ready(Ok(0));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for WsStream {
    /// Frames `buf` whole and returns; the frame is written by this and the next
    /// calls, and by `poll_flush` (every writer of a session flushes).
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if !matches!(this.state, State::Open) {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        frames::binary(buf, &mut this.out);
        // Start writing now; what is left goes at the next call or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_drain(cx)
    }

    /// Says goodbye with a normal close frame, then closes the socket.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.close_with(frames::status::NORMAL, None);
        ready!(this.poll_drain(cx))?;
        this.state = State::Closed;
        Pin::new(&mut this.inner).poll_close(cx)
    }
}

/// Answers the upgrade request at the start of `stream` for a listener on `path`:
/// the stream as MQTT bytes, or why not (the client got the HTTP error).
pub async fn accept(mut stream: Stream, path: &str) -> Result<Stream, String> {
    let mut buf = BytesMut::new();
    let upgrade = loop {
        match handshake::parse(&buf, path) {
            Ok(Request::Done { upgrade, len }) => {
                let _ = buf.split_to(len);
                break upgrade;
            }
            Ok(Request::Incomplete) => {}
            Err(e) => {
                let _ = stream.write_all(e.response()).await;
                let _ = stream.close().await;
                return Err(format!("WebSocket upgrade refused: {e}"));
            }
        }
        let filled = buf.len();
        buf.resize(filled + 1024, 0);
        let n = stream.read(&mut buf[filled..]).await.map_err(|e| e.to_string())?;
        buf.truncate(filled + n);
        if n == 0 {
            return Err("closed during the WebSocket upgrade".into());
        }
    };
    let answer = handshake::response(&upgrade);
    stream.write_all(answer.as_bytes()).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
    // Frames that came right behind the request are the first to decode.
    Ok(Stream::Ws(Box::new(WsStream {
        inner: stream,
        raw: buf,
        plain: BytesMut::new(),
        deframer: Deframer::default(),
        out: Vec::new(),
        sent: 0,
        state: State::Open,
    })))
}
