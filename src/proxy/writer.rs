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
use futures_lite::AsyncWriteExt;
use glommio::sync::Semaphore;
use std::cell::{Cell, RefCell};
use std::io;

/// Writes to one socket of a session.
pub struct Writer {
    sock: RefCell<Option<Shared>>,
    /// One writer at a time, when several tasks write here.
    turns: Option<Semaphore>,
    busy: Cell<bool>,
    epoch: Cell<u64>,
}

impl Writer {
    /// A writer on `sock`; `shared`: several tasks write to it.
    pub fn new(sock: Option<Shared>, shared: bool) -> Self {
        Writer {
            sock: RefCell::new(sock),
            turns: shared.then(|| Semaphore::new(1)),
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

    /// Writes all of `b` and flushes.
    pub async fn write(&self, b: &[u8]) -> io::Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        let _turn = match &self.turns {
            Some(t) => Some(t.acquire_permit(1).await.map_err(|e| io::Error::other(e.to_string()))?),
            None => None,
        };
        let Some(mut s) = self.sock.borrow().clone() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        self.busy.set(true);
        let r = match s.write_all(b).await {
            Ok(()) => s.flush().await,
            Err(e) => Err(e),
        };
        self.busy.set(false);
        r
    }
}
