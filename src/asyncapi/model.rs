//! What the proxy takes from an AsyncAPI document, the same for 2.6 and 3.0:
//! MQTT servers, channels as topic filters with the operations clients may do on
//! them, and the messages (payload schemas, content types) they carry.

use crate::doc::DocError;

/// A document, read.
#[derive(Debug, Clone, Default)]
pub struct Api {
    /// `asyncapi` version.
    pub version: String,
    /// `info.title`.
    pub title: String,
    /// MQTT servers.
    pub servers: Vec<Server>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// Security schemes its servers and operations require.
    pub schemes: Vec<Scheme>,
    /// Things read but not applied, or not understood: pointer, line, why.
    pub warnings: Vec<DocError>,
}

/// A security scheme a server or operation requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    /// `type` (`http`, `userPassword`, `apiKey`, `httpApiKey`, `oauth2`, ...).
    pub kind: String,
    /// `in` of an API key (`user`, `password`), `scheme` of `http` (`bearer`).
    pub detail: Option<String>,
    /// Line.
    pub line: u64,
}

/// An MQTT server.
#[derive(Debug, Clone)]
pub struct Server {
    /// Its name in `servers`.
    pub name: String,
    /// Host (variables filled with their defaults).
    pub host: String,
    /// Port (default 1883, 8883 for mqtts).
    pub port: u16,
    /// `mqtts` / `secure-mqtt`.
    pub tls: bool,
    /// Its MQTT binding's `keepAlive` (seconds): the longest a client may ask for.
    pub keep_alive: Option<u16>,
    /// Its MQTT binding's `maximumPacketSize` (bytes).
    pub max_packet_size: Option<u64>,
    /// Its MQTT binding's `sessionExpiryInterval` (seconds, or a schema's `maximum`).
    pub session_expiry: Option<u32>,
    /// Line.
    pub line: u64,
}

/// Who does what on a channel, seen from the clients the document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Clients publish (3.0 `send`, 2.6 `subscribe`: "messages produced by the
    /// application").
    Send,
    /// Clients subscribe (3.0 `receive`, 2.6 `publish`: "messages consumed by the
    /// application").
    Receive,
}

/// A channel.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Its key (2.6: the address; 3.0: the channel id).
    pub id: String,
    /// The address as written, e.g. `lights/{lightId}/measured`.
    pub address: String,
    /// The address as an MQTT filter: every parameter a `+`.
    pub filter: String,
    /// The address as an ACL template: parameters bound to a token claim become
    /// `{sub}` / `{claims.x}`, the others `+`.
    pub template: String,
    /// Operations on it.
    pub operations: Vec<Operation>,
    /// Line.
    pub line: u64,
}

/// An operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Its id (3.0 key, 2.6 `operationId`, or the channel and the action).
    pub id: String,
    /// Send or receive.
    pub action: Action,
    /// Messages it carries (empty: any payload).
    pub messages: Vec<Message>,
    /// Scopes its `security` requirements name.
    pub scopes: Vec<String>,
    /// Its MQTT binding (`qos`, `retain`, `messageExpiryInterval`).
    pub binding: OpBinding,
    /// Line.
    pub line: u64,
}

/// An operation's MQTT binding (asyncapi/bindings `mqtt` 0.2.0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpBinding {
    /// Highest QoS on the channel (publishes above it refused, subscriptions capped).
    pub qos: Option<u8>,
    /// `false`: retained publishes refused.
    pub retain: Option<bool>,
    /// Longest message expiry, seconds.
    pub expiry: Option<u32>,
}

/// A payload schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// JSON Schema (an AsyncAPI Schema Object).
    Json(serde_json::Value),
    /// An Avro schema.
    Avro(serde_json::Value),
    /// Protobuf source text, and the message to check against.
    Protobuf(String, Option<String>),
}

/// A message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its name.
    pub name: String,
    /// Payload schema (none: any payload).
    pub payload: Option<Payload>,
    /// Content Type (the message's, else the document's default).
    pub content_type: Option<String>,
    /// 5.0 User Property checks from its `headers` schema: name and the native
    /// content (a flow mapping: `{model: string, pattern: …}`).
    pub headers: Vec<(String, String)>,
    /// Line.
    pub line: u64,
}
