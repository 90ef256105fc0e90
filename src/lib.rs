//! mqtt-proxy: a thread-per-core MQTT 3.1.1 / 5.0 proxy.
//!
//! Map of the crate (see `../shared/DESIGN.md` for the architecture):
//!
//! - [`mqtt`]: the codec. Framing, all packets of 3.1, 3.1.1 and 5.0, properties,
//!   reason codes, topics. Sans-I/O, zero-copy over `bytes::Bytes`.
//! - [`config`]: YAML → environment substitution → validated `Config`, shared
//!   read-only by all cores.
//! - [`session`]: the session state machines (one broker, several brokers), pure:
//!   frames and events in, verdicts and actions out; time is an argument.
//! - [`proxy`]: I/O only: the glommio runtime, one executor per core, SO_REUSEPORT
//!   listeners, the connection driver that carries out the session's decisions.
//!
//! - [`metrics`]: per-core single-writer counters and a Prometheus endpoint.
//! - [`auth`]: JWT guard: verification on `ring` (time is an argument), token cache,
//!   topic ACL templates, throttling.
//! - [`tls`]: rustls (ring) server and client configurations from PEM / PKCS#12.
//! - [`schema`]: payload validation (JSON Schema, Avro, Protobuf, primitives) from
//!   catalogs; pure, compiled into the shared snapshot.
//! - [`registry`]: the Confluent Schema Registry client and its refresh thread
//!   (off the data path).
//! - [`route`]: route rules (trie), rendezvous hashing, mount points (pure).
//! - [`doc`]: YAML / JSON documents we do not own the schema of (Zilla configs,
//!   AsyncAPI) as a tree with lines, read by cursors that name every unread key;
//!   `config::zilla` translates a Zilla `zilla.yaml` with it.
//! - [`proxy_protocol`]: HAProxy's PROXY protocol v1 / v2 headers (pure): who a
//!   balanced connection is from, and the header sent to brokers.
//! - [`ratelimit`]: token buckets and per-source connection counts (pure).
//! - [`websocket`]: MQTT over WebSocket: the HTTP upgrade and the frames (pure).
//! - [`asyncapi`]: AsyncAPI 2.6 / 3.0 documents → listeners, topic ACLs per
//!   direction and payload validators, as native config text (pure).
#![warn(missing_docs)]

pub mod asyncapi;
pub mod auth;
pub mod config;
pub mod doc;
pub mod metrics;
pub mod mqtt;
pub mod proxy;
pub mod proxy_protocol;
pub mod ratelimit;
pub mod registry;
pub mod route;

pub mod schema;
pub mod session;
pub mod tls;
pub mod websocket;
