//! Routing: which upstream group a session (and each of its publishes and
//! subscriptions) goes to, which server of the group a client lands on, and the
//! topic mount point and client-id prefix that isolate tenants on a shared broker.
//!
//! Pure: rules are compiled once into a [`Table`] that all cores share read-only;
//! lookups take the session's facts (listener, client id, source address, claims)
//! and a topic, and
//! never allocate on the publish path. Server health is an input ([`hash::pick`]
//! takes an `up` predicate); the probes that feed it live in the runtime.

pub mod cidr;
pub mod hash;
pub mod table;
pub mod trie;

pub use table::{Action, Facts, RouteError, RuleSpec, SessionRoute, Table};
