//! Keep-alive enforcement without a timer per read: each read from the client
//! stamps the time, and one watchdog per connection sleeps until that stamp plus
//! 1.5 × the keep alive [MQTT-3.1.2-22], sleeping again whenever a read moved it.
//!
//! A timer armed and cancelled around every read costs a reactor registration (and
//! an io_uring timeout when the core parks) per read; this costs a clock read.

use crate::session::close::Close;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// The last time the client was heard from.
#[derive(Debug)]
pub struct Watchdog {
    last: Cell<Instant>,
}

impl Default for Watchdog {
    fn default() -> Self {
        Watchdog { last: Cell::new(Instant::now()) }
    }
}

impl Watchdog {
    /// The client sent something.
    #[inline]
    pub fn touch(&self) {
        self.last.set(Instant::now());
    }

    /// Resolves when the client has been silent for 1.5 × `keep_alive` seconds
    /// (read anew each round: it may change at CONNACK; 0 means no limit).
    pub async fn expired(&self, keep_alive: &Cell<u16>) -> Close {
        loop {
            let ka = keep_alive.get();
            if ka == 0 {
                glommio::timer::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let due = self.last.get() + Duration::from_millis(u64::from(ka) * 1500);
            let now = Instant::now();
            if now >= due {
                return Close::KeepAliveTimeout;
            }
            glommio::timer::sleep(due - now).await;
        }
    }
}
