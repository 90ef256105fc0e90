//! The config file as written: serde structs that mirror the YAML, unknown keys
//! rejected, names kept with their line for error messages.
//!
//! No meaning is checked here; `validate` turns these into a [`super::Config`].
//! Every key is documented in `config/README.md`.

use super::duration::Dur;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where clients connect.
    #[serde(default)]
    pub listeners: Vec<RawListener>,
    /// The brokers.
    #[serde(default)]
    pub upstreams: Vec<RawUpstream>,
    /// AsyncAPI documents that add listeners, upstreams, routes and validators.
    #[serde(default)]
    pub asyncapi: Vec<RawAsyncApi>,
    /// Protocol and resource limits.
    #[serde(default)]
    pub limits: RawLimits,
    /// How long a shutdown may take before connections are cut.
    #[serde(default)]
    pub shutdown_timeout: Option<Dur>,
    /// Prometheus endpoint.
    #[serde(default)]
    pub metrics: Option<RawMetrics>,
    /// JWT guards.
    #[serde(default)]
    pub guards: Vec<RawGuard>,
    /// Schema catalogs.
    #[serde(default)]
    pub catalogs: Vec<super::raw_schema::RawCatalog>,
    /// Payload validation rules.
    #[serde(default)]
    pub schemas: Vec<super::raw_schema::RawRule>,
    /// Route rules.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Where log lines go: `stderr` (default) or `stdout`.
    #[serde(default)]
    pub log_output: Option<Spanned<String>>,
}

/// An AsyncAPI document in the config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAsyncApi {
    /// The document (path relative to the config file).
    pub spec: Spanned<String>,
    /// `server` (default: its servers are listeners) or `client` (they are brokers).
    #[serde(default)]
    pub role: Option<Spanned<String>>,
    /// Role server: the upstream the listeners send clients to.
    #[serde(default)]
    pub upstream: Option<Spanned<String>>,
    /// Role server: the guard that authenticates clients (operation scopes apply).
    #[serde(default)]
    pub guard: Option<Spanned<String>>,
    /// Role server: TLS for its `mqtts` servers.
    #[serde(default)]
    pub tls: Option<RawServerTls>,
    /// Role client: the name of the upstream group its servers form.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Channel parameter → token claim (`sub`, `claims.tenant`), for documents that
    /// do not say `x-mqtt-proxy-identity` themselves.
    #[serde(default)]
    pub parameters: std::collections::BTreeMap<String, String>,
    /// Warnings (things read but not applied) are errors.
    #[serde(default)]
    pub strict: bool,
}

/// The metrics endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// `ip:port` serving `GET /metrics`.
    pub bind: Spanned<String>,
}

/// One listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// Unique name (logs, metrics).
    pub name: Spanned<String>,
    /// `ip:port` to bind on every core (SO_REUSEPORT).
    pub bind: Spanned<String>,
    /// Name of the upstream its clients go to.
    pub upstream: Spanned<String>,
    /// Name of the guard that authenticates its clients (none: open).
    #[serde(default)]
    pub guard: Option<Spanned<String>>,
    /// Scopes (roles) a client's token must carry to connect here.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Topic ACL.
    #[serde(default)]
    pub acl: Option<RawAcl>,
    /// User name the broker gets instead of the client's (template).
    #[serde(default)]
    pub upstream_username: Option<Spanned<String>>,
    /// Password the broker gets instead of the client's.
    #[serde(default)]
    pub upstream_password: Option<String>,
    /// TLS on this listener.
    #[serde(default)]
    pub tls: Option<RawServerTls>,
    /// A PROXY protocol header (`v1`, `v2` or `any`) is required before each
    /// connection's bytes: the listener sits behind an L4 balancer.
    #[serde(default)]
    pub proxy_protocol: Option<Spanned<String>>,
    /// With `proxy_protocol` v2: the common name of a client certificate the
    /// balancer verified (SSL TLV) names the client, as a verified certificate on a
    /// TLS listener does.
    #[serde(default)]
    pub proxy_protocol_tls_identity: bool,
    /// MQTT over WebSocket (`ws`; with `tls`, `wss`).
    #[serde(default)]
    pub websocket: Option<RawWebSocket>,
    /// New connections per period, all cores together (CONNACK 0x9F beyond it).
    #[serde(default)]
    pub connect_rate: Option<RawRate>,
}

/// A rate: `rate` per `per` (default 1s), at most `burst` at once (default `rate`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRate {
    /// Events per period.
    pub rate: Spanned<u64>,
    /// The period.
    #[serde(default)]
    pub per: Option<Dur>,
    /// The most at once.
    #[serde(default)]
    pub burst: Option<Spanned<u64>>,
}

/// What one client may publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPublishRate {
    /// PUBLISH packets.
    #[serde(default)]
    pub messages: Option<RawRate>,
    /// Bytes of PUBLISH packets.
    #[serde(default)]
    pub bytes: Option<RawRate>,
    /// `throttle` (default: stop reading until the rate allows) or `disconnect` (0x96).
    #[serde(default)]
    pub action: Option<Spanned<String>>,
}

/// A WebSocket listener.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebSocket {
    /// The HTTP path of the upgrade (default `/mqtt`).
    #[serde(default)]
    pub path: Option<Spanned<String>>,
}

/// A certificate and key: PEM files or a PKCS#12 keystore.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    /// PEM certificate chain.
    #[serde(default)]
    pub cert: Option<String>,
    /// PEM private key.
    #[serde(default)]
    pub key: Option<String>,
    /// PKCS#12 keystore.
    #[serde(default)]
    pub pkcs12: Option<String>,
    /// Keystore password.
    #[serde(default)]
    pub password: Option<String>,
    /// Alias (friendly name) of the key entry in the keystore (default: the first).
    #[serde(default)]
    pub alias: Option<String>,
}

/// A certificate for one SNI name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSniCert {
    /// Host name.
    pub name: String,
    /// Certificate and key.
    #[serde(flatten)]
    pub identity: RawIdentity,
}

/// Client certificate checking.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientAuth {
    /// `required` or `optional`.
    pub mode: Spanned<String>,
    /// CA bundle (PEM).
    pub ca: String,
}

/// A listener's TLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerTls {
    /// Certificate for clients without SNI or with an unknown name.
    #[serde(flatten)]
    pub identity: RawIdentity,
    /// Certificates chosen by SNI.
    #[serde(default)]
    pub sni: Vec<RawSniCert>,
    /// ALPN protocols.
    #[serde(default)]
    pub alpn: Vec<String>,
    /// Handshake deadline.
    #[serde(default)]
    pub handshake_timeout: Option<Dur>,
    /// Client certificates.
    #[serde(default)]
    pub client_auth: Option<RawClientAuth>,
}

/// An upstream's TLS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientTls {
    /// CA bundle (PEM) the brokers' certificates must chain to.
    pub ca: String,
    /// Name to verify instead of each server's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// The proxy's client certificate, if brokers ask for one.
    #[serde(flatten)]
    pub identity: RawIdentity,
}

/// A listener's topic ACL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcl {
    /// Filter templates for publish.
    #[serde(default)]
    pub publish: Option<Vec<Spanned<RawAclEntry>>>,
    /// Filter templates for subscribe.
    #[serde(default)]
    pub subscribe: Option<Vec<Spanned<RawAclEntry>>>,
    /// Required client identifier template.
    #[serde(default)]
    pub client_id: Option<Spanned<String>>,
    /// `drop` (default) or `disconnect`.
    #[serde(default)]
    pub v3_denied_publish: Option<Spanned<String>>,
}

/// An ACL entry: a filter template, or `{filter, scopes, max_qos, retain,
/// max_message_expiry}` (the entry counts only for tokens carrying every scope;
/// the others limit what matches it).
#[derive(Debug, Default)]
pub struct RawAclEntry {
    /// Filter template.
    pub filter: String,
    /// Required scopes.
    pub scopes: Vec<String>,
    /// Highest QoS.
    pub max_qos: Option<u8>,
    /// `false`: retained publishes refused.
    pub retain: Option<bool>,
    /// Longest message expiry, seconds.
    pub max_message_expiry: Option<u32>,
}

const ENTRY_KEYS: &[&str] = &["filter", "scopes", "max_qos", "retain", "max_message_expiry"];

impl<'de> Deserialize<'de> for RawAclEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawAclEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a filter template, or {filter, scopes, max_qos, retain, max_message_expiry}")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawAclEntry, E> {
                Ok(RawAclEntry { filter: s.to_string(), ..RawAclEntry::default() })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<RawAclEntry, A::Error> {
                let mut e = RawAclEntry::default();
                let mut filter = None;
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "filter" => filter = Some(m.next_value::<String>()?),
                        "scopes" => e.scopes = m.next_value::<Vec<String>>()?,
                        "max_qos" => e.max_qos = Some(m.next_value::<u8>()?),
                        "retain" => e.retain = Some(m.next_value::<bool>()?),
                        "max_message_expiry" => e.max_message_expiry = Some(m.next_value::<u32>()?),
                        other => return Err(serde::de::Error::unknown_field(other, ENTRY_KEYS)),
                    }
                }
                e.filter = filter.ok_or_else(|| serde::de::Error::missing_field("filter"))?;
                Ok(e)
            }
        }
        d.deserialize_any(V)
    }
}

/// A JWT guard.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    /// Unique name.
    pub name: Spanned<String>,
    /// Required `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Required audience.
    #[serde(default)]
    pub audience: Option<String>,
    /// Inline JWKs.
    #[serde(default)]
    pub keys: Vec<serde_json::Value>,
    /// A JWKS file (path relative to the config file).
    #[serde(default)]
    pub jwks_file: Option<Spanned<String>>,
    /// How often the JWKS file is checked for changes.
    #[serde(default)]
    pub jwks_refresh: Option<Dur>,
    /// Where the token is: a username pattern with `{credentials}`.
    #[serde(default)]
    pub credentials: Option<Spanned<String>>,
    /// A password pattern with `{credentials}`.
    #[serde(default)]
    pub password: Option<Spanned<String>>,
    /// MQTT 5.0 Authentication Method carrying the token in Authentication Data.
    #[serde(default)]
    pub auth_method: Option<String>,
    /// Allowed clock skew.
    #[serde(default)]
    pub leeway: Option<Dur>,
    /// Claim with the roles (dotted path).
    #[serde(default)]
    pub roles_claim: Option<String>,
    /// Claim with the identity (dotted path).
    #[serde(default)]
    pub identity_claim: Option<String>,
    /// Refuse tokens without the identity claim (default true).
    #[serde(default)]
    pub require_identity: Option<bool>,
    /// `connack` (default) or `close`.
    #[serde(default)]
    pub reject: Option<Spanned<String>>,
    /// Slow-down of repeated failures per source address.
    #[serde(default)]
    pub throttle: Option<RawThrottle>,
}

/// Throttling of repeated authentication failures.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    /// Failures per window before throttling (0: off).
    pub failures: u32,
    /// Window length.
    pub window: Dur,
    /// Delay before answering a throttled client.
    pub penalty: Dur,
}

/// One upstream: a named group of broker servers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// Unique name.
    pub name: Spanned<String>,
    /// `host:port` of each broker server.
    pub servers: Vec<Spanned<String>>,
    /// `hash` (default: rendezvous hashing of the client id) or `ordered`.
    #[serde(default)]
    pub balance: Option<Spanned<String>>,
    /// TCP connect timeout per server.
    #[serde(default)]
    pub connect_timeout: Option<Dur>,
    /// TLS to the brokers.
    #[serde(default)]
    pub tls: Option<RawClientTls>,
    /// Periodic MQTT probes of each server.
    #[serde(default)]
    pub health_check: Option<RawHealthCheck>,
    /// `v2`: every connection to a server starts with a PROXY protocol v2 header
    /// naming the client (probes send a LOCAL one).
    #[serde(default)]
    pub proxy_protocol: Option<Spanned<String>>,
}

/// Health probes of an upstream's servers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    /// Time between probes of a server (default 2s).
    #[serde(default)]
    pub interval: Option<Dur>,
    /// Time a probe may take: TCP connect + CONNECT/CONNACK (default 1s).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Consecutive failures before a server is marked down (default 1).
    #[serde(default)]
    pub failures: Option<u32>,
    /// User name the probe's CONNECT carries (brokers that refuse anonymous clients).
    #[serde(default)]
    pub username: Option<String>,
    /// Password the probe's CONNECT carries (needs `username`).
    #[serde(default)]
    pub password: Option<String>,
}

/// One route rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Listener name(s) it applies to.
    #[serde(default)]
    pub listener: Option<OneOrMany>,
    /// Client-id glob (`*` wildcard).
    #[serde(default)]
    pub client_id: Option<String>,
    /// TLS server name (SNI) glob.
    #[serde(default)]
    pub sni: Option<String>,
    /// Condition: the client's address is in one of these ranges (`10.0.0.0/8`, an address).
    #[serde(default)]
    pub source: Vec<String>,
    /// Claims that must have these values.
    #[serde(default)]
    pub claims: std::collections::BTreeMap<String, String>,
    /// Topic filters for publishes and subscriptions (a topic rule); none: a
    /// session rule.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Topic filters for publishes only.
    #[serde(default)]
    pub publish_topics: Vec<String>,
    /// Topic filters for subscriptions only.
    #[serde(default)]
    pub subscribe_topics: Vec<String>,
    /// Upstream group.
    pub upstream: Spanned<String>,
    /// Mount point template.
    #[serde(default)]
    pub mount: Option<String>,
    /// Client-id prefix template.
    #[serde(default)]
    pub client_id_prefix: Option<String>,
    /// Tenant template (for `max_connections`).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Connections per tenant across all cores.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// PUBLISH packets per period one tenant's sessions may send together (needs `tenant`).
    #[serde(default)]
    pub max_message_rate: Option<RawRate>,
}

/// A name or a list of names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// Limits (all optional; defaults in `validate`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest packet accepted from either side, in bytes (fixed header included).
    pub max_packet_size: Option<Spanned<u64>>,
    /// Time a client has to send CONNECT after the TCP connection opens.
    pub connect_timeout: Option<Dur>,
    /// Largest keep-alive the proxy lets a client use, seconds (also applied to 0).
    pub keep_alive_max: Option<u16>,
    /// Read chunk per connection and direction, bytes.
    pub read_buffer: Option<Spanned<u64>>,
    /// Connections per core; more are refused at accept.
    pub max_connections_per_core: Option<Spanned<u64>>,
    /// Subscriptions (distinct filters) a session may hold; none: no limit.
    pub max_subscriptions_per_session: Option<Spanned<u64>>,
    /// Most client → broker topic aliases a 5.0 session is offered (default 64).
    pub topic_alias_maximum: Option<Spanned<u64>>,
    /// Longest Session Expiry Interval a 5.0 client gets, seconds (none: its own).
    pub session_expiry_max: Option<u32>,
    /// Connections between accept and CONNACK, all cores together.
    pub max_connecting: Option<Spanned<u64>>,
    /// Open connections per source address (IPv6: per /64), all cores together.
    pub max_connections_per_ip: Option<Spanned<u64>>,
    /// What one client may publish.
    pub publish_rate: Option<RawPublishRate>,
}
