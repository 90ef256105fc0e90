//! The `fleet` scenario: N devices with persistent sessions, each publishing QoS 1
//! to its own topic and subscribed to it (see `device.rs`), for failover runs:
//! kill a proxy or a broker while it runs and count what every device had
//! acknowledged and never got back, what came twice, how often sessions were
//! resumed (Session Present 1) or lost, how long reconnects took and which
//! DISCONNECT reasons the server gave.
//!
//! Prints `ready: N devices connected` once every device has its first session,
//! then a line a second; the result is one JSON object (stdout, and `--json FILE`).
//! It judges nothing: what counts as a pass depends on the layout (see
//! `scripts/cluster-test.sh`).

use crate::client;
use crate::device::{self, Fleet, Report};
use crate::ledger::Tally;
use anyhow::{bail, Result};
use hdrhistogram::Histogram;
use mqtt_proxy::mqtt::Protocol;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Flags of `fleet`.
#[derive(clap::Parser, Clone)]
pub struct FleetArgs {
    /// Server address, or several separated by commas: device `i` starts at the
    /// `i mod n`-th and moves on to the next when one refuses (for runs straight
    /// against a broker cluster, without a proxy placing sessions).
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub addr: String,
    /// Devices (one connection and one thread each).
    #[arg(long, default_value_t = 100)]
    pub devices: usize,
    /// Messages per second per device.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Seconds of publishing, counted from the moment every device is connected.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// MQTT version: 3 (3.1.1) or 5.
    #[arg(long, default_value_t = 5)]
    pub version: u8,
    /// Client id prefix; the device index follows. Default: `fleet-<random>-`, so
    /// one run never resumes another's sessions.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Topic prefix; `/<index>` follows.
    #[arg(long, default_value = "fleet")]
    pub topic: String,
    /// Payload size in bytes (at least 20).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Unacknowledged publishes per device.
    #[arg(long, default_value_t = 10)]
    pub window: usize,
    /// Reconnect delay in milliseconds (each wait is between half of it and all of it).
    #[arg(long, default_value_t = 500)]
    pub reconnect_delay_ms: u64,
    /// Seconds a device keeps trying to reconnect before it gives up.
    #[arg(long, default_value_t = 30)]
    pub reconnect_timeout: u64,
    /// Milliseconds over which the devices' first connects are spread.
    #[arg(long, default_value_t = 2000)]
    pub ramp_ms: u64,
    /// Seconds devices wait after publishing ends for what is still owed them.
    #[arg(long, default_value_t = 20)]
    pub drain: u64,
    /// 5.0 Session Expiry Interval in seconds.
    #[arg(long, default_value_t = 3600)]
    pub session_expiry: u32,
    /// Leave every session on its server at the end (by default each device ends
    /// its session, so brokers do not keep a run's sessions).
    #[arg(long)]
    pub keep_sessions: bool,
    /// User name for every device (e.g. `Bearer <jwt>`).
    #[arg(long)]
    pub username: Option<String>,
    /// Verify the server with this CA (PEM) and connect over TLS.
    #[arg(long)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Name to verify and send as SNI.
    #[arg(long, default_value = "localhost")]
    pub tls_name: String,
    /// Also write the JSON result to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

fn random_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("fleet-{:08x}-", nanos ^ std::process::id().rotate_left(16))
}

/// Runs the scenario.
pub fn run(a: FleetArgs) -> Result<()> {
    let v = match a.version {
        3 => Protocol::V311,
        5 => Protocol::V5,
        _ => bail!("--version must be 3 or 5"),
    };
    if !(a.rate > 0.0 && a.rate.is_finite()) || a.devices == 0 || a.window == 0 || a.reconnect_delay_ms == 0 {
        bail!("--rate, --devices, --window and --reconnect-delay-ms must be positive");
    }
    if a.window > 10_000 {
        bail!("--window is at most 10000 (packet identifiers are 16 bits)");
    }
    let tls = a.tls_ca.as_deref().map(|ca| client::tls(ca, &a.tls_name)).transpose()?;
    let f = Arc::new(Fleet {
        addrs: a.addr.split(',').map(str::to_string).collect(),
        v,
        prefix: a.prefix.clone().unwrap_or_else(random_prefix),
        topic: a.topic.clone(),
        username: a.username.clone(),
        tls,
        rate: a.rate,
        size: a.size,
        window: a.window,
        reconnect_delay: Duration::from_millis(a.reconnect_delay_ms),
        reconnect_timeout: Duration::from_secs(a.reconnect_timeout),
        session_expiry: a.session_expiry,
        drain: Duration::from_secs(a.drain),
        keep_sessions: a.keep_sessions,
        start: Instant::now(),
        stop: AtomicBool::new(false),
        connected: AtomicU64::new(0),
        published: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
    });
    let go = Arc::new(Barrier::new(a.devices + 1));
    let mut threads = Vec::with_capacity(a.devices);
    for i in 0..a.devices {
        let (f, go) = (f.clone(), go.clone());
        let delay = Duration::from_millis(a.ramp_ms * i as u64 / a.devices as u64);
        threads.push(
            std::thread::Builder::new()
                .name(format!("device-{i}"))
                .stack_size(256 << 10)
                .spawn(move || device::run(&f, i, delay, &go))?,
        );
    }
    go.wait();
    eprintln!(
        "ready: {} of {} devices connected (client ids {}N)",
        f.connected.load(Ordering::Relaxed),
        a.devices,
        f.prefix
    );
    let t0 = Instant::now();
    let mut last = [0u64; 4];
    let mut timeline = Vec::new();
    for sec in 1..=a.duration {
        std::thread::sleep(Duration::from_secs(sec).saturating_sub(t0.elapsed()));
        let now = [&f.published, &f.acked, &f.delivered, &f.reconnects].map(|c| c.load(Ordering::Relaxed));
        let d: Vec<u64> = now.iter().zip(last).map(|(n, l)| n - l).collect();
        let connected = f.connected.load(Ordering::Relaxed);
        eprintln!(
            "t={sec:>3}s  connected {connected:>6}  published {:>7}/s  acked {:>7}/s  delivered {:>7}/s  reconnects {:>5}",
            d[0], d[1], d[2], d[3]
        );
        timeline.push(serde_json::json!([connected, d[0], d[1], d[2], d[3]]));
        last = now;
    }
    f.stop.store(true, Ordering::Relaxed);
    eprintln!("publishing stopped; draining (at most {} s)", a.drain);
    let mut tally = Tally::default();
    let (mut reconnects, mut resumed, mut lost_sessions, mut refused) = (0u64, 0u64, 0u64, 0u64);
    let mut reconnect_ms = Histogram::<u64>::new_with_bounds(1, 3_600_000, 3)?;
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)?;
    let mut disconnects: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut first_error = None;
    let mut lost_samples = Vec::new();
    for (i, t) in threads.into_iter().enumerate() {
        let r: Report = match t.join() {
            Ok(r) => r,
            Err(_) => {
                *errors.entry("panic").or_insert(0) += 1;
                continue;
            }
        };
        tally += r.tally;
        if lost_samples.len() < 50 && !r.lost.is_empty() {
            lost_samples.push(serde_json::json!({"device": i, "seq": r.lost}));
        }
        reconnects += r.reconnects;
        resumed += r.resumed;
        lost_sessions += r.sessions_lost;
        refused += r.refused;
        for ms in &r.reconnect_ms {
            let _ = reconnect_ms.record((*ms).max(1));
        }
        latency.add(&r.latency)?;
        for (code, n) in r.disconnects {
            *disconnects.entry(format!("0x{code:02X}")).or_insert(0) += n;
        }
        if let Some(e) = r.error {
            *errors.entry(client::error_kind(&e)).or_insert(0) += 1;
            first_error.get_or_insert_with(|| format!("{e:#}"));
        }
    }
    let ms = |q: f64| reconnect_ms.value_at_quantile(q);
    let us = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let json = serde_json::json!({
        "scenario": "fleet",
        "devices": a.devices,
        "version": a.version,
        "rate": a.rate,
        "seconds": a.duration,
        "client_id_prefix": f.prefix,
        "sent": tally.sent,
        "acked": tally.acked,
        "received": tally.received,
        "duplicates": tally.duplicates,
        "acked_lost": tally.acked_lost,
        "acked_lost_samples": lost_samples,
        "lost_with_session": tally.lost_with_session,
        "unacked": tally.unacked,
        "unknown": tally.unknown,
        "refused_acks": refused,
        "reconnects": reconnects,
        "resumed": resumed,
        "sessions_lost": lost_sessions,
        "reconnect_ms": {"p50": ms(0.5), "p99": ms(0.99), "max": reconnect_ms.max()},
        "disconnect_reasons": disconnects,
        "errors_by_kind": errors,
        "first_error": first_error,
        "latency_us": {"p50": us(0.5), "p99": us(0.99), "max": latency.max() as f64 / 1000.0},
        "per_second_connected_published_acked_delivered_reconnects": timeline,
    });
    println!("{json}");
    eprintln!(
        "total: sent {} acked {} received {} duplicates {} acked_lost {} lost_with_session {} unacked {} reconnects {reconnects} (resumed {resumed}, sessions lost {lost_sessions}) reconnect ms p50 {} p99 {} max {} errors {errors:?}",
        tally.sent, tally.acked, tally.received, tally.duplicates, tally.acked_lost, tally.lost_with_session, tally.unacked,
        ms(0.5), ms(0.99), reconnect_ms.max()
    );
    if let Some(path) = &a.json {
        std::fs::write(path, format!("{json}\n"))?;
    }
    Ok(())
}
