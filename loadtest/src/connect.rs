//! The `connect` scenario: a connection storm. Each worker opens a connection (TCP,
//! or TLS verified against a CA), sends CONNECT (3.1.1) with an optional
//! `Bearer <jwt>` user name, waits for CONNACK, disconnects, and repeats. Tokens are
//! minted before the timed run (RS256/ES256/EdDSA from a PEM key, claims from
//! flags), one per connection with `--unique`, else one for all.

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use hdrhistogram::Histogram;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mqtt_proxy::mqtt::{self, Connect, MqttStr, Packet, Protocol};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Flags of `connect`.
#[derive(clap::Parser, Clone)]
pub struct ConnectArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:1883")]
    addr: String,
    /// Connections in all.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Connections in flight at once (one thread each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Verify the server with this CA (PEM) and connect over TLS.
    #[arg(long)]
    tls_ca: Option<std::path::PathBuf>,
    /// Name to verify and send as SNI.
    #[arg(long, default_value = "localhost")]
    tls_name: String,
    /// Private key (PEM) to mint JWTs with.
    #[arg(long)]
    jwt_key: Option<std::path::PathBuf>,
    /// Algorithm: RS256, ES256 or EdDSA.
    #[arg(long, default_value = "RS256")]
    jwt_alg: String,
    /// `kid` header.
    #[arg(long)]
    jwt_kid: Option<String>,
    /// `iss` claim.
    #[arg(long)]
    jwt_iss: Option<String>,
    /// `aud` claim.
    #[arg(long)]
    jwt_aud: Option<String>,
    /// `scope` claim.
    #[arg(long, default_value = "mqtt:stream")]
    jwt_scope: String,
    /// A new token (new `sub`) per connection; otherwise one token for all.
    #[arg(long)]
    unique: bool,
    /// Connections per second in all (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Also write the JSON result to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn mint(args: &ConnectArgs, n: usize) -> Result<Vec<String>> {
    let Some(path) = &args.jwt_key else { return Ok(Vec::new()) };
    mqtt_proxy::auth::ring_provider::install();
    let pem = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let alg: Algorithm = args.jwt_alg.parse().context("--jwt-alg")?;
    let key = match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem)?,
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem)?,
        _ => EncodingKey::from_rsa_pem(&pem)?,
    };
    let mut h = Header::new(alg);
    h.kid = args.jwt_kid.clone();
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 3600;
    let count = if args.unique { n } else { 1 };
    (0..count)
        .map(|i| {
            let claims = serde_json::json!({"sub": format!("lt-{i}"), "exp": exp, "scope": args.jwt_scope,
                "iss": args.jwt_iss, "aud": args.jwt_aud});
            Ok(jsonwebtoken::encode(&h, &claims, &key)?)
        })
        .collect()
}

fn exchange<S: Read + Write>(s: &mut S, connect: &[u8]) -> Result<()> {
    s.write_all(connect)?;
    s.flush()?;
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 64];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("closed before CONNACK");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(f) = mqtt::Frame::split(&mut buf, 1024)? {
            return match mqtt::decode(&f, Protocol::V311)? {
                Packet::ConnAck(a) if !a.reason.is_error() => {
                    s.write_all(&[0xE0, 0])?;
                    Ok(())
                }
                other => bail!("refused: {other:?}"),
            };
        }
    }
}

/// Runs the scenario and prints one JSON line.
pub fn run(args: ConnectArgs) -> Result<()> {
    let tokens = Arc::new(mint(&args, args.count)?);
    let tls = args.tls_ca.as_deref().map(|ca| crate::client::tls(ca, &args.tls_name)).transpose()?;
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let (args, tokens, tls, next, done) =
                (args.clone(), tokens.clone(), tls.clone(), next.clone(), done.clone());
            std::thread::spawn(move || -> Result<(Histogram<u64>, BTreeMap<&'static str, usize>, Instant)> {
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                let mut errors = BTreeMap::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= args.count {
                        return Ok((hist, errors, Instant::now()));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    if args.rate > 0 {
                        let due = start + std::time::Duration::from_secs_f64(i as f64 / args.rate as f64);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    let username = tokens.get(i % tokens.len().max(1)).map(|t| format!("Bearer {t}"));
                    let connect = Packet::Connect(Box::new(Connect {
                        protocol: Protocol::V311,
                        clean_start: true,
                        keep_alive: 30,
                        client_id: MqttStr::try_from(format!("lt-{i}"))?,
                        will: None,
                        username: username.map(MqttStr::try_from).transpose()?,
                        password: None,
                        properties: Default::default(),
                    }))
                    .to_bytes(Protocol::V311)?;
                    let t0 = Instant::now();
                    let Ok(tcp) = TcpStream::connect(&args.addr) else {
                        *errors.entry("connect").or_insert(0) += 1;
                        continue;
                    };
                    tcp.set_nodelay(true)?;
                    let r = match &tls {
                        Some((cfg, name)) => {
                            let conn = rustls::ClientConnection::new(cfg.clone(), name.clone())?;
                            exchange(&mut rustls::StreamOwned::new(conn, tcp), &connect)
                        }
                        None => exchange(&mut { tcp }, &connect),
                    };
                    match r {
                        Ok(()) => {
                            let _ = hist.record(t0.elapsed().as_micros().max(1) as u64);
                        }
                        Err(e) => *errors.entry(crate::client::error_kind(&e)).or_insert(0) += 1,
                    }
                }
            })
        })
        .collect();
    // A progress line every second while the storm runs.
    let (mut last, mut sec) = (0, 1);
    while !workers.iter().all(|w| w.is_finished()) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if start.elapsed() >= std::time::Duration::from_secs(sec) {
            let now = done.load(Ordering::Relaxed);
            eprintln!("t={sec:>3}s  {:>8} connects/s", now - last);
            (last, sec) = (now, sec + 1);
        }
    }
    let mut finished = start;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut by_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    for w in workers {
        let (h, e, end) = w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
        hist.add(h)?;
        finished = finished.max(end);
        for (k, n) in e {
            *by_kind.entry(k).or_insert(0) += n;
        }
    }
    let errors: usize = by_kind.values().sum();
    let secs = finished.duration_since(start).as_secs_f64();
    let json = format!(
        "{{\"scenario\":\"connect\",\"count\":{},\"concurrency\":{},\"tls\":{},\"jwt\":{},\"unique_tokens\":{},\"ok\":{},\"errors\":{errors},\"errors_by_kind\":{},\"seconds\":{secs:.2},\"connects_per_s\":{:.0},\"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"max\":{}}}}}",
        args.count,
        args.concurrency,
        args.tls_ca.is_some(),
        args.jwt_key.is_some(),
        args.unique,
        hist.len(),
        crate::client::kinds_json(&by_kind),
        hist.len() as f64 / secs,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.9),
        hist.value_at_quantile(0.99),
        hist.max()
    );
    println!("{json}");
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{json}\n"))?;
    }
    Ok(())
}
