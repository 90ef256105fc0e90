//! Keep-alive enforcement without a timer per read: each read from the client
//! stamps the time, and one watchdog per connection sleeps until that stamp plus
//! 1.5 × the keep alive [MQTT-3.1.2-22], sleeping again whenever a read moved it.
//!
//! A timer armed and cancelled around every read costs a reactor registration (and
//! an io_uring timeout when the core parks) per read; this costs a clock read.
//! Keep alive 0 means no limit: once the broker's CONNACK has settled the value (a
//! 5.0 Server Keep Alive may set one), such a watchdog never wakes again, so a
//! silent fleet with keep alive 0 costs no wake-ups.

use crate::session::close::Close;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// How often an unsettled keep alive of 0 is looked at again (until CONNACK).
const UNSETTLED_RECHECK: Duration = Duration::from_secs(1);

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

/// What the watchdog does next.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// The client has been silent too long.
    Expired,
    /// Look again after this long.
    Sleep(Duration),
    /// No limit, and it can no longer change.
    Never,
}

/// The decision, apart from the clock and the timers: `keep_alive` in seconds,
/// `settled` once CONNACK went by (the keep alive cannot change after it).
fn next(keep_alive: u16, settled: bool, last: Instant, now: Instant) -> Next {
    if keep_alive == 0 {
        return if settled { Next::Never } else { Next::Sleep(UNSETTLED_RECHECK) };
    }
    let due = last + Duration::from_millis(u64::from(keep_alive) * 1500);
    if now >= due {
        Next::Expired
    } else {
        Next::Sleep(due - now)
    }
}

impl Watchdog {
    /// The client sent something.
    #[inline]
    pub fn touch(&self) {
        self.last.set(Instant::now());
    }

    /// Resolves when the client has been silent for 1.5 × `keep_alive` seconds
    /// (read anew each round: it may change at CONNACK, after which `settled` is
    /// true; 0 means no limit).
    pub async fn expired(&self, keep_alive: &Cell<u16>, settled: impl Fn() -> bool) -> Close {
        loop {
            match next(keep_alive.get(), settled(), self.last.get(), Instant::now()) {
                Next::Expired => return Close::KeepAliveTimeout,
                Next::Sleep(d) => {
                    glommio::timer::sleep(d).await;
                }
                Next::Never => return std::future::pending().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_past_one_and_a_half_keep_alives_expires() {
        let t0 = Instant::now();
        assert_eq!(
            next(10, true, t0, t0 + Duration::from_millis(14_999)),
            Next::Sleep(Duration::from_millis(1))
        );
        assert_eq!(next(10, true, t0, t0 + Duration::from_secs(15)), Next::Expired);
        assert_eq!(next(10, false, t0, t0), Next::Sleep(Duration::from_secs(15)));
    }

    #[test]
    fn keep_alive_zero_sleeps_until_connack_then_never_wakes() {
        let t0 = Instant::now();
        let late = t0 + Duration::from_secs(86_400);
        assert_eq!(next(0, false, t0, late), Next::Sleep(UNSETTLED_RECHECK), "CONNACK may still set one");
        assert_eq!(next(0, true, t0, late), Next::Never, "no limit, for good: no wake-ups");
    }
}
