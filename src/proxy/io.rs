//! Socket plumbing for one core: a stream shared by the two relay directions, and
//! bounded buffered reads.
//!
//! glommio's `TcpStream` needs `&mut` to read or write, but a connection reads and
//! writes the same socket from two directions. [`Shared`] hands out handles that
//! borrow the stream only inside a single `poll_*` call, which is sound on a
//! single-threaded executor (no borrow is held across an await). A stream is plain
//! TCP or TLS (the TLS state lives with the stream, on the core that accepted it).
//! The socket closes when the last handle is dropped. Nothing here interprets MQTT.

use super::tcp::Tcp;
use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite};
use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A connection's byte stream: plain TCP, or TLS on TCP (either side).
pub enum Stream {
    /// Plain TCP.
    Tcp(Tcp),
    /// TLS accepted from a client.
    TlsServer(Box<futures_rustls::server::TlsStream<Tcp>>),
    /// TLS to a broker.
    TlsClient(Box<futures_rustls::client::TlsStream<Tcp>>),
    /// MQTT over WebSocket from a client (over TCP or TLS): reads and writes are
    /// the MQTT bytes, the frames are `websocket.rs`'s business.
    Ws(Box<super::websocket::WsStream>),
}

impl Stream {
    /// The common name of the client certificate, on a TLS listener that got one.
    pub fn peer_common_name(&self) -> Option<String> {
        match self {
            Stream::TlsServer(s) => {
                let der = s.get_ref().1.peer_certificates()?.first()?;
                crate::tls::subject::common_name(der)
            }
            Stream::Ws(w) => w.inner().peer_common_name(),
            _ => None,
        }
    }

    /// The server name (SNI) a TLS client asked for.
    pub fn server_name(&self) -> Option<String> {
        match self {
            Stream::TlsServer(s) => s.get_ref().1.server_name().map(str::to_string),
            Stream::Ws(w) => w.inner().server_name(),
            _ => None,
        }
    }
}

/// Calls the same method on whichever stream it is.
macro_rules! dispatch {
    ($s:expr, $x:ident => $e:expr) => {
        match $s {
            Stream::Tcp($x) => $e,
            Stream::TlsServer($x) => $e,
            Stream::TlsClient($x) => $e,
            Stream::Ws($x) => $e,
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        dispatch!(self.get_mut(), x => Pin::new(x).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        dispatch!(self.get_mut(), x => Pin::new(x).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self.get_mut(), x => Pin::new(x).poll_flush(cx))
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self.get_mut(), x => Pin::new(x).poll_close(cx))
    }
}

/// A handle to a stream shared by the tasks of one connection on one core.
#[derive(Clone)]
pub struct Shared(Rc<RefCell<Stream>>);

impl Shared {
    /// Wraps a stream.
    pub fn new(s: Stream) -> Self {
        Shared(Rc::new(RefCell::new(s)))
    }
}

impl AsyncRead for Shared {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, buf)
    }
}

impl AsyncWrite for Shared {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_close(cx)
    }
}

impl Shared {
    /// True for an MQTT-over-WebSocket client (its goodbye ends with a close frame).
    pub fn is_websocket(&self) -> bool {
        matches!(&*self.0.borrow(), Stream::Ws(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_size_follows_the_traffic() {
        let r = ReadSize::new(16 * 1024);
        assert_eq!(r.get(), MIN_READ);
        r.after(40);
        assert_eq!(r.get(), MIN_READ, "an idle connection's small packets keep it small");
        for _ in 0..10 {
            let n = r.get();
            r.after(n);
        }
        assert_eq!(r.get(), 16 * 1024, "full reads grow to the maximum");
        r.after(2);
        assert_eq!(r.get(), 16 * 1024, "and it stays there");
    }
}

/// Smallest read; idle connections wait with buffers of this size.
pub const MIN_READ: usize = 512;

/// A read size that starts small and grows: it doubles whenever a read fills it, up
/// to the configured `read_buffer`, and stays there. A connection that never moves
/// more than a few small packets (an idle device) holds a few hundred bytes per
/// direction; a busy one reaches full-size reads after a handful of reads. (Shrinking
/// again after bursts was tried: it multiplied read and write syscalls under load.)
#[derive(Debug)]
pub struct ReadSize {
    now: std::cell::Cell<usize>,
    max: usize,
}

impl ReadSize {
    /// Starts small, grows up to `max`.
    pub fn new(max: usize) -> Self {
        ReadSize { now: std::cell::Cell::new(MIN_READ.min(max)), max }
    }

    /// The next read's size.
    pub fn get(&self) -> usize {
        self.now.get()
    }

    /// Adapts after a read of `n` bytes.
    pub fn after(&self, n: usize) {
        let now = self.now.get();
        if n == now && now < self.max {
            self.now.set((now * 2).min(self.max));
        }
    }
}

/// A core's read scratch: a quiet direction's read that starts with an empty
/// connection buffer lands here and only the bytes that came are copied into a
/// buffer of their size. So an idle device's connection waiting for its next packet
/// holds no read buffer at all (an idle fleet's memory). Borrowed only inside one
/// `poll_read` (never across an await), so every task of the core can use it.
pub struct Scratch(RefCell<Vec<u8>>);

impl Default for Scratch {
    /// Room for one quiet read: only reads of at most [`MIN_READ`] come here.
    fn default() -> Self {
        Scratch(RefCell::new(vec![0; MIN_READ]))
    }
}

/// Reads at most `chunk` more bytes into `buf`; `Ok(0)` at end of stream.
///
/// A busy direction (its reads have grown past [`MIN_READ`]) or one with a partial
/// frame in `buf` reads straight into `buf`: no copy on the hot path. A quiet one
/// with `buf` empty gives the buffer back first and reads through the core's
/// [`Scratch`]: what arrives is copied once into a new buffer of exactly that size,
/// from which frames are then cut without copying. (Going through the scratch on
/// busy directions too cost about 10 % more CPU per message in `scripts/bench.sh`.)
pub async fn read_into(
    s: &mut Shared,
    buf: &mut BytesMut,
    chunk: usize,
    scratch: &Scratch,
) -> io::Result<usize> {
    // Reads that never wait (`tcp.rs`) still leave the core when glommio asks.
    glommio::yield_if_needed().await;
    if !buf.is_empty() || chunk > MIN_READ {
        let filled = buf.len();
        buf.resize(filled + chunk, 0);
        let r = s.read(&mut buf[filled..]).await;
        let n = *r.as_ref().unwrap_or(&0);
        buf.truncate(filled + n);
        return r;
    }
    *buf = BytesMut::new();
    futures_lite::future::poll_fn(|cx| {
        let mut room = scratch.0.borrow_mut();
        let want = chunk.min(room.len());
        match Pin::new(&mut *s).poll_read(cx, &mut room[..want]) {
            Poll::Ready(Ok(n)) => {
                buf.extend_from_slice(&room[..n]);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    })
    .await
}
