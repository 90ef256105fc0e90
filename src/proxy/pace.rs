//! `limits.publish_rate` for one session, and its tenant's `max_message_rate`:
//! what the client published in a read is taken from its message and byte buckets
//! (and its tenant's, shared) after it was forwarded; when that puts a
//! bucket in debt, the session either stops reading from the client until the debt
//! is paid (backpressure: TCP makes the client wait, nothing is dropped) or ends
//! with DISCONNECT 0x96 (Message rate too high). One clock read per read of the
//! client's bytes, and none at all without the limit.

use super::keepalive::Watchdog;
use super::tenants::TenantBucket;
use crate::config::PublishRate;
use crate::metrics::{CoreMetrics, Limit};
use crate::ratelimit::TokenBucket;
use crate::session::close::Close;
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// One session's publish buckets.
pub struct Pace {
    messages: Option<RefCell<TokenBucket>>,
    bytes: Option<RefCell<TokenBucket>>,
    disconnect: bool,
    /// The tenant's bucket, shared with its other sessions, and what this session
    /// took from it ahead (a lease: the lock is taken once per lease, not per read).
    tenant: Option<(TenantBucket, Cell<u64>)>,
}

/// Tokens a session takes from its tenant's bucket at a time, beyond what it needs.
const LEASE: u64 = 16;

impl Pace {
    /// Full buckets for `rate` (if any), and the tenant's (if it has one); `None`
    /// when there is nothing to pace.
    pub fn new(rate: Option<&PublishRate>, tenant: Option<TenantBucket>) -> Option<Self> {
        if rate.is_none() && tenant.is_none() {
            return None;
        }
        let now = Instant::now();
        let bucket = |r: Option<crate::ratelimit::Rate>| r.map(|r| RefCell::new(TokenBucket::new(r, now)));
        Some(Pace {
            messages: bucket(rate.and_then(|r| r.messages)),
            bytes: bucket(rate.and_then(|r| r.bytes)),
            disconnect: rate.is_some_and(|r| r.disconnect),
            tenant: tenant.map(|b| (b, Cell::new(0))),
        })
    }

    /// Takes `count` messages from the tenant's bucket (via the lease); the pause.
    fn tenant_debt(&self, count: u64, now: Instant) -> Duration {
        let Some((bucket, credit)) = &self.tenant else { return Duration::ZERO };
        if credit.get() >= count {
            credit.set(credit.get() - count);
            return Duration::ZERO;
        }
        let need = count - credit.get();
        credit.set(LEASE);
        bucket.lock().map_or(Duration::ZERO, |mut b| b.take(need + LEASE, now))
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
        let by_tenant = self.tenant_debt(count, now);
        let (wait, limit) = [
            (by_count, Limit::PublishMessages),
            (by_bytes, Limit::PublishBytes),
            (by_tenant, Limit::TenantMessages),
        ]
        .into_iter()
        .max_by_key(|(w, _)| *w)
        .unwrap_or_default();
        if wait.is_zero() {
            return Ok(wait);
        }
        metrics.limit_hit(limit);
        // The client's own rate may end it; a tenant's is shared: it slows its
        // sessions down, it ends none.
        let own = !by_count.is_zero() || !by_bytes.is_zero();
        match self.disconnect && own {
            true => Err(Close::RateExceeded),
            false => Ok(wait),
        }
    }
}
