//! Configuration: YAML text → environment substitution → raw serde structs (unknown
//! keys rejected) → validated [`Config`], which the runtime shares read-only across
//! cores in one `Arc`.
//!
//! Errors name the key and the line. Nothing here opens sockets; addresses are
//! resolved once, at load. Passwords (upstream, probe) are kept in [`Secret`], whose
//! `Debug` output never shows them. Each section is validated
//! in a file of its own (`listeners.rs`, `upstreams.rs`, `limits.rs`, `guard.rs`,
//! `routes.rs`, `schema.rs`); this one holds the validated types and the order.

pub mod asyncapi;
mod duration;
mod env;
mod guard;
mod limits;
mod listeners;
mod raw;
mod raw_schema;
mod routes;
pub use rates::PublishRate;
mod rates;
mod schema;
pub mod sources;
mod tls;
mod upstreams;
pub mod zilla;

pub use tls::ServerTls;

pub use duration::parse as parse_duration;

use raw::RawConfig;
use serde_saphyr::Spanned;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// A config that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// `${…}` substitution failed.
    #[error("line {line}: {message}")]
    Env {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// YAML syntax, unknown key, or wrong type (serde-saphyr's message has the line).
    #[error("{0}")]
    Parse(String),
    /// A Zilla config key that mqtt-proxy cannot translate, or a Zilla value that
    /// the native config refused (named by its place in the Zilla file).
    #[error("Zilla config {0}")]
    Zilla(crate::doc::DocError),
    /// An AsyncAPI document that cannot be used (or, with `--strict`, a warning).
    #[error("AsyncAPI document {0}")]
    AsyncApi(crate::doc::DocError),
    /// A value that parses but makes no sense.
    #[error("line {line}: {key}: {message}")]
    Invalid {
        /// 1-based line (0 when the key is absent).
        line: u64,
        /// Key path, e.g. `listeners[0].upstream`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A listener, validated.
#[derive(Debug, Clone)]
pub struct Listener {
    /// Name.
    pub name: String,
    /// Bound address (port 0: chosen by the OS at start).
    pub bind: SocketAddr,
    /// Index into [`Config::upstreams`].
    pub upstream: usize,
    /// Index into [`Config::guards`] (none: no authentication).
    pub guard: Option<usize>,
    /// Scopes a client's token must carry.
    pub scopes: Vec<String>,
    /// Topic ACL (none: everything allowed).
    pub acl: Option<crate::auth::AclConfig>,
    /// User name (template) the broker gets instead of the client's.
    pub upstream_username: Option<crate::auth::Template>,
    /// Password the broker gets instead of the client's.
    pub upstream_password: Option<Secret>,
    /// TLS, when the listener is TLS.
    pub tls: Option<ServerTls>,
    /// The PROXY protocol header every connection must start with.
    pub proxy_protocol: Option<crate::proxy_protocol::Accept>,
    /// A verified client certificate's common name from the v2 SSL TLV names the client.
    pub proxy_protocol_tls_identity: bool,
    /// MQTT over WebSocket: the upgrade's path (`None`: plain MQTT).
    pub websocket_path: Option<String>,
    /// New connections per period, all cores together.
    pub connect_rate: Option<crate::ratelimit::Rate>,
}

/// A secret from the config: usable, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A broker server of an upstream.
#[derive(Debug, Clone)]
pub struct Server {
    /// As written in the config (`host:port`).
    pub name: String,
    /// Resolved at load.
    pub addr: SocketAddr,
    /// The name its TLS certificate is checked against.
    pub tls_name: Option<rustls_pki_types::ServerName<'static>>,
}

/// How a client is placed on a server of its upstream group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// Rendezvous hashing of the client id: every proxy picks the same server.
    Hash,
    /// The first server that is up (primary / backups).
    Ordered,
}

/// Health probes, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Time between probes of a server.
    pub interval: Duration,
    /// Time one probe may take.
    pub timeout: Duration,
    /// Consecutive failures before a server is marked down.
    pub failures: u32,
    /// User name of the probe's CONNECT.
    pub username: Option<String>,
    /// Password of the probe's CONNECT.
    pub password: Option<Secret>,
}

/// An upstream group, validated.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Name.
    pub name: String,
    /// Servers.
    pub servers: Vec<Server>,
    /// Placement of clients on servers.
    pub balance: Balance,
    /// Probes (none: a server is tried until a connect fails).
    pub health_check: Option<HealthCheck>,
    /// Per server: true while its probes succeed (written by the health thread).
    pub up: std::sync::Arc<Vec<std::sync::atomic::AtomicBool>>,
    /// TCP connect timeout per server.
    pub connect_timeout: Duration,
    /// TLS to its servers.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// Connections to its servers start with a PROXY protocol v2 header.
    pub proxy_protocol: bool,
}

/// Limits with defaults applied.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest packet from either side, bytes.
    pub max_packet_size: usize,
    /// CONNECT deadline after accept.
    pub connect_timeout: Duration,
    /// Keep-alive cap, seconds (`None`: the client's own value).
    pub keep_alive_max: Option<u16>,
    /// Read chunk, bytes.
    pub read_buffer: usize,
    /// Connections per core.
    pub max_connections_per_core: usize,
    /// Subscriptions (distinct filters) per session (`None`: no limit).
    pub max_subscriptions_per_session: Option<usize>,
    /// Most client → broker topic aliases a 5.0 session is offered.
    pub topic_alias_maximum: u16,
    /// Longest Session Expiry Interval a 5.0 client gets, seconds.
    pub session_expiry_max: Option<u32>,
    /// Connections between accept and CONNACK, all cores together.
    pub max_connecting: Option<usize>,
    /// Open connections per source address (IPv6: per /64), all cores together.
    pub max_connections_per_ip: Option<usize>,
    /// What one client may publish.
    pub publish_rate: Option<PublishRate>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners.
    pub listeners: Vec<Listener>,
    /// Upstreams.
    pub upstreams: Vec<Upstream>,
    /// Limits.
    pub limits: Limits,
    /// Shutdown deadline.
    pub shutdown_timeout: Duration,
    /// Prometheus endpoint address, if enabled.
    pub metrics: Option<SocketAddr>,
    /// JWT guards.
    pub guards: Vec<crate::auth::Guard>,
    /// Payload validation rules with their compiled validators.
    pub schemas: std::sync::Arc<crate::schema::Schemas>,
    /// Registry catalogs (for the refresh threads).
    pub registries: std::sync::Arc<crate::registry::Registries>,
    /// Route rules, compiled.
    pub routes: std::sync::Arc<crate::route::Table>,
    /// Where log lines go.
    pub log_output: LogOutput,
    /// What the config's AsyncAPI documents say that is not applied (logged at start).
    pub warnings: Vec<String>,
    /// The files it was loaded from (`Config::load`; empty for text), for `--watch`.
    pub sources: Vec<std::path::PathBuf>,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard error (the default; stdout carries the `ready` lines).
    Stderr,
    /// Standard output (a Zilla `telemetry` stdout exporter).
    Stdout,
}

/// The documented default config, printed by `--print-default-config`.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.yaml");

const DEFAULT_MAX_PACKET: u64 = 1 << 20;
const MAX_PACKET_LIMIT: u64 = crate::mqtt::MAX_PACKET_SIZE as u64;

impl Config {
    /// Reads and validates a config file (environment from the process): a native
    /// config, or a Zilla `zilla.yaml` (recognised by its `bindings:` key).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let (config, sources) = sources::recording(|| Config::load_file(path));
        config.map(|c| Config { sources, ..c })
    }

    fn load_file(path: &Path) -> Result<Config, ConfigError> {
        sources::note(path);
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let env = |k: &str| std::env::var(k).ok();
        if zilla::is_zilla(&text) {
            return Config::parse_zilla(&text, &env, path.parent());
        }
        Config::parse_in(&text, env, path.parent())
    }

    /// Translates and validates Zilla config text; errors name the Zilla line.
    pub fn parse_zilla(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        base: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let native = zilla::translate(text, &zilla::EnvMode::Resolve(env)).map_err(ConfigError::Zilla)?;
        Config::parse_in(native.text(), |_| None, base).map_err(|e| {
            let (line, message) = match &e {
                ConfigError::Invalid { line, message, .. } => (*line, message.clone()),
                other => (0, other.to_string()),
            };
            let (line, pointer) = native.origin(line).unwrap_or((0, "/".into()));
            ConfigError::Zilla(crate::doc::DocError { line, pointer, message })
        })
    }

    /// The native config a Zilla config translates to, with comments and with its
    /// `${{env.NAME}}` references kept as `${NAME}` (`mqtt-proxy convert`).
    pub fn convert_zilla(text: &str) -> Result<String, ConfigError> {
        let native = zilla::translate(text, &zilla::EnvMode::Keep).map_err(ConfigError::Zilla)?;
        Ok(native.text().to_string())
    }

    /// Validates config text with a given environment.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::parse_in(text, env, None)
    }

    /// Like [`Config::parse`], resolving relative file paths against `base`.
    pub fn parse_in(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
        base: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let text = env::substitute(text, env)?;
        let mut raw: RawConfig =
            serde_saphyr::from_str(&text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let warnings = asyncapi::expand(&mut raw, base)?;
        let mut config = validate(raw, base)?;
        config.warnings = warnings;
        Ok(config)
    }

    /// The token claims a session on `listener` was shaped by (its ACL and upstream
    /// user name templates, every route rule's conditions and templates): a
    /// re-authentication must keep their values, and the subject.
    pub fn identity_claims(&self, listener: usize) -> Vec<String> {
        let mut claims = self.routes.claim_paths();
        let l = &self.listeners[listener];
        let acl = l.acl.iter().flat_map(|a| a.claim_paths());
        for c in acl.chain(l.upstream_username.iter().flat_map(|t| t.claim_paths())) {
            if !claims.iter().any(|x| x == c) {
                claims.push(c.to_string());
            }
        }
        claims
    }

    /// A short human summary (for `--check-config`).
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for l in &self.listeners {
            let u = &self.upstreams[l.upstream];
            let servers: Vec<&str> = u.servers.iter().map(|s| s.name.as_str()).collect();
            s.push_str(&format!(
                "listener {} on {} -> upstream {} [{}]",
                l.name,
                l.bind,
                u.name,
                servers.join(", ")
            ));
            if let Some(g) = l.guard.map(|g| &self.guards[g]) {
                let keys = g.verifier.keys.load().len();
                s.push_str(&format!(", guard {} ({keys} keys), scopes {:?}", g.name, l.scopes));
            }
            s.push('\n');
        }
        if !self.routes.is_empty() {
            let (session, topic) = self.routes.counts();
            s.push_str(&format!("routes: {session} session rules, {topic} topic rules\n"));
        }
        for u in self.upstreams.iter().filter(|u| u.servers.len() > 1 || u.health_check.is_some()) {
            let names: Vec<&str> = u.servers.iter().map(|s| s.name.as_str()).collect();
            s.push_str(&format!(
                "upstream {} [{}] balance={:?} health_check={}\n",
                u.name,
                names.join(", "),
                u.balance,
                u.health_check.as_ref().map_or("off".to_string(), |h| format!("every {:?}", h.interval))
            ));
        }
        if !self.schemas.rules.is_empty() {
            let filters: Vec<&str> = self.schemas.rules.iter().map(|r| r.filter.as_str()).collect();
            s.push_str(&format!(
                "schemas: {} rules [{}], registries {:?}\n",
                filters.len(),
                filters.join(", "),
                self.schemas.registries()
            ));
        }
        s.push_str(&format!(
            "limits: max_packet_size={} connect_timeout={:?} keep_alive_max={:?} read_buffer={} max_connections_per_core={}\n",
            self.limits.max_packet_size,
            self.limits.connect_timeout,
            self.limits.keep_alive_max,
            self.limits.read_buffer,
            self.limits.max_connections_per_core
        ));
        s
    }
}

fn invalid<T>(s: &Spanned<T>, key: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { line: s.referenced.line(), key, message: message.into() }
}

fn validate(raw: RawConfig, base: Option<&Path>) -> Result<Config, ConfigError> {
    let mut guards: Vec<crate::auth::Guard> = Vec::new();
    for (i, g) in raw.guards.iter().enumerate() {
        if guards.iter().any(|x| x.name == g.name.value) {
            return Err(invalid(
                &g.name,
                format!("guards[{i}].name"),
                format!("duplicate guard `{}`", g.name.value),
            ));
        }
        guards.push(guard::validate(i, g, base)?);
    }
    let mut upstreams: Vec<Upstream> = Vec::new();
    for (i, u) in raw.upstreams.iter().enumerate() {
        if upstreams.iter().any(|x| x.name == u.name.value) {
            return Err(invalid(
                &u.name,
                format!("upstreams[{i}].name"),
                format!("duplicate upstream `{}`", u.name.value),
            ));
        }
        upstreams.push(upstreams::validate(i, u, base)?);
    }
    if raw.listeners.is_empty() {
        return Err(ConfigError::Invalid {
            line: 0,
            key: "listeners".into(),
            message: "at least one listener is needed".into(),
        });
    }
    let mut listeners: Vec<Listener> = Vec::new();
    for (i, l) in raw.listeners.iter().enumerate() {
        if listeners.iter().any(|x| x.name == l.name.value) {
            return Err(invalid(
                &l.name,
                format!("listeners[{i}].name"),
                format!("duplicate listener `{}`", l.name.value),
            ));
        }
        listeners.push(listeners::validate(i, l, &upstreams, &guards, base)?);
    }
    let limits = limits::validate(&raw.limits)?;
    let metrics = match &raw.metrics {
        Some(m) => Some(m.bind.value.parse().map_err(|_| {
            invalid(&m.bind, "metrics.bind".into(), format!("`{}` is not an ip:port", m.bind.value))
        })?),
        None => None,
    };
    let (schemas, registries) = schema::compile(&raw.catalogs, &raw.schemas, base)?;
    let routes = routes::compile(&raw.routes, &listeners, &upstreams, !guards.is_empty())?;
    let log_output = match &raw.log_output {
        None => LogOutput::Stderr,
        Some(s) if s.value == "stderr" => LogOutput::Stderr,
        Some(s) if s.value == "stdout" => LogOutput::Stdout,
        Some(s) => {
            return Err(invalid(s, "log_output".into(), format!("`{}`: use stderr or stdout", s.value)))
        }
    };
    Ok(Config {
        warnings: Vec::new(),
        sources: Vec::new(),
        log_output,
        listeners,
        upstreams,
        limits,
        shutdown_timeout: raw.shutdown_timeout.map_or(Duration::from_secs(5), |d| d.0),
        metrics,
        guards,
        schemas: std::sync::Arc::new(schemas),
        registries: std::sync::Arc::new(registries),
        routes: std::sync::Arc::new(routes),
    })
}

#[cfg(test)]
mod tests;
