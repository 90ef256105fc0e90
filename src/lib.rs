//! mqtt-proxy: a thread-per-core MQTT 3.1.1 / 5.0 proxy.
//!
//! Map of the crate (see `../shared/DESIGN.md` for the architecture):
//!
//! - [`mqtt`]: the codec. Framing, all packets of 3.1, 3.1.1 and 5.0, properties,
//!   reason codes, topics. Sans-I/O, zero-copy over `bytes::Bytes`.
//!
//! Modules still to come (each in its own issue): `config`, `auth`, `route`,
//! `schema`, `asyncapi`, `tls`, `proxy` (the glommio runtime), `metrics`.
#![warn(missing_docs)]

pub mod mqtt;
