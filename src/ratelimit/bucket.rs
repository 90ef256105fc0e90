//! A token bucket: `rate.count` tokens per `rate.per`, holding at most
//! `rate.burst`, full at the start. Two ways to use it: [`TokenBucket::try_take`]
//! (admit or refuse one event: connects) and [`TokenBucket::take`] (record what
//! already happened, possibly going into debt, and learn how long to pause until
//! the debt is paid: publishes, where pausing the reads is the backpressure).

use std::time::{Duration, Instant};

/// A configured rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per `per`.
    pub count: u64,
    /// The period.
    pub per: Duration,
    /// The most tokens held (what may come at once).
    pub burst: u64,
}

/// The bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens per nanosecond.
    refill: f64,
    burst: f64,
    /// Below zero: debt.
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` at `now`.
    pub fn new(rate: Rate, now: Instant) -> Self {
        let per = rate.per.as_nanos().max(1) as f64;
        TokenBucket {
            refill: rate.count as f64 / per,
            burst: rate.burst as f64,
            tokens: rate.burst as f64,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_nanos() as f64;
        self.tokens = (self.tokens + elapsed * self.refill).min(self.burst);
        self.last = self.last.max(now);
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes `n` tokens whether or not they are there; returns how long until the
    /// balance is positive again (zero: no debt).
    pub fn take(&mut self, n: u64, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 || self.refill <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_nanos((-self.tokens / self.refill).ceil().min(u64::MAX as f64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Rate { count: 2, per: S, burst: 3 }, t0);
        assert!(b.try_take(t0) && b.try_take(t0) && b.try_take(t0), "the burst is there at once");
        assert!(!b.try_take(t0), "then it is empty");
        assert!(!b.try_take(t0 + Duration::from_millis(499)), "half a token is not one");
        assert!(b.try_take(t0 + Duration::from_millis(500)), "2 per second: one every 500 ms");
        // A long pause fills it up to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..3).all(|_| b.try_take(later)));
        assert!(!b.try_take(later));
    }

    #[test]
    fn debt_says_how_long_to_pause() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Rate { count: 100, per: S, burst: 100 }, t0);
        assert_eq!(b.take(60, t0), Duration::ZERO);
        assert_eq!(b.take(40, t0), Duration::ZERO, "exactly the burst");
        assert_eq!(b.take(50, t0), Duration::from_millis(500), "50 over at 100/s");
        // After the pause the debt is paid and the next message is free again... almost.
        let d = b.take(1, t0 + Duration::from_millis(500));
        assert_eq!(d, Duration::from_millis(10), "one more token takes 10 ms");
        // Clocks that go backwards (another core's Instant) do not mint tokens.
        let mut c = TokenBucket::new(Rate { count: 1, per: S, burst: 1 }, t0 + S);
        assert!(c.try_take(t0));
        assert!(!c.try_take(t0 + S));
    }
}
