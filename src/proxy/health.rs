//! Health probes of upstream servers, off the data path: one thread per upstream
//! with a `health_check`, probing each server every `interval` with a TCP (or TLS)
//! connect, an MQTT 3.1.1 CONNECT and a wait for a successful CONNACK, all within
//! `timeout`. After `failures` failed probes in a row a server is marked down (new
//! sessions skip it and re-hash to the next server); one good probe marks it up
//! again. Cores read the marks with a relaxed atomic load at CONNECT.

use crate::config::{HealthCheck, Server, Upstream};
use crate::mqtt::{Connect, ConnectProperties, MqttStr, Packet, Protocol};
use rustls::{ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The probe's CONNECT: 3.1.1, clean, with the configured credentials if any.
fn probe_connect(id: &str, hc: &HealthCheck) -> Vec<u8> {
    let c = Connect {
        protocol: Protocol::V311,
        clean_start: true,
        keep_alive: 0,
        client_id: MqttStr::try_from(id.to_string()).unwrap_or_default(),
        will: None,
        username: hc.username.as_ref().and_then(|u| MqttStr::try_from(u.clone()).ok()),
        password: hc.password.as_ref().map(|p| bytes::Bytes::from(p.0.clone())),
        properties: ConnectProperties::default(),
    };
    Packet::Connect(Box::new(c)).to_bytes(Protocol::V311).map(|b| b.to_vec()).unwrap_or_default()
}

/// CONNECT, a successful CONNACK, DISCONNECT.
fn exchange(mut s: impl Read + Write, connect: &[u8]) -> Result<(), String> {
    s.write_all(connect).map_err(|e| e.to_string())?;
    s.flush().map_err(|e| e.to_string())?;
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).map_err(|e| format!("no CONNACK: {e}"))?;
    match ack {
        [0x20, 2, _, 0] => {
            let _ = s.write_all(&[0xe0, 0]);
            let _ = s.flush();
            Ok(())
        }
        [0x20, 2, _, rc] => Err(format!("CONNACK return code {rc}")),
        other => Err(format!("not a CONNACK: {other:02x?}")),
    }
}

/// One probe of `server`.
pub fn probe(up: &Upstream, server: &Server, hc: &HealthCheck, id: &str) -> Result<(), String> {
    let timeout = hc.timeout;
    let tcp = TcpStream::connect_timeout(&server.addr, timeout).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    if up.proxy_protocol {
        // The probe is the proxy's own connection, not a client's.
        (&tcp).write_all(&crate::proxy_protocol::encode_v2_local()).map_err(|e| e.to_string())?;
    }
    let connect = probe_connect(id, hc);
    match (&up.tls, &server.tls_name) {
        (Some(cfg), Some(name)) => {
            let conn = ClientConnection::new(cfg.clone(), name.clone()).map_err(|e| e.to_string())?;
            exchange(StreamOwned::new(conn, tcp), &connect)
        }
        _ => exchange(tcp, &connect),
    }
}

/// Starts the probe threads; they stop when `stop` is set.
pub fn spawn(upstreams: &[Upstream], stop: Arc<AtomicBool>) -> std::io::Result<()> {
    for up in upstreams.iter().filter(|u| u.health_check.is_some()) {
        let (up, stop) = (up.clone(), stop.clone());
        let Some(hc) = up.health_check.clone() else { continue };
        std::thread::Builder::new().name(format!("health-{}", up.name)).spawn(move || {
            let mut failed = vec![0u32; up.servers.len()];
            let id = format!("mqtt-proxy-probe-{}", std::process::id());
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(20).min(hc.interval));
                    continue;
                }
                next = Instant::now() + hc.interval;
                for (i, s) in up.servers.iter().enumerate() {
                    let r = probe(&up, s, &hc, &id);
                    let was_up = up.up[i].load(Ordering::Relaxed);
                    match r {
                        Ok(()) => {
                            failed[i] = 0;
                            if !was_up {
                                up.up[i].store(true, Ordering::Relaxed);
                                info!(upstream = %up.name, server = %s.name, "upstream server up");
                            }
                        }
                        Err(e) => {
                            failed[i] += 1;
                            if was_up && failed[i] >= hc.failures {
                                up.up[i].store(false, Ordering::Relaxed);
                                warn!(upstream = %up.name, server = %s.name, error = %e, "upstream server down");
                            }
                        }
                    }
                }
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_connect_is_a_valid_v311_connect_with_the_configured_credentials() {
        let mut hc = HealthCheck {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failures: 1,
            username: None,
            password: None,
        };
        let b = probe_connect("mqtt-proxy-probe-1", &hc);
        let p = crate::mqtt::decode_bytes(b.into(), Protocol::V311, 1024).expect("valid");
        assert!(
            matches!(p, Packet::Connect(c) if c.clean_start && c.keep_alive == 0 && c.username.is_none())
        );
        hc.username = Some("probe".into());
        hc.password = Some(crate::config::Secret("pw".into()));
        let b = probe_connect("mqtt-proxy-probe-1", &hc);
        let p = crate::mqtt::decode_bytes(b.into(), Protocol::V311, 1024).expect("valid");
        assert!(matches!(p, Packet::Connect(c)
            if c.username.as_deref() == Some("probe") && c.password.as_deref() == Some(&b"pw"[..])));
    }
}
