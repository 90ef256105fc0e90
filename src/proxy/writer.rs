//! The one way bytes are written to a socket of a session, used by the
//! single-broker relay and the multi-broker driver alike: whole buffers, flushed
//! (a TLS stream may hold records back until asked), one writer at a time when
//! several tasks share the socket, with a flag that says a packet is half written
//! (so a final DISCONNECT is never interleaved with it).
//!
//! A writer may have no socket (a broker link that is closed or being re-opened);
//! writes then fail, and [`Writer::epoch`] tells a write's outcome from one that
//! belongs to an earlier connection. No MQTT here.

use super::io::Shared;
use futures_lite::AsyncWrite;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Writes to one socket of a session.
pub struct Writer {
    sock: RefCell<Option<Shared>>,
    /// One writer at a time, when several tasks write here.
    turns: Option<Turns>,
    busy: Cell<bool>,
    epoch: Cell<u64>,
}

impl Writer {
    /// A writer on `sock`; `shared`: several tasks write to it.
    pub fn new(sock: Option<Shared>, shared: bool) -> Self {
        Writer {
            sock: RefCell::new(sock),
            turns: shared.then(Turns::default),
            busy: Cell::new(false),
            epoch: Cell::new(0),
        }
    }

    /// True while a write is half done.
    pub fn busy(&self) -> bool {
        self.busy.get()
    }

    /// Counts the sockets this writer has had.
    pub fn epoch(&self) -> u64 {
        self.epoch.get()
    }

    /// Puts another socket (or none) under the writer.
    pub fn replace(&self, sock: Option<Shared>) {
        *self.sock.borrow_mut() = sock;
        self.epoch.set(self.epoch.get() + 1);
    }

    /// Writes all of `b` and flushes. A hand-written future of a few words: it
    /// sits in every connection task's state (one per relay direction), where the
    /// nested `async` version took a few hundred bytes.
    pub fn write<'a>(&'a self, b: &'a [u8]) -> Write<'a> {
        Write { w: self, b, sock: None, turn: false }
    }
}

/// The future of [`Writer::write`].
pub struct Write<'a> {
    w: &'a Writer,
    /// What is left to write.
    b: &'a [u8],
    /// The socket, once the turn is ours (`None` before).
    sock: Option<Shared>,
    /// This write holds the writer's turn.
    turn: bool,
}

impl Write<'_> {
    /// Ends the write: the turn goes back, the writer is no longer half-way.
    fn done(&mut self, r: io::Result<()>) -> Poll<io::Result<()>> {
        self.w.busy.set(false);
        self.sock = None;
        self.release();
        Poll::Ready(r)
    }

    fn release(&mut self) {
        if std::mem::take(&mut self.turn) {
            if let Some(t) = &self.w.turns {
                t.give_back();
            }
        }
    }
}

impl Future for Write<'_> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.sock.is_none() {
            if this.b.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if let Some(t) = &this.w.turns {
                if !t.try_take(cx) {
                    return Poll::Pending;
                }
                this.turn = true;
            }
            let Some(s) = this.w.sock.borrow().clone() else {
                return this.done(Err(io::ErrorKind::NotConnected.into()));
            };
            this.sock = Some(s);
            this.w.busy.set(true);
        }
        let Some(s) = this.sock.as_mut() else { return this.done(Err(io::ErrorKind::NotConnected.into())) };
        while !this.b.is_empty() {
            match Pin::new(&mut *s).poll_write(cx, this.b) {
                Poll::Ready(Ok(0)) => return this.done(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => this.b = &this.b[n..],
                Poll::Ready(Err(e)) => return this.done(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        match Pin::new(s).poll_flush(cx) {
            Poll::Ready(r) => this.done(r),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Write<'_> {
    /// A write dropped half-way keeps the writer marked busy (no goodbye may follow
    /// half a packet) but gives the turn back.
    fn drop(&mut self) {
        self.release();
    }
}

/// Whose turn it is to write: a flag and the tasks waiting for it (a connection has
/// at most a handful). A few bytes in the connection's task, where a semaphore's
/// acquire future took a hundred.
#[derive(Default)]
struct Turns {
    taken: Cell<bool>,
    waiting: RefCell<Vec<Waker>>,
}

impl Turns {
    /// Takes the turn if it is free; otherwise `cx` is woken when it is given back.
    fn try_take(&self, cx: &Context<'_>) -> bool {
        if !self.taken.get() {
            self.taken.set(true);
            return true;
        }
        let mut w = self.waiting.borrow_mut();
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        false
    }

    /// Gives the turn back. Every waiter looks again (one of them takes it): a
    /// waiter that was cancelled meanwhile cannot swallow the wake-up meant for another.
    fn give_back(&self) {
        self.taken.set(false);
        for w in std::mem::take(&mut *self.waiting.borrow_mut()) {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn one_turn_at_a_time_and_a_cancelled_waiter_does_not_block_the_next() {
        let turns = Turns::default();
        let count = Arc::new(Count(Default::default()));
        let (a, b) = (Waker::from(count.clone()), Waker::from(Arc::new(Count(Default::default()))));
        let (cx_a, cx_b) = (Context::from_waker(&a), Context::from_waker(&b));
        assert!(turns.try_take(&cx_a), "a free turn is taken");
        assert!(!turns.try_take(&cx_b), "a held turn is not");
        assert!(!turns.try_take(&cx_a));
        assert!(!turns.try_take(&cx_a));
        assert_eq!(turns.waiting.borrow().len(), 2, "one waker per task, however often it asks");
        // b gives up (its write was cancelled) and never asks again.
        turns.give_back();
        assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 1, "a was woken too, not only b");
        assert!(turns.try_take(&cx_a), "and gets the turn");
    }
}
