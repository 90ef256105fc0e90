//! Per-connection counters, kept on the connection's core (plain `Cell`s, no atomics)
//! and reported in its close log line; and the per-core limiter of repetitive log
//! lines (payload rejections).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Bytes and packets moved in one direction.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes written to the destination.
    pub bytes: Cell<u64>,
    /// Frames read from the source.
    pub packets: Cell<u64>,
}

/// At most one log line per key and interval; the lines held back are counted and
/// reported with the next one.
#[derive(Debug)]
pub struct LogLimiter {
    every: Duration,
    /// Key → (last line, lines held back since).
    seen: RefCell<HashMap<(usize, u8), (Instant, u64)>>,
}

impl LogLimiter {
    /// One line per key per `every`.
    pub fn new(every: Duration) -> Self {
        LogLimiter { every, seen: RefCell::default() }
    }

    /// `Some(held back)` when a line for `key` may be written now.
    pub fn allow(&self, key: (usize, u8), now: Instant) -> Option<u64> {
        let mut seen = self.seen.borrow_mut();
        match seen.get_mut(&key) {
            Some((last, held)) if now.duration_since(*last) < self.every => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                *last = now;
                Some(std::mem::take(held))
            }
            None => {
                seen.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_and_the_rest_counted() {
        let l = LogLimiter::new(Duration::from_secs(1));
        let t = Instant::now();
        assert_eq!(l.allow((0, 0), t), Some(0));
        assert_eq!(l.allow((0, 0), t + Duration::from_millis(10)), None);
        assert_eq!(l.allow((0, 0), t + Duration::from_millis(20)), None);
        assert_eq!(l.allow((1, 0), t), Some(0), "other keys are independent");
        assert_eq!(l.allow((0, 0), t + Duration::from_secs(2)), Some(2));
    }
}
