//! A glommio TCP stream whose reads first ask the socket itself.
//!
//! glommio's `TcpStream` reads with a non-blocking `recv`, and after every read that
//! did not fill the buffer it arms a one-shot io_uring poll at once, so the next read
//! waits for that poll to complete, even when the bytes are already there. Under
//! load that is one submission, one completion and one trip through the reactor per
//! read. [`Tcp`] tries a plain non-blocking `recv` first and goes to glommio (which
//! arms the poll and registers the waker) only when the socket has nothing; once a
//! poll is armed, the next read is glommio's again, so a wake-up is never lost.
//! Writes are glommio's as they are (they already try `send` first).
//!
//! A busy direction now loops read → write → read without the reactor, which would
//! starve the core's other sockets: after [`READ_BUDGET`] such reads a socket's
//! next reads go through glommio's poll again, one trip through the reactor.
//! Nothing here knows MQTT or TLS.

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How many reads in a row a socket may serve without a trip through the reactor.
///
/// The reactor (which learns that *other* sockets have bytes) runs only when every
/// task of the core waits or glommio's preemption timer fires, so a socket whose
/// peer never pauses would otherwise starve the core's other connections. With a
/// budget each socket gets at most this many reads per round. Without it, the flood
/// bench's publishers (which always have bytes) held the core while the broker's
/// deliveries to the subscriber waited, and Mosquitto dropped QoS 0 messages.
pub const READ_BUDGET: u8 = 8;

/// A TCP stream of one core.
pub struct Tcp {
    inner: TcpStream,
    /// glommio holds an armed read poll (and our waker) for this socket: the next
    /// read waits for it, through the reactor.
    armed: bool,
    /// Reads served in a row without the reactor.
    streak: u8,
}

impl From<TcpStream> for Tcp {
    fn from(inner: TcpStream) -> Self {
        Tcp { inner, armed: false, streak: 0 }
    }
}

/// One `recv` that does not wait: `None` when the socket has nothing now.
fn try_recv(fd: std::os::fd::RawFd, buf: &mut [u8]) -> Option<io::Result<usize>> {
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes for the whole
    // call, and `fd` is the open socket the caller owns.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n >= 0 {
        return Some(Ok(n as usize));
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock => None,
        io::ErrorKind::Interrupted => None,
        _ => Some(Err(e)),
    }
}

impl AsyncRead for Tcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.armed && this.streak < READ_BUDGET && !buf.is_empty() {
            if let Some(r) = try_recv(this.inner.as_raw_fd(), buf) {
                this.streak += 1;
                return Poll::Ready(r);
            }
        }
        // glommio's read: a `recv` when no poll is armed, and a poll armed when that
        // did not fill `buf` (or found nothing, then the waker waits on it).
        let spent = this.streak >= READ_BUDGET;
        this.streak = 0;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.armed = match &r {
            Poll::Pending => true,
            // The budget is spent: the next read waits for the poll glommio armed
            // after this partial one, so the reactor runs before it.
            Poll::Ready(Ok(n)) => spent && *n > 0 && *n < buf.len(),
            Poll::Ready(Err(_)) => false,
        };
        r
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
    use glommio::net::TcpListener;

    /// A connected pair on loopback: (ours, the peer's).
    async fn pair() -> (Tcp, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let ours = TcpStream::connect(addr).await.expect("connect");
        let peer = listener.accept().await.expect("accept");
        (ours.into(), peer)
    }

    /// Runs the future `f` makes on an executor of its own.
    fn on_a_core<T, Fut>(f: impl FnOnce() -> Fut + Send + 'static) -> T
    where
        T: Send + 'static,
        Fut: std::future::Future<Output = T> + 'static,
    {
        glommio::LocalExecutorBuilder::default().spawn(f).expect("executor").join().expect("join")
    }

    #[test]
    fn a_read_with_nothing_there_waits_and_is_woken_by_the_bytes() {
        let (first, armed, second, armed_after, eof) = on_a_core(|| async {
            let (mut ours, mut peer) = pair().await;
            let mut buf = [0u8; 64];
            // Nothing sent yet: the read must wait (glommio's poll armed) ...
            let first = future::poll_once(ours.read(&mut buf)).await.is_none();
            let armed = ours.armed;
            // ... and a read after the bytes came gets them (no wake-up lost).
            peer.write_all(b"hello").await.expect("write");
            let n = ours.read(&mut buf).await.expect("read");
            let second = buf[..n].to_vec();
            let armed_after = ours.armed;
            drop(peer);
            let mut rest = Vec::new();
            ours.read_to_end(&mut rest).await.expect("read to end");
            (first, armed, second, armed_after, rest.is_empty())
        });
        assert!(first, "an empty socket's read is pending");
        assert!(armed, "and leaves glommio's poll armed");
        assert_eq!(second, b"hello");
        assert!(!armed_after, "a read that got bytes leaves nothing armed");
        assert!(eof, "the peer's close reads as the end of the stream");
    }

    #[test]
    fn everything_sent_arrives_in_order_through_reads_of_any_size() {
        let got = on_a_core(|| async {
            let (mut ours, mut peer) = pair().await;
            let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let to_send = sent.clone();
            let writer = glommio::spawn_local(async move {
                for chunk in to_send.chunks(1_000) {
                    peer.write_all(chunk).await.expect("write");
                }
            })
            .detach();
            let mut got = Vec::with_capacity(sent.len());
            let mut buf = [0u8; 777];
            while got.len() < sent.len() {
                let n = ours.read(&mut buf).await.expect("read");
                assert!(n > 0, "no early end of stream");
                got.extend_from_slice(&buf[..n]);
            }
            writer.await;
            got == sent
        });
        assert!(got, "the bytes read are the bytes sent, in order");
    }

    #[test]
    fn a_socket_that_always_has_bytes_goes_through_the_reactor_after_its_budget() {
        let (streaks, armed, rest) = on_a_core(|| async {
            let (mut ours, mut peer) = pair().await;
            let total = usize::from(READ_BUDGET) * 20 + 40;
            peer.write_all(&vec![7u8; total]).await.expect("write");
            // Until every byte is in our socket (a peek waits for bytes, not all of them).
            let mut look = vec![0u8; total];
            while ours.inner.peek(&mut look).await.expect("peek") < total {}
            let mut buf = [0u8; 20];
            let mut streaks = Vec::new();
            for _ in 0..READ_BUDGET {
                assert_eq!(ours.read(&mut buf).await.expect("read"), 20);
                streaks.push(ours.streak);
            }
            // The budget is spent: this read waits for the reactor (glommio's poll was
            // still armed), or glommio reads what is left and arms a poll for the next.
            let mut big = [0u8; 64];
            let mut rest = Vec::new();
            let waited = match future::poll_once(ours.read(&mut big)).await {
                None => true,
                Some(r) => {
                    rest.extend_from_slice(&big[..r.expect("read")]);
                    ours.armed
                }
            };
            let streak = ours.streak;
            peer.write_all(b"next").await.expect("write");
            while rest.len() < 44 {
                let n = ours.read(&mut big).await.expect("read");
                rest.extend_from_slice(&big[..n]);
            }
            (streaks, (waited, streak), rest)
        });
        let mut expected = vec![7u8; 40];
        expected.extend_from_slice(b"next");
        assert_eq!(streaks, (1..=READ_BUDGET).collect::<Vec<_>>(), "reads without the reactor are counted");
        assert_eq!(armed, (true, 0), "the read after the budget goes through the reactor");
        assert_eq!(rest, expected, "and nothing was lost");
    }

    #[test]
    fn a_read_dropped_while_waiting_does_not_lose_the_next_bytes() {
        let got = on_a_core(|| async {
            let (mut ours, mut peer) = pair().await;
            let mut buf = [0u8; 16];
            // Start a read, give up on it while it waits (a select's other arm won).
            assert!(future::poll_once(ours.read(&mut buf)).await.is_none());
            peer.write_all(b"after").await.expect("write");
            let n = ours.read(&mut buf).await.expect("read");
            buf[..n].to_vec()
        });
        assert_eq!(got, b"after");
    }
}
