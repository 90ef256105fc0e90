//! The `registry` catalog against a Confluent Schema Registry API served over real
//! HTTP on loopback by this test: subjects by version and schemas by id are
//! fetched at start, a schema change is picked up after `max_age`, a failing
//! registry keeps the last good schema, and an unreachable one stops the start.

mod common;
use bytes::Bytes;
use common::broker::Mosquitto;
use common::proxy::Proxy;
use common::raw::Raw;
use mqtt_proxy::mqtt::{MqttStr, Packet, Protocol, Publish, QoS, ReasonCode};
use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A plain or TLS connection of the test registry.
trait ReadWrite: std::io::Read + Write {}
impl<T: std::io::Read + Write> ReadWrite for T {}

/// What the test's registry serves (a real HTTP server, a tiny one).
struct State {
    /// JSON Schema text of subject `telemetry-value`, latest version.
    telemetry: String,
    /// Answer 500 to everything.
    failing: bool,
    /// Requests for the telemetry subject so far.
    telemetry_requests: usize,
    /// Requests without the configured Authorization header.
    unauthorized: usize,
}

struct Registry {
    addr: std::net::SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
}

const AVRO_INT: &str = r#"{"type":"int"}"#;

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// One request from `conn`: (path, carried the expected Authorization header).
fn request(conn: &mut impl std::io::Read) -> Option<(String, bool)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let authorized = head.lines().any(|l| l == "Authorization: Bearer TEST-ONLY-registry-token");
    Some((path, authorized))
}

impl Registry {
    fn start(telemetry: &str) -> Registry {
        Self::start_with(telemetry, None)
    }

    /// With `tls`, the registry speaks https.
    fn start_with(telemetry: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new((
            Mutex::new(State {
                telemetry: telemetry.into(),
                failing: false,
                telemetry_requests: 0,
                unauthorized: 0,
            }),
            Condvar::new(),
        ));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(tcp) = conn else { continue };
                let mut conn: Box<dyn ReadWrite> = match &tls {
                    Some(cfg) => {
                        let Ok(server) = rustls::ServerConnection::new(cfg.clone()) else { continue };
                        Box::new(rustls::StreamOwned::new(server, tcp))
                    }
                    None => Box::new(tcp),
                };
                let Some((path, authorized)) = request(&mut conn) else { continue };
                let (status, body) = {
                    let mut s = st.0.lock().expect("state");
                    s.unauthorized += usize::from(!authorized);
                    if path == "/prefix/subjects/telemetry-value/versions/latest" {
                        s.telemetry_requests += 1;
                        st.1.notify_all();
                    }
                    if s.failing {
                        ("500 Internal Server Error", r#"{"error_code":50001}"#.to_string())
                    } else {
                        match path.as_str() {
                            "/prefix/subjects/telemetry-value/versions/latest" => (
                                "200 OK",
                                format!(
                                    r#"{{"subject":"telemetry-value","version":3,"id":11,"schemaType":"JSON","schema":{}}}"#,
                                    json_string(&s.telemetry)
                                ),
                            ),
                            "/prefix/subjects/count-value/versions/2" => (
                                "200 OK",
                                format!(
                                    r#"{{"subject":"count-value","version":2,"id":7,"schema":{}}}"#,
                                    json_string(AVRO_INT)
                                ),
                            ),
                            "/prefix/schemas/ids/7" => {
                                ("200 OK", format!(r#"{{"schema":{}}}"#, json_string(AVRO_INT)))
                            }
                            _ => ("404 Not Found", r#"{"error_code":40401}"#.to_string()),
                        }
                    }
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.flush();
            }
        });
        Registry { addr, state }
    }

    /// Changes the state, then waits until two more telemetry fetches happened: the
    /// first of them saw the change, and the proxy swapped before asking again.
    fn change_and_wait(&self, f: impl FnOnce(&mut State)) {
        let (lock, cv) = &*self.state;
        let mut s = lock.lock().expect("state");
        f(&mut s);
        let target = s.telemetry_requests + 2;
        let (s, _) = cv
            .wait_timeout_while(s, Duration::from_secs(20), |s| s.telemetry_requests < target)
            .expect("state");
        assert!(s.telemetry_requests >= target, "the proxy stopped refreshing");
    }
}

fn config(broker: &str, registry: &str) -> String {
    format!(
        "listeners:\n  - name: l\n    bind: 127.0.0.1:0\n    upstream: broker\n\
         upstreams:\n  - name: broker\n    servers: [\"{broker}\"]\n\
         catalogs:\n  - name: reg\n    registry:\n      url: http://{registry}/prefix/\n      max_age: 100ms\n      authorization: Bearer TEST-ONLY-registry-token\n\
         schemas:\n\
         \x20 - filter: telemetry/#\n    content: {{model: json, catalog: reg, subject: telemetry-value}}\n\
         \x20 - filter: count/#\n    content: {{model: avro, catalog: reg, subject: count-value, version: 2, wire: confluent}}\n\
         \x20 - filter: byid/#\n    content: {{model: avro, catalog: reg, id: 7}}\n"
    )
}

/// Publishes at QoS 1 (5.0) and returns the PUBACK's reason code.
fn puback(c: &mut Raw, topic: &'static str, payload: &'static [u8], pkid: u16) -> ReasonCode {
    let mut p = Publish::new(MqttStr::from_static(topic), Bytes::from_static(payload));
    p.qos = QoS::AtLeastOnce;
    p.pkid = pkid;
    c.send(&Packet::Publish(p));
    match c.recv() {
        Some(Packet::Ack(a)) if a.pkid == pkid => a.reason,
        other => panic!("expected PUBACK {pkid}, got {other:?}"),
    }
}

const OK: ReasonCode = ReasonCode::NoMatchingSubscribers;
const BAD: ReasonCode = ReasonCode::PayloadFormatInvalid;

#[test]
fn registry_schemas_are_used_and_refreshed() {
    let registry = Registry::start(r#"{"type":"object","required":["a"]}"#);
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&broker.addr(), &registry.addr.to_string()));
    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V5, "reg", 30);
    assert_eq!(puback(&mut c, "telemetry/1", br#"{"a":1}"#, 1), OK);
    assert_eq!(puback(&mut c, "telemetry/1", br#"{"b":1}"#, 2), BAD);
    // Confluent framing: magic 0, schema id 7 (from version 2), then an Avro int.
    assert_eq!(puback(&mut c, "count/1", &[0, 0, 0, 0, 7, 0x54], 3), OK);
    assert_eq!(puback(&mut c, "count/1", &[0, 0, 0, 0, 8, 0x54], 4), BAD, "wrong schema id");
    assert_eq!(puback(&mut c, "count/1", &[0x54], 5), BAD, "no Confluent header");
    assert_eq!(puback(&mut c, "byid/1", &[0x54], 6), OK);
    assert_eq!(puback(&mut c, "byid/1", &[0x80], 7), BAD, "truncated varint");

    // A new schema version is used after max_age.
    registry.change_and_wait(|s| s.telemetry = r#"{"type":"object","required":["b"]}"#.into());
    assert_eq!(puback(&mut c, "telemetry/1", br#"{"a":1}"#, 8), BAD);
    assert_eq!(puback(&mut c, "telemetry/1", br#"{"b":1}"#, 9), OK);

    // A failing registry: the last good schema stays.
    registry.change_and_wait(|s| s.failing = true);
    assert_eq!(puback(&mut c, "telemetry/1", br#"{"b":1}"#, 10), OK);
    assert_eq!(puback(&mut c, "telemetry/1", br#"{"a":1}"#, 11), BAD);
    proxy.wait_log("the last good schema stays");
    assert_eq!(registry.state.0.lock().expect("state").unauthorized, 0, "Authorization header missing");
}

#[test]
fn an_unreachable_registry_stops_the_start_with_a_clear_error() {
    let port = common::broker::free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("proxy.yaml");
    std::fs::write(&path, config("127.0.0.1:1", &format!("127.0.0.1:{port}"))).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqtt-proxy"))
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("registry `reg` GET /subjects/telemetry-value/versions/latest"), "{err}");
    assert!(err.contains("schemas[0].content"), "{err}");
}

#[test]
fn a_registry_over_https() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pki = common::certs::Pki::new();
    let certs: Vec<CertificateDer> =
        CertificateDer::pem_file_iter(&pki.server_cert).expect("cert").map(|c| c.expect("cert")).collect();
    let key = PrivateKeyDer::from_pem_file(&pki.server_key).expect("key");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let registry = Registry::start_with(r#"{"type":"object","required":["a"]}"#, Some(Arc::new(cfg)));
    let broker = Mosquitto::start();
    let port = registry.addr.port();
    let yaml = config(&broker.addr(), &format!("localhost:{port}"))
        .replace("url: http://", "url: https://")
        .replace(
            "      max_age: 100ms\n",
            &format!("      max_age: 100ms\n      tls:\n        ca: {}\n", pki.ca.display()),
        );
    let proxy = Proxy::start(&yaml);
    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V5, "reg-tls", 30);
    assert_eq!(puback(&mut c, "telemetry/1", br#"{"a":1}"#, 1), OK);
    assert_eq!(puback(&mut c, "telemetry/1", br#"{"b":1}"#, 2), BAD);
    assert_eq!(registry.state.0.lock().expect("state").unauthorized, 0);
    // Without the CA the start fails, naming the registry.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mqtt-proxy"))
        .arg("--check-config")
        .arg("--config")
        .arg({
            let p = pki.dir.path().join("no-ca.yaml");
            std::fs::write(&p, yaml.replace(&format!("      tls:\n        ca: {}\n", pki.ca.display()), ""))
                .expect("write");
            p
        })
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("an https registry needs `tls.ca`"));
}
