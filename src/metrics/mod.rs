//! Metrics: per-core counters and their Prometheus text exposition.
//!
//! Each core owns one [`CoreMetrics`] and is its only writer, so counters are bumped
//! with a relaxed load and store (a plain `mov` on x86, no locked instruction);
//! readers (the exposition thread) may see a value a moment old, never a torn one.
//! Traffic is counted once per relayed batch, not per packet. Cores register their
//! counters once at start-up; the [`http`] thread sums them per request.

mod histogram;
pub mod http;
mod listeners;
mod packets;

pub use histogram::Histogram;
pub use listeners::{ListenerCounters, Listeners};

use crate::auth::AuthError;
use crate::schema::{Direction, Reason};
use crate::session::Close;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A counter with a single writer.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n` (only the owning core calls this).
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// Subtracts `n` (gauges).
    #[inline]
    pub fn sub(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_sub(n), Ordering::Relaxed);
    }

    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a connection was refused before its session started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No CONNECT within the connect timeout.
    ConnectTimeout,
    /// The first packet was not a valid CONNECT (or not CONNECT at all).
    BadConnect,
    /// No upstream server accepted the connection.
    UpstreamUnavailable,
    /// The core's connection limit was reached.
    ConnectionLimit,
    /// The TLS handshake failed or timed out.
    TlsHandshake,
    /// No route could be resolved (missing claim, tenant at its limit).
    Unroutable,
    /// A balanced listener got no valid PROXY protocol header in time.
    ProxyHeader,
    /// A WebSocket listener got no valid upgrade request in time.
    WebSocket,
}

const REFUSALS: [(Refusal, &str); 8] = [
    (Refusal::ConnectTimeout, "connect_timeout"),
    (Refusal::BadConnect, "bad_connect"),
    (Refusal::UpstreamUnavailable, "upstream_unavailable"),
    (Refusal::ConnectionLimit, "connection_limit"),
    (Refusal::TlsHandshake, "tls_handshake"),
    (Refusal::Unroutable, "unroutable"),
    (Refusal::ProxyHeader, "proxy_header"),
    (Refusal::WebSocket, "websocket_upgrade"),
];

/// A limit that was hit (a connection refused, a client paused or disconnected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Limit {
    /// A listener's `connect_rate`.
    #[default]
    ConnectRate,
    /// `limits.max_connecting`.
    Connecting,
    /// `limits.max_connections_per_ip`.
    PerIp,
    /// `limits.publish_rate.messages`.
    PublishMessages,
    /// `limits.publish_rate.bytes`.
    PublishBytes,
    /// A route's `max_message_rate` for its tenant.
    TenantMessages,
}

const LIMITS: [(Limit, &str); 6] = [
    (Limit::ConnectRate, "connect_rate"),
    (Limit::Connecting, "max_connecting"),
    (Limit::PerIp, "max_connections_per_ip"),
    (Limit::PublishMessages, "publish_messages"),
    (Limit::PublishBytes, "publish_bytes"),
    (Limit::TenantMessages, "tenant_messages"),
];

impl Limit {
    /// The metric label (also in logs).
    pub fn label(self) -> &'static str {
        LIMITS.iter().find(|(l, _)| *l == self).map_or("", |(_, s)| s)
    }
}

const CLOSE_LABELS: [&str; 14] = [
    "client_disconnect",
    "client_gone",
    "client_protocol_error",
    "keep_alive_timeout",
    "upstream_disconnect",
    "upstream_gone",
    "upstream_protocol_error",
    "shutdown",
    "token_expired",
    "acl_denied",
    "reauth_failed",
    "invalid_payload",
    "topic_limit",
    "message_rate",
];

/// One core's counters.
#[derive(Debug, Default)]
pub struct CoreMetrics {
    /// Connections accepted.
    pub accepted: Counter,
    /// Connections open now (gauge).
    pub open: Counter,
    refused: [Counter; REFUSALS.len()],
    limit_hits: [Counter; LIMITS.len()],
    /// Messages dropped: ACL (publishes), outside the mount point, broker unavailable.
    dropped: [Counter; 3],
    closed: [Counter; CLOSE_LABELS.len()],
    auth_refused: [Counter; AuthError::ALL.len()],
    /// Bytes client → broker.
    pub bytes_up: Counter,
    /// Bytes broker → client.
    pub bytes_down: Counter,
    /// Packets read from each side, by type.
    pub packets: packets::Packets,
    /// From accept to the CONNECT forwarded to the broker, for admitted clients
    /// (its count is the connections admitted).
    pub admission: Histogram,
    /// Accepted connections that did not become sessions (any refusal, a client
    /// that left or never sent CONNECT).
    pub connects_refused: Counter,
    /// Per listener.
    pub listeners: Listeners,
    /// CONNECTs whose token was found in the core's verified-token cache.
    pub token_cache_hits: Counter,
    /// Publishes refused by a topic ACL.
    pub acl_denied_publish: Counter,
    /// Subscription filters refused by a topic ACL.
    pub acl_denied_subscribe: Counter,
    /// Secondary broker links of multi-broker sessions opened (first time or again).
    pub links_opened: Counter,
    /// Broker links that failed to open.
    pub links_failed: Counter,
    /// Open broker links lost (connection ended, PINGREQ unanswered, closed by the session).
    pub links_lost: Counter,
    /// Messages refused by payload validation: rule × direction × reason.
    schema_rejected: Box<[Counter]>,
}

/// Directions × reasons per validation rule.
const SCHEMA_SLOTS: usize = 2 * Reason::ALL.len();

fn schema_slot(rule: usize, dir: Direction, reason: Reason) -> usize {
    rule * SCHEMA_SLOTS + (dir as usize) * Reason::ALL.len() + reason.index()
}

impl CoreMetrics {
    /// Counts a refusal.
    pub fn refused(&self, r: Refusal) {
        if let Some(i) = REFUSALS.iter().position(|(x, _)| *x == r) {
            self.refused[i].add(1);
        }
    }

    /// Counts what a session refused or dropped since its last report (ACL
    /// counters included: they count as it happens, not at the session's end).
    pub fn session_drops(&self, d: crate::session::Drops) {
        self.acl_denied_publish.add(d.acl_publish);
        self.acl_denied_subscribe.add(d.acl_subscribe);
        self.dropped[0].add(d.acl_publish);
        self.dropped[1].add(d.outside_mount);
    }

    /// Counts QoS 0 publishes dropped because their broker was unavailable.
    pub fn unavailable_drops(&self, n: u64) {
        self.dropped[2].add(n);
    }

    /// Counts a limit hit.
    pub fn limit_hit(&self, l: Limit) {
        if let Some(i) = LIMITS.iter().position(|(x, _)| *x == l) {
            self.limit_hits[i].add(1);
        }
    }

    /// Counts an authentication refusal by its (private) reason.
    pub fn auth_refused(&self, e: AuthError) {
        if let Some(i) = AuthError::ALL.iter().position(|x| *x == e) {
            self.auth_refused[i].add(1);
        }
    }

    /// Counts a message refused by validation rule `rule`.
    pub fn schema_rejected(&self, rule: usize, dir: Direction, reason: Reason) {
        if let Some(c) = self.schema_rejected.get(schema_slot(rule, dir, reason)) {
            c.add(1);
        }
    }

    /// Counts a session end by its reason.
    pub fn closed(&self, c: &Close) {
        if let Some(i) = CLOSE_LABELS.iter().position(|l| *l == c.label()) {
            self.closed[i].add(1);
        }
    }
}

/// All cores' counters, for the exposition thread.
#[derive(Default, Clone)]
pub struct Registry {
    cores: Arc<Mutex<Vec<Arc<CoreMetrics>>>>,
    /// What the config snapshots add (replaced or extended on reload).
    labels: Arc<Mutex<Labels>>,
    /// Config reloads: applied, refused.
    reloads: Arc<[AtomicU64; 2]>,
    /// Open connections by tenant, read at each scrape.
    tenants: Arc<Mutex<Option<TenantCounts>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("labels", &self.labels).field("reloads", &self.reloads).finish()
    }
}

/// Reads every tenant's open connections and connections admitted so far.
pub type TenantCounts = Arc<dyn Fn() -> Vec<(String, usize, u64)> + Send + Sync>;

/// Labels that come from the config.
#[derive(Debug, Default)]
struct Labels {
    /// Topic filters of validation rules, every one any snapshot had, in order of
    /// first appearance: a filter keeps its counters across reloads.
    schema_filters: Vec<String>,
    /// Filters each core has counters for.
    schema_capacity: usize,
    /// The running snapshot's upstream groups: name, servers, health marks.
    upstreams: Arc<Vec<UpstreamHealth>>,
}

/// Validation-rule filters every core has counters for, at least (more when the
/// first config has more than half of this).
const SCHEMA_LABELS_MIN: usize = 256;

/// An upstream group's servers and their health marks.
#[derive(Debug, Clone)]
pub struct UpstreamHealth {
    /// Group name.
    pub name: String,
    /// Server names.
    pub servers: Vec<String>,
    /// True while a server's probes succeed.
    pub up: Arc<Vec<std::sync::atomic::AtomicBool>>,
}

impl Registry {
    /// A registry whose cores count rejections for these validation rules.
    pub fn new(schema_filters: Vec<String>) -> Self {
        let labels = Labels {
            schema_capacity: SCHEMA_LABELS_MIN.max(2 * schema_filters.len()),
            schema_filters,
            upstreams: Arc::default(),
        };
        Registry {
            cores: Arc::default(),
            labels: Arc::new(Mutex::new(labels)),
            reloads: Arc::default(),
            tenants: Arc::default(),
        }
    }

    /// The same registry, also reporting the health marks of these upstreams.
    pub fn with_upstreams(self, upstreams: Vec<UpstreamHealth>) -> Self {
        self.set_upstreams(upstreams);
        self
    }

    /// Reports these upstreams' health marks from now on (a reloaded config's).
    pub fn set_upstreams(&self, upstreams: Vec<UpstreamHealth>) {
        if let Ok(mut l) = self.labels.lock() {
            l.upstreams = Arc::new(upstreams);
        }
    }

    /// The counter index of each of a snapshot's validation rules, by filter: the
    /// same filter always gets the same one. `None` past the counters the cores
    /// have (that rule's refusals are logged but not counted).
    pub fn schema_labels(&self, filters: &[String]) -> Vec<Option<usize>> {
        let Ok(mut l) = self.labels.lock() else { return vec![None; filters.len()] };
        filters
            .iter()
            .map(|f| match l.schema_filters.iter().position(|x| x == f) {
                Some(i) => Some(i),
                None if l.schema_filters.len() < l.schema_capacity => {
                    l.schema_filters.push(f.clone());
                    Some(l.schema_filters.len() - 1)
                }
                None => None,
            })
            .collect()
    }

    /// Where the tenants' connection counts come from.
    pub fn set_tenants(&self, counts: TenantCounts) {
        if let Ok(mut t) = self.tenants.lock() {
            *t = Some(counts);
        }
    }

    /// Counts a config reload, applied or refused.
    pub fn reloaded(&self, applied: bool) {
        self.reloads[usize::from(!applied)].fetch_add(1, Ordering::Relaxed);
    }

    /// Adds a core (once, at start-up) and returns its counters.
    pub fn register(&self) -> Arc<CoreMetrics> {
        let capacity = self.labels.lock().map_or(0, |l| l.schema_capacity);
        let slots = capacity * SCHEMA_SLOTS;
        let m = Arc::new(CoreMetrics {
            schema_rejected: (0..slots).map(|_| Counter::default()).collect(),
            ..CoreMetrics::default()
        });
        if let Ok(mut v) = self.cores.lock() {
            v.push(m.clone());
        }
        m
    }

    /// The Prometheus text exposition of the sums over all cores.
    pub fn render(&self) -> String {
        let cores = self.cores.lock().map(|v| v.clone()).unwrap_or_default();
        let sum = |f: &dyn Fn(&CoreMetrics) -> u64| cores.iter().map(|c| f(c)).sum::<u64>();
        let mut out = String::new();
        type Read = fn(&CoreMetrics) -> u64;
        let simple: [(&str, &str, &str, Read); 13] = [
            ("mqtt_proxy_connections_accepted_total", "counter", "TCP connections accepted.", |c| {
                c.accepted.get()
            }),
            ("mqtt_proxy_connections_open", "gauge", "Connections open now.", |c| c.open.get()),
            ("mqtt_proxy_bytes_up_total", "counter", "Bytes forwarded client to broker.", |c| {
                c.bytes_up.get()
            }),
            ("mqtt_proxy_bytes_down_total", "counter", "Bytes forwarded broker to client.", |c| {
                c.bytes_down.get()
            }),
            ("mqtt_proxy_packets_up_total", "counter", "Packets read from clients.", |c| {
                c.packets.total(true)
            }),
            ("mqtt_proxy_packets_down_total", "counter", "Packets read from brokers.", |c| {
                c.packets.total(false)
            }),
            (
                "mqtt_proxy_token_cache_hits_total",
                "counter",
                "Tokens served from the verified-token cache.",
                |c| c.token_cache_hits.get(),
            ),
            ("mqtt_proxy_cores", "gauge", "Executors (cores) running.", |_| 1),
            ("mqtt_proxy_acl_denied_publish_total", "counter", "Publishes refused by a topic ACL.", |c| {
                c.acl_denied_publish.get()
            }),
            (
                "mqtt_proxy_acl_denied_subscribe_total",
                "counter",
                "Subscription filters refused by a topic ACL.",
                |c| c.acl_denied_subscribe.get(),
            ),
            ("mqtt_proxy_links_opened_total", "counter", "Secondary broker links opened.", |c| {
                c.links_opened.get()
            }),
            ("mqtt_proxy_links_failed_total", "counter", "Broker links that failed to open.", |c| {
                c.links_failed.get()
            }),
            ("mqtt_proxy_links_lost_total", "counter", "Open broker links lost.", |c| c.links_lost.get()),
        ];
        for (name, kind, help, read) in simple {
            let v = sum(&|c| read(c));
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        packets::render(&mut out, &cores.iter().map(|c| &c.packets).collect::<Vec<_>>());
        listeners::render(&mut out, &cores.iter().map(|c| &c.listeners).collect::<Vec<_>>());
        let admitted = cores.iter().map(|c| c.admission.count()).sum::<u64>();
        let _ = writeln!(
            out,
            "# HELP mqtt_proxy_connects_total Accepted connections by result: admitted (a session with its broker) or refused (any refusal, or the client left before it was admitted; reasons in connections_refused_total, auth_refused_total, limit_hits_total).\n# TYPE mqtt_proxy_connects_total counter"
        );
        let _ = writeln!(out, "mqtt_proxy_connects_total{{result=\"admitted\"}} {admitted}");
        let refused = sum(&|c| c.connects_refused.get());
        let _ = writeln!(out, "mqtt_proxy_connects_total{{result=\"refused\"}} {refused}");
        histogram::render(
            &mut out,
            "mqtt_proxy_admission_duration_seconds",
            "From accept to the CONNECT forwarded to the broker (TLS, upgrade, guard, route, upstream connect), for admitted clients.",
            &cores.iter().map(|c| &c.admission).collect::<Vec<_>>(),
        );
        if let Some(tenants) = self.tenants.lock().ok().and_then(|t| t.clone()) {
            let mut counts = tenants();
            counts.sort();
            let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "# HELP mqtt_proxy_tenant_connections_open Connections open now, by tenant (routes with `tenant`).\n# TYPE mqtt_proxy_tenant_connections_open gauge"
            );
            for (name, open, _) in &counts {
                let _ =
                    writeln!(out, "mqtt_proxy_tenant_connections_open{{tenant=\"{}\"}} {open}", escape(name));
            }
            let _ = writeln!(
                out,
                "# HELP mqtt_proxy_tenant_connections_total Connections admitted, by tenant (beyond 10,000 tenants: _other).\n# TYPE mqtt_proxy_tenant_connections_total counter"
            );
            for (name, _, total) in &counts {
                let _ = writeln!(
                    out,
                    "mqtt_proxy_tenant_connections_total{{tenant=\"{}\"}} {total}",
                    escape(name)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP mqtt_proxy_connections_refused_total Connections refused before a session started.\n# TYPE mqtt_proxy_connections_refused_total counter"
        );
        for (i, (_, label)) in REFUSALS.iter().enumerate() {
            let v = sum(&|c| c.refused[i].get());
            let _ = writeln!(out, "mqtt_proxy_connections_refused_total{{reason=\"{label}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP mqtt_proxy_auth_refused_total CONNECTs refused by a guard, by reason (never told to the client).\n# TYPE mqtt_proxy_auth_refused_total counter"
        );
        for (i, e) in AuthError::ALL.iter().enumerate() {
            let v = sum(&|c| c.auth_refused[i].get());
            let _ = writeln!(out, "mqtt_proxy_auth_refused_total{{reason=\"{}\"}} {v}", e.label());
        }
        let _ = writeln!(
            out,
            "# HELP mqtt_proxy_limit_hits_total Connections refused, or clients paused or disconnected, by a configured limit.\n# TYPE mqtt_proxy_limit_hits_total counter"
        );
        for (i, (_, label)) in LIMITS.iter().enumerate() {
            let v = sum(&|c| c.limit_hits[i].get());
            let _ = writeln!(out, "mqtt_proxy_limit_hits_total{{limit=\"{label}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP mqtt_proxy_sessions_closed_total Sessions ended, by reason.\n# TYPE mqtt_proxy_sessions_closed_total counter"
        );
        for (i, label) in CLOSE_LABELS.iter().enumerate() {
            let v = sum(&|c| c.closed[i].get());
            let _ = writeln!(out, "mqtt_proxy_sessions_closed_total{{reason=\"{label}\"}} {v}");
        }
        let (schema_filters, upstreams) = match self.labels.lock() {
            Ok(l) => (l.schema_filters.clone(), l.upstreams.clone()),
            Err(_) => Default::default(),
        };
        let _ = writeln!(
            out,
            "# HELP mqtt_proxy_config_reloads_total Config reloads (SIGHUP, --watch) by result.\n# TYPE mqtt_proxy_config_reloads_total counter"
        );
        for (i, result) in ["applied", "refused"].iter().enumerate() {
            let v = self.reloads[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "mqtt_proxy_config_reloads_total{{result=\"{result}\"}} {v}");
        }
        if !upstreams.is_empty() {
            let _ = writeln!(
                out,
                "# HELP mqtt_proxy_upstream_server_up 1 while the server's health probes succeed (always 1 without health_check).\n# TYPE mqtt_proxy_upstream_server_up gauge"
            );
        }
        for u in upstreams.iter() {
            for (i, server) in u.servers.iter().enumerate() {
                let up = u.up.get(i).is_some_and(|x| x.load(Ordering::Relaxed));
                let _ = writeln!(
                    out,
                    "mqtt_proxy_upstream_server_up{{upstream=\"{}\",server=\"{server}\"}} {}",
                    u.name,
                    u8::from(up)
                );
            }
        }
        if !schema_filters.is_empty() {
            let _ = writeln!(
                out,
                "# HELP mqtt_proxy_schema_rejected_total Messages refused by payload validation, by rule filter, direction and reason.\n# TYPE mqtt_proxy_schema_rejected_total counter"
            );
        }
        let invalid: u64 = sum(&|c| c.schema_rejected.iter().map(Counter::get).sum());
        let _ = writeln!(
            out,
            "# HELP mqtt_proxy_messages_dropped_total Messages the proxy did not pass on, by reason (acl_denied: refused publishes, also answered 0x87 at QoS 1/2; invalid_payload: refused by validation; outside_mount: deliveries outside the session's mount point; broker_unavailable: QoS 0 publishes whose broker link was down).\n# TYPE mqtt_proxy_messages_dropped_total counter"
        );
        for (reason, v) in [
            ("acl_denied", sum(&|c| c.dropped[0].get())),
            ("invalid_payload", invalid),
            ("outside_mount", sum(&|c| c.dropped[1].get())),
            ("broker_unavailable", sum(&|c| c.dropped[2].get())),
        ] {
            let _ = writeln!(out, "mqtt_proxy_messages_dropped_total{{reason=\"{reason}\"}} {v}");
        }
        for (rule, filter) in schema_filters.iter().enumerate() {
            let filter = filter.replace('\\', "\\\\").replace('"', "\\\"");
            for dir in [Direction::Publish, Direction::Deliver] {
                for reason in Reason::ALL {
                    let v = sum(&|c| {
                        c.schema_rejected.get(schema_slot(rule, dir, reason)).map_or(0, Counter::get)
                    });
                    let _ = writeln!(
                        out,
                        "mqtt_proxy_schema_rejected_total{{filter=\"{filter}\",direction=\"{}\",reason=\"{}\"}} {v}",
                        dir.label(),
                        reason.label()
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
