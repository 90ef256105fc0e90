//! Authentication: who a client is, from a JWT, checked without I/O.
//!
//! - [`ring_provider`]: the `ring` crypto backend for `jsonwebtoken`.
//! - [`keys`]: verification keys from JWKs, each pinned to one algorithm.
//! - [`jwt`]: token verification against a time passed in by the caller.
//! - [`AuthError`]: why a token was refused (for logs and metrics only; clients
//!   all get the same answer).
//!
//! Not here (yet): reading the token out of CONNECT, the per-core cache, topic ACL
//! templates and the hook into the session; see the auth issue's note.

mod error;
pub mod jwt;
pub mod keys;
pub mod ring_provider;

pub use error::AuthError;
pub use jwt::{Identity, TokenVerifier};
pub use keys::{parse_jwks, Key, KeyError};
