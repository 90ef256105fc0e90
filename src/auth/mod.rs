//! Authentication: who a client is, from a JWT, checked without I/O.
//!
//! - [`ring_provider`]: the `ring` crypto backend for `jsonwebtoken`.
//! - [`keys`]: verification keys from JWKs, each pinned to one algorithm.
//! - [`jwt`]: token verification against a time passed in by the caller.
//! - [`guard`]: a listener's guard: token location in CONNECT, scopes, refusal.
//! - [`AuthError`]: why a token was refused (for logs and metrics only; clients
//!   all get the same answer).
//!
//! - [`cache`]: the per-core cache of verified tokens.
//! - [`acl`]: topic ACL templates (`devices/{sub}/#`) and their checks.
//! - [`throttle`]: per-address slow-down of repeated authentication failures.
//!
//! Not here (yet): MQTT 5.0 enhanced authentication and re-authentication; see the
//! auth issue's note.

pub mod acl;
pub mod cache;
mod error;
pub mod guard;
pub mod jwt;
pub mod keys;
pub mod ring_provider;
pub mod throttle;

pub use acl::{Acl, AclConfig, Entry, Limits, Template, V3Denied};
pub use cache::TokenCache;
pub use error::AuthError;
pub use guard::{CredentialPattern, Found, Guard, Reject, Sources};
pub use jwt::{Identity, TokenVerifier};
pub use keys::{parse_jwks, Key, KeyError, KeySet};
pub use throttle::{Throttle, ThrottleConfig};
