//! Connections per listener: accepted and open, counted by the core that owns the
//! listener's socket (single-writer counters, touched at accept and at close,
//! never per message), registered by name so the exposition can sum them over
//! cores and over the listener's re-binds across reloads:
//! `mqtt_proxy_listener_connections_accepted_total{listener}` and
//! `mqtt_proxy_listener_connections_open{listener}`.

use super::Counter;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// One bound listener's counters on one core.
#[derive(Debug, Default)]
pub struct ListenerCounters {
    /// Connections accepted.
    pub accepted: Counter,
    /// Connections open now (gauge).
    pub open: Counter,
}

/// A core's listeners' counters, by name.
#[derive(Debug, Default)]
pub struct Listeners(Mutex<Vec<(String, Arc<ListenerCounters>)>>);

impl Listeners {
    /// Counters for a listener this core just bound.
    pub fn register(&self, name: &str) -> Arc<ListenerCounters> {
        let c = Arc::new(ListenerCounters::default());
        if let Ok(mut v) = self.0.lock() {
            v.push((name.to_string(), c.clone()));
        }
        c
    }
}

/// Appends both families, summed over `cores` by listener name.
pub fn render(out: &mut String, cores: &[&Listeners]) {
    let mut by_name: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for l in cores {
        if let Ok(v) = l.0.lock() {
            for (name, c) in v.iter() {
                let e = by_name.entry(name.clone()).or_default();
                e.0 += c.accepted.get();
                e.1 = e.1.wrapping_add(c.open.get());
            }
        }
    }
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let _ = writeln!(
        out,
        "# HELP mqtt_proxy_listener_connections_accepted_total Connections accepted, by listener.\n# TYPE mqtt_proxy_listener_connections_accepted_total counter"
    );
    for (name, (accepted, _)) in &by_name {
        let _ = writeln!(
            out,
            "mqtt_proxy_listener_connections_accepted_total{{listener=\"{}\"}} {accepted}",
            escape(name)
        );
    }
    let _ = writeln!(
        out,
        "# HELP mqtt_proxy_listener_connections_open Connections open now, by listener.\n# TYPE mqtt_proxy_listener_connections_open gauge"
    );
    for (name, (_, open)) in &by_name {
        let _ = writeln!(out, "mqtt_proxy_listener_connections_open{{listener=\"{}\"}} {open}", escape(name));
    }
}
