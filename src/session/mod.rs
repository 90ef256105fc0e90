//! The session core: what the proxy does with every packet of a session, as pure
//! state machines in the style of quinn-proto. Input: a frame from the client or
//! from a broker link (and, for the multi-broker session, link events and the
//! current time); output: verdicts and actions the I/O layer in [`crate::proxy`]
//! carries out. Nothing here touches a socket, an executor or the clock.
//!
//! - [`hop`]: the session of one client with one broker: every frame validated,
//!   forwarded as the same bytes unless the topic ACL, payload validation, a mount
//!   point or the CONNACK rewrite change it ([`Verdict`]).
//! - [`multi`]: a session that spans several brokers (one link per upstream
//!   group): packet-id maps, SUBSCRIBE fan-out and SUBACK merging, per-link keep
//!   alive, background re-opening with backoff, in-flight accounting on link loss,
//!   CONNACK combining and the client's Receive Maximum across links.
//! - [`authorize`], [`refuse`], [`mount`]: the ACL, the answers to refused
//!   publishes, mount points; [`close`]: why a session ended and what each side is told.
//!
//! Where the data goes: verdicts and actions go back to the driver
//! (`proxy::relay` for one broker, `proxy::multi` for several), which writes them.

pub mod authorize;
pub mod close;
pub mod hop;
pub(crate) mod mount;
pub mod multi;
pub mod refuse;
#[cfg(test)]
mod schema_tests;
pub mod verdict;

pub use authorize::Authorizer;
pub use close::{Close, Side};
pub use hop::{Drops, Session};
pub use verdict::{Rejection, Verdict};
