//! The `pubsub` scenario: N publishers, M subscribers on all their topics, QoS 0/1/2,
//! MQTT 3.1.1 or 5.0, TCP or TLS, unlimited or a fixed rate per publisher.
//!
//! Each payload starts with the send time (ns since the run started), the
//! publisher's index and its sequence number, so subscribers measure end-to-end
//! latency and count loss, duplicates and reordering per publisher. A line of
//! rates is printed every second; the result is one JSON object (stdout, and
//! `--json FILE`).

use crate::client::{self, Conn, Tls};
use crate::payload::{self, Payload, BINARY, JSON_MIN};
use crate::track::Track;
use anyhow::{bail, Result};
use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use mqtt_proxy::mqtt::{Ack, AckKind, MqttStr, Packet, Protocol, Publish, QoS, Subscribe, SubscribeFilter};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Flags of `pubsub`.
#[derive(clap::Parser, Clone)]
pub struct PubSubArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub addr: String,
    /// Publishers.
    #[arg(long, default_value_t = 10)]
    pub publishers: usize,
    /// Subscribers (each subscribes to every publisher's topic).
    #[arg(long, default_value_t = 1)]
    pub subscribers: usize,
    /// QoS of publishes and subscriptions: 0, 1 or 2.
    #[arg(long, default_value_t = 0)]
    pub qos: u8,
    /// Payload size in bytes (at least 20: timestamp, publisher, sequence; 81 with
    /// `--json-payload`).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Send the payload as a JSON object (for schema-validation runs).
    #[arg(long)]
    pub json_payload: bool,
    /// Messages per second per publisher (0: as fast as the server takes them).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Run time in seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// MQTT version: 3 (3.1.1) or 5.
    #[arg(long, default_value_t = 3)]
    pub version: u8,
    /// Topic pattern; `%i` is the publisher's index.
    #[arg(long, default_value = "bench/%i")]
    pub topic: String,
    /// Verify the server with this CA (PEM) and connect over TLS.
    #[arg(long)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Name to verify and send as SNI.
    #[arg(long, default_value = "localhost")]
    pub tls_name: String,
    /// User name for every client (e.g. `Bearer <jwt>`).
    #[arg(long)]
    pub username: Option<String>,
    /// Also write the JSON result to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Write an HTML report (throughput over time, latency percentiles) here.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
}

const WINDOW: u64 = 16;

struct Shared {
    start: Instant,
    stop: AtomicBool,
    sent: Vec<AtomicU64>,
    received: AtomicU64,
    /// Subscribers hand over their latency samples about once a second.
    interval: std::sync::Mutex<Histogram<u64>>,
}

fn qos(q: u8) -> Result<QoS> {
    QoS::from_u8(q).ok_or_else(|| anyhow::anyhow!("--qos must be 0, 1 or 2"))
}

fn version(v: u8) -> Result<Protocol> {
    Ok(match v {
        3 => Protocol::V311,
        5 => Protocol::V5,
        _ => bail!("--version must be 3 or 5"),
    })
}

fn publisher(a: &PubSubArgs, i: usize, sh: &Shared, tls: Option<&Tls>, go: &Barrier) -> Result<()> {
    let (v, q) = (version(a.version)?, qos(a.qos)?);
    let mut c = Conn::open(&a.addr, v, format!("lt-pub-{i}"), a.username.clone(), tls, None)?;
    let topic = MqttStr::try_from(a.topic.replace("%i", &i.to_string()))?;
    let mut payload = Payload::new(a.size, i as u32, a.json_payload);
    let batch: u64 = if a.rate == 0 { 8 } else { (a.rate / 200).clamp(1, 8) };
    let mut out = BytesMut::with_capacity(batch as usize * (a.size.max(JSON_MIN) + 64));
    let mut seq: u64 = 0;
    let mut in_flight: u64 = 0;
    go.wait();
    let t0 = Instant::now();
    while !sh.stop.load(Ordering::Relaxed) {
        if a.rate > 0 {
            // Pace: batch k is due at k * batch / rate seconds.
            let due = Duration::from_secs_f64(seq as f64 / a.rate as f64);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        out.clear();
        for _ in 0..batch {
            seq += 1;
            let body = payload.stamp(sh.start.elapsed().as_nanos() as u64, seq);
            let pkid = if q == QoS::AtMostOnce { 0 } else { (seq % 65_535 + 1) as u16 };
            Publish { qos: q, pkid, ..Publish::new(topic.clone(), Bytes::copy_from_slice(body)) }
                .encode(v, &mut out)?;
        }
        c.write(&out)?;
        in_flight += if q == QoS::AtMostOnce { 0 } else { batch };
        // QoS 1/2: at most WINDOW unacknowledged (brokers announce small Receive
        // Maximums, Mosquitto 20); read acknowledgements down to half of it.
        while in_flight >= WINDOW {
            while in_flight > WINDOW / 2 {
                in_flight -= ack(&mut c, i)?;
            }
        }
        sh.sent[i].fetch_add(batch, Ordering::Relaxed);
    }
    while in_flight > 0 {
        in_flight -= ack(&mut c, i)?;
    }
    let _ = c.send(&Packet::Disconnect(Default::default()));
    Ok(())
}

/// Reads one acknowledgement step: 1 when a QoS 1/2 flow completed, else 0 (a
/// PUBREC is answered with PUBREL).
fn ack(c: &mut Conn, i: usize) -> Result<u64> {
    match c.recv()? {
        Some(Packet::Ack(a)) if a.kind == AckKind::PubRec => {
            c.send(&Packet::Ack(Ack::new(AckKind::PubRel, a.pkid)))?;
            Ok(0)
        }
        Some(Packet::Ack(_)) => Ok(1),
        Some(_) => Ok(0),
        None => bail!("publisher {i}: connection closed"),
    }
}

struct SubResult {
    latency: Histogram<u64>,
    tracks: HashMap<u32, Track>,
}

fn subscriber(
    a: &PubSubArgs,
    i: usize,
    sh: &Shared,
    tls: Option<&Tls>,
    ready: &Barrier,
) -> Result<SubResult> {
    let (v, q) = (version(a.version)?, qos(a.qos)?);
    let mut c = Conn::open(
        &a.addr,
        v,
        format!("lt-sub-{i}"),
        a.username.clone(),
        tls,
        Some(Duration::from_millis(500)),
    )?;
    let filter = MqttStr::try_from(a.topic.replace("%i", "+"))?;
    let options = mqtt_proxy::mqtt::SubscriptionOptions { qos: q, ..Default::default() };
    c.send(&Packet::Subscribe(Subscribe {
        pkid: 1,
        filters: vec![SubscribeFilter { filter, options }],
        properties: Default::default(),
    }))?;
    loop {
        match c.recv()? {
            Some(Packet::SubAck(_)) => break,
            Some(_) => {}
            None => bail!("subscriber {i}: no SUBACK"),
        }
    }
    ready.wait();
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)?;
    let mut interval = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)?;
    let mut handed = Instant::now();
    let mut tracks: HashMap<u32, Track> = HashMap::new();
    let mut quiet = 0;
    loop {
        match c.recv()? {
            Some(Packet::Publish(p)) if payload::read(&p.payload).is_some() => {
                let (sent, publisher, seq) = payload::read(&p.payload).unwrap_or_default();
                let now = sh.start.elapsed().as_nanos() as u64;
                let _ = latency.record(now.saturating_sub(sent).max(1));
                let _ = interval.record(now.saturating_sub(sent).max(1));
                if handed.elapsed() >= Duration::from_millis(250) {
                    if let Ok(mut h) = sh.interval.lock() {
                        let _ = h.add(&interval);
                    }
                    interval.reset();
                    handed = Instant::now();
                }
                tracks.entry(publisher).or_default().see(seq);
                sh.received.fetch_add(1, Ordering::Relaxed);
                match p.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => c.send(&Packet::Ack(Ack::new(AckKind::PubAck, p.pkid)))?,
                    QoS::ExactlyOnce => c.send(&Packet::Ack(Ack::new(AckKind::PubRec, p.pkid)))?,
                }
                quiet = 0;
            }
            Some(Packet::Ack(ack)) if ack.kind == AckKind::PubRel => {
                c.send(&Packet::Ack(Ack::new(AckKind::PubComp, ack.pkid)))?
            }
            Some(_) => {}
            // After the publishers stopped, two quiet read timeouts end the drain.
            None if sh.stop.load(Ordering::Relaxed) => {
                quiet += 1;
                if quiet >= 2 {
                    return Ok(SubResult { latency, tracks });
                }
            }
            None => {}
        }
    }
}

/// Runs the scenario.
pub fn run(a: PubSubArgs) -> Result<()> {
    qos(a.qos)?;
    version(a.version)?;
    let tls = a.tls_ca.as_deref().map(|ca| client::tls(ca, &a.tls_name)).transpose()?;
    let sh = Arc::new(Shared {
        start: Instant::now(),
        stop: AtomicBool::new(false),
        sent: (0..a.publishers).map(|_| AtomicU64::new(0)).collect(),
        received: AtomicU64::new(0),
        interval: std::sync::Mutex::new(Histogram::new_with_bounds(1, 600_000_000_000, 3)?),
    });
    let go = Arc::new(Barrier::new(a.publishers + a.subscribers + 1));
    let subs: Vec<_> = (0..a.subscribers)
        .map(|i| {
            let (a, sh, tls, go) = (a.clone(), sh.clone(), tls.clone(), go.clone());
            std::thread::spawn(move || subscriber(&a, i, &sh, tls.as_ref(), &go))
        })
        .collect();
    let pubs: Vec<_> = (0..a.publishers)
        .map(|i| {
            let (a, sh, tls, go) = (a.clone(), sh.clone(), tls.clone(), go.clone());
            std::thread::spawn(move || publisher(&a, i, &sh, tls.as_ref(), &go))
        })
        .collect();
    go.wait();
    let t0 = Instant::now();
    let total_sent = |sh: &Shared| sh.sent.iter().map(|s| s.load(Ordering::Relaxed)).sum::<u64>();
    let (mut last_s, mut last_r) = (0, 0);
    let mut timeline = Vec::new();
    for sec in 1..=a.duration {
        std::thread::sleep(Duration::from_secs(sec).saturating_sub(t0.elapsed()));
        let (s, r) = (total_sent(&sh), sh.received.load(Ordering::Relaxed));
        let pct = match sh.interval.lock() {
            Ok(mut h) => {
                let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                let v = [q(0.5), q(0.9), q(0.99), q(0.999), h.max() as f64 / 1000.0];
                h.reset();
                v
            }
            Err(_) => [0.0; 5],
        };
        eprintln!(
            "t={sec:>3}s  in {:>9} msg/s  out {:>9} msg/s  latency µs p50 {:>7.0} p90 {:>7.0} p99 {:>7.0} p99.9 {:>7.0} max {:>7.0}",
            s - last_s,
            r - last_r,
            pct[0],
            pct[1],
            pct[2],
            pct[3],
            pct[4]
        );
        timeline.push((s - last_s, r - last_r));
        (last_s, last_r) = (s, r);
    }
    let seconds = t0.elapsed().as_secs_f64();
    let (sent_window, recv_window) = (total_sent(&sh), sh.received.load(Ordering::Relaxed));
    sh.stop.store(true, Ordering::Relaxed);
    // A client that fails ends alone; the run goes on and counts it.
    let mut errors: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for p in pubs {
        match p.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => *errors.entry(client::error_kind(&e)).or_insert(0) += 1,
            Err(_) => *errors.entry("panic").or_insert(0) += 1,
        }
    }
    let sent_per_pub: Vec<u64> = sh.sent.iter().map(|s| s.load(Ordering::Relaxed)).collect();
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)?;
    let (mut lost, mut dup, mut reordered, mut received) = (0u64, 0u64, 0u64, 0u64);
    for s in subs {
        let r = match s.join() {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                *errors.entry(client::error_kind(&e)).or_insert(0) += 1;
                SubResult {
                    latency: Histogram::new_with_bounds(1, 600_000_000_000, 3)?,
                    tracks: HashMap::new(),
                }
            }
            Err(_) => {
                *errors.entry("panic").or_insert(0) += 1;
                SubResult {
                    latency: Histogram::new_with_bounds(1, 600_000_000_000, 3)?,
                    tracks: HashMap::new(),
                }
            }
        };
        latency.add(&r.latency)?;
        for (p, sent) in sent_per_pub.iter().enumerate() {
            let t = r.tracks.get(&(p as u32)).cloned().unwrap_or_else(Track::new);
            lost += t.lost(*sent);
            dup += t.duplicates;
            reordered += t.reordered;
            received += t.received;
        }
    }
    let us = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let timeline_pairs = timeline.clone();
    let timeline: Vec<String> = timeline.iter().map(|(s, r)| format!("[{s},{r}]")).collect();
    let json = format!(
        "{{\"scenario\":\"pubsub\",\"publishers\":{},\"subscribers\":{},\"qos\":{},\"version\":{},\"size\":{},\"rate\":{},\"tls\":{},\"seconds\":{seconds:.2},\"sent\":{},\"received\":{received},\"lost\":{lost},\"duplicates\":{dup},\"reordered\":{reordered},\"errors_by_kind\":{},\"in_msgs_per_s\":{:.0},\"out_msgs_per_s\":{:.0},\"latency_us\":{{\"p50\":{:.1},\"p90\":{:.1},\"p99\":{:.1},\"p999\":{:.1},\"max\":{:.1}}},\"per_second_in_out\":[{}]}}",
        a.publishers,
        a.subscribers,
        a.qos,
        a.version,
        if a.json_payload { a.size.max(JSON_MIN) } else { a.size.max(BINARY) },
        a.rate,
        a.tls_ca.is_some(),
        sent_per_pub.iter().sum::<u64>(),
        client::kinds_json(&errors),
        sent_window as f64 / seconds,
        recv_window as f64 / seconds,
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        latency.max() as f64 / 1000.0,
        timeline.join(",")
    );
    println!("{json}");
    eprintln!(
        "total: sent {} received {received} lost {lost} duplicates {dup} reordered {reordered} errors {:?}; latency µs p50 {:.0} p90 {:.0} p99 {:.0} p99.9 {:.0} max {:.0}",
        sent_per_pub.iter().sum::<u64>(),
        errors,
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        latency.max() as f64 / 1000.0
    );
    if let Some(path) = &a.json {
        std::fs::write(path, format!("{json}\n"))?;
    }
    if let Some(path) = &a.report {
        let percentiles: Vec<(String, f64)> = [
            ("p50", 0.5),
            ("p75", 0.75),
            ("p90", 0.9),
            ("p95", 0.95),
            ("p99", 0.99),
            ("p99.9", 0.999),
            ("p99.99", 0.9999),
        ]
        .iter()
        .map(|(l, q)| (l.to_string(), us(*q)))
        .chain([("max".to_string(), latency.max() as f64 / 1000.0)])
        .collect();
        let page = crate::report::html("mqtt-loadtest pubsub", &json, &timeline_pairs, &percentiles);
        std::fs::write(path, page)?;
    }
    Ok(())
}
