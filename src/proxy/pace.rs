//! `limits.publish_rate` for one session: what the client published in a read is
//! taken from its message and byte buckets after it was forwarded; when that puts a
//! bucket in debt, the session either stops reading from the client until the debt
//! is paid (backpressure: TCP makes the client wait, nothing is dropped) or ends
//! with DISCONNECT 0x96 (Message rate too high). One clock read per read of the
//! client's bytes, and none at all without the limit.

use super::keepalive::Watchdog;
use crate::config::PublishRate;
use crate::metrics::{CoreMetrics, Limit};
use crate::ratelimit::TokenBucket;
use crate::session::close::Close;
use std::cell::RefCell;
use std::time::Instant;

/// One session's publish buckets.
pub struct Pace {
    messages: Option<RefCell<TokenBucket>>,
    bytes: Option<RefCell<TokenBucket>>,
    disconnect: bool,
}

impl Pace {
    /// Full buckets for `rate`.
    pub fn new(rate: &PublishRate) -> Self {
        let now = Instant::now();
        let bucket = |r: &Option<crate::ratelimit::Rate>| r.map(|r| RefCell::new(TokenBucket::new(r, now)));
        Pace { messages: bucket(&rate.messages), bytes: bucket(&rate.bytes), disconnect: rate.disconnect }
    }

    /// After a read whose PUBLISH packets (`count`, `bytes` in all) were handled:
    /// pauses until the rate allows more, or ends the session. The pause is boxed
    /// (it is rare, and inline its timer would grow every connection's task).
    /// The client's keep-alive clock restarts after the pause (the silence was the
    /// proxy's doing).
    pub async fn after(
        &self,
        count: u64,
        bytes: u64,
        metrics: &CoreMetrics,
        watchdog: &Watchdog,
    ) -> Result<(), Close> {
        let wait = self.debt(count, bytes, metrics)?;
        if !wait.is_zero() {
            Box::pin(glommio::timer::sleep(wait)).await;
            watchdog.touch();
        }
        Ok(())
    }

    /// Takes what was published; how long to pause (zero: none), or the end.
    fn debt(&self, count: u64, bytes: u64, metrics: &CoreMetrics) -> Result<std::time::Duration, Close> {
        if count == 0 {
            return Ok(Default::default());
        }
        let now = Instant::now();
        let take = |b: &Option<RefCell<TokenBucket>>, n| {
            b.as_ref().map_or(Default::default(), |b| b.borrow_mut().take(n, now))
        };
        let (by_count, by_bytes) = (take(&self.messages, count), take(&self.bytes, bytes));
        let (wait, limit) = match by_count >= by_bytes {
            true => (by_count, Limit::PublishMessages),
            false => (by_bytes, Limit::PublishBytes),
        };
        if wait.is_zero() {
            return Ok(wait);
        }
        metrics.limit_hit(limit);
        match self.disconnect {
            true => Err(Close::RateExceeded),
            false => Ok(wait),
        }
    }
}
