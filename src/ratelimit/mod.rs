//! Rate and count limits, pure (time is an argument, no locks, no I/O): a token
//! bucket ([`TokenBucket`]) for connect rates and per-client publish rates, and
//! connection counts per source address ([`PerSource`], keyed like the
//! failed-auth throttle: an IPv4 address or an IPv6 /64). Where they are kept and
//! shared (per listener, per core, per session) is the runtime's business.

mod bucket;
mod per_source;

pub use bucket::{Rate, TokenBucket};
pub use per_source::{PerSource, SourceKey};
