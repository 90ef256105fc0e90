//! The PROXY protocol end to end: a real HAProxy (`send-proxy`, `send-proxy-v2`,
//! `send-proxy-v2-ssl-cn`) in front of the proxy, a real Mosquitto behind it, and
//! mosquitto_pub / mosquitto_sub bound to their own loopback addresses
//! (127.0.0.x), so the address the proxy acts on can only have come from the
//! header. Also: connections without a valid header are closed and counted, and
//! a proxy that sends brokers a v2 header (to a second proxy that reads it).

mod common;
use common::broker::{free_port, Mosquitto};
use common::certs::Pki;
use common::cli::{publish, Sub};
use common::haproxy::{passthrough, Haproxy};
use common::proxy::Proxy;
use common::raw::{connect_packet, Raw};
use common::tokens::bearer;
use mqtt_proxy::mqtt::Protocol;
use std::process::Command;

/// A proxy config with one listener per `(name, port, extra keys)`, all in front of
/// `broker`; `tail` adds top-level sections.
fn listeners_config(broker: &str, listeners: &[(&str, u16, &str)], tail: &str) -> String {
    let mut y = String::from("listeners:\n");
    for (name, port, extra) in listeners {
        y += &format!("  - name: {name}\n    bind: 127.0.0.1:{port}\n    upstream: broker\n{extra}");
    }
    y + &format!("upstreams:\n  - name: broker\n    servers: [\"{broker}\"]\n{tail}")
}

/// mosquitto_pub from `source` (an address of the loopback range) to `port`; its
/// exit status and stderr.
fn publish_from(source: &str, port: u16, args: &[&str]) -> (bool, String) {
    let out = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-A", source])
        .args(args)
        .output()
        .expect("mosquitto_pub");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn balanced_clients_are_seen_at_their_own_address() {
    let broker = Mosquitto::start();
    let (v1, v2, any) = (free_port(), free_port(), free_port());
    let proxy = Proxy::start(&listeners_config(
        &broker.addr(),
        &[
            ("v1", v1, "    proxy_protocol: v1\n"),
            ("v2", v2, "    proxy_protocol: v2\n"),
            ("any", any, "    proxy_protocol: any\n"),
        ],
        "",
    ));
    let fronts = [free_port(), free_port(), free_port(), free_port()];
    let _haproxy = Haproxy::start(
        &[
            passthrough("v1", fronts[0], "", v1, "send-proxy"),
            passthrough("v2", fronts[1], "", v2, "send-proxy-v2"),
            passthrough("any1", fronts[2], "", any, "send-proxy"),
            passthrough("any2", fronts[3], "", any, "send-proxy-v2"),
        ]
        .concat(),
        &fronts,
    );
    for (i, front) in fronts.into_iter().enumerate() {
        let (sub_ip, pub_ip) = (format!("127.0.0.{}", 10 + i), format!("127.0.0.{}", 20 + i));
        let topic = format!("pp/{i}");
        let mut sub = Sub::start(front, &["-A", &sub_ip, "-t", &topic, "-C", "1", "-V", "5"]);
        let (ok, err) = publish_from(&pub_ip, front, &["-t", &topic, "-m", "hello", "-q", "1"]);
        assert!(ok, "{err}");
        assert_eq!(sub.next_message(), Some(format!("{topic} hello")), "frontend {i}");
        // Each was seen at its own address, the balancer's connection as `via`.
        for ip in [&sub_ip, &pub_ip] {
            proxy.wait_log(&format!("peer={ip}:"));
        }
    }
    // Every connection came through the balancer, and each says so.
    let log = proxy.log();
    let opened: Vec<&str> = log.lines().filter(|l| l.contains("connection opened")).collect();
    assert!(opened.len() >= 8, "{log}");
    assert!(opened.iter().all(|l| l.contains("via=127.0.0.1:")), "{log}");
}

#[test]
fn connections_without_a_valid_header_are_closed() {
    let broker = Mosquitto::start();
    let port = free_port();
    let tail = "limits:\n  connect_timeout: 1s\nmetrics:\n  bind: 127.0.0.1:0\n";
    let proxy =
        Proxy::start(&listeners_config(&broker.addr(), &[("v2", port, "    proxy_protocol: v2\n")], tail));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // A client that connects straight to the balanced port: its CONNECT is not a
    // header; it gets no CONNACK, only the close.
    let (mut direct, first) = Raw::connect(addr, Protocol::V311, "sneaky", 30);
    assert!(first.is_none(), "{first:?}");
    assert!(direct.recv_until_closed().is_empty());
    // A v1 line where v2 is configured; a v2 header whose length is over 536; a
    // silent peer (closed after the connect timeout).
    let mut v1 = Raw::open(addr, Protocol::V311);
    v1.send_bytes(b"PROXY TCP4 127.0.0.9 127.0.0.1 5000 1883\r\n");
    assert!(v1.recv_until_closed().is_empty());
    let mut long = Raw::open(addr, Protocol::V311);
    long.send_bytes(b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x02\x10");
    assert!(long.recv_until_closed().is_empty());
    let mut silent = Raw::open(addr, Protocol::V311);
    assert!(silent.recv_until_closed().is_empty());
    proxy.wait_metric("mqtt_proxy_connections_refused_total{reason=\"proxy_header\"} ", 4);
    let log = proxy.wait_log("PROXY v2 header of 544 bytes (at most 536)");
    assert!(log.contains("no PROXY protocol v2 header") && log.contains("why=timed out"), "{log}");
    // Nothing reached the broker, and the listener still serves a real header.
    assert!(!log.contains("session routed"), "{log}");
    let mut good = Raw::open(addr, Protocol::V311);
    good.send_bytes(&mqtt_proxy::proxy_protocol::encode_v2("127.0.0.9:5000".parse().unwrap(), addr));
    good.send(&connect_packet(Protocol::V311, "behind-the-balancer", 30));
    assert!(matches!(good.recv(), Some(mqtt_proxy::mqtt::Packet::ConnAck(_))));
    proxy.wait_log("peer=127.0.0.9:5000");
}

/// The failed-authentication throttle counts the balanced client's address, not
/// the balancer's: a guesser behind the balancer is throttled, its neighbour is not.
#[test]
fn the_auth_throttle_counts_the_clients_address() {
    let broker = Mosquitto::start();
    let port = free_port();
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/TEST-ONLY-jwks.json");
    let guard = format!(
        "guards:\n  - name: jwt\n    issuer: https://auth.example.com\n    audience: https://api.example.com\n    jwks_file: {jwks}\n    throttle: {{failures: 2, window: 60s, penalty: 10ms}}\n"
    );
    let yaml =
        listeners_config(&broker.addr(), &[("v2", port, "    proxy_protocol: v2\n    guard: jwt\n")], &guard);
    // One core: the throttle table is per core.
    let proxy = Proxy::start_with(&yaml, &["--cores", "1"]);
    let front = free_port();
    let _haproxy = Haproxy::start(&passthrough("v2", front, "", port, "send-proxy-v2"), &[front]);
    let good = bearer(
        serde_json::json!({"iss": "https://auth.example.com", "aud": "https://api.example.com", "sub": "device-1"}),
    );
    for _ in 0..2 {
        let (ok, _) = publish_from("127.0.0.31", front, &["-t", "t", "-m", "x", "-u", "Bearer guess"]);
        assert!(!ok, "a bad token was accepted");
    }
    let (ok, _) = publish_from("127.0.0.31", front, &["-t", "t", "-m", "x", "-u", &good]);
    assert!(!ok, "the guesser's address was not throttled");
    proxy.wait_log("reason=throttled");
    let (ok, err) = publish_from("127.0.0.32", front, &["-t", "t", "-m", "x", "-u", &good]);
    assert!(ok, "a neighbour behind the same balancer was throttled too: {err}");
}

/// HAProxy terminates TLS, verifies the client certificate and passes its common
/// name in the v2 SSL TLV; the proxy names the session by it, as it would a
/// certificate it verified itself.
#[test]
fn a_certificate_verified_by_the_balancer_names_the_session() {
    let pki = Pki::new();
    let broker = Mosquitto::start();
    let port = free_port();
    let listener = "    proxy_protocol: v2\n    proxy_protocol_tls_identity: true\n    acl:\n      subscribe: [\"devices/{sub}/#\"]\n";
    let _proxy = Proxy::start(&listeners_config(&broker.addr(), &[("cn", port, listener)], ""));
    let combined = pki.dir.path().join("haproxy.pem");
    let pem = std::fs::read_to_string(&pki.server_cert).unwrap()
        + &std::fs::read_to_string(&pki.server_key).unwrap();
    std::fs::write(&combined, pem).expect("write");
    let front = free_port();
    let bind = format!("ssl crt {} ca-file {} verify required", combined.display(), pki.ca.display());
    let _haproxy = Haproxy::start(&passthrough("cn", front, &bind, port, "send-proxy-v2-ssl-cn"), &[front]);
    let ca = pki.ca.display().to_string();
    let (cert, key) = (pki.client_cert.display().to_string(), pki.client_key.display().to_string());
    let tls = ["--cafile", &ca, "--cert", &cert, "--key", &key, "-V", "5"];
    // The certificate's CN is device-42: its own topics are allowed.
    let mut sub = Sub::start(front, &[&tls[..], &["-t", "devices/device-42/#", "-C", "1"]].concat());
    publish(broker.port, &["-t", "devices/device-42/temp", "-m", "21.5"]);
    assert_eq!(sub.next_message().as_deref(), Some("devices/device-42/temp 21.5"));
    // Another device's are not (SUBACK 0x87; mosquitto_sub gives up).
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &front.to_string(), "-d", "-t", "devices/device-7/#"])
        .args(tls)
        .output()
        .expect("mosquitto_sub");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("All subscription requests were denied"), "{text}");
}

/// A proxy whose upstream has `proxy_protocol: v2` tells the broker side who the
/// client is; here the "broker" is a second proxy that reads the header. Its
/// health probes send LOCAL headers (the second proxy keeps their socket address).
#[test]
fn brokers_are_sent_a_v2_header_naming_the_client() {
    let broker = Mosquitto::start();
    let inner_port = free_port();
    let inner = Proxy::start(&listeners_config(
        &broker.addr(),
        &[("balanced", inner_port, "    proxy_protocol: v2\n")],
        "",
    ));
    let outer_yaml = common::proxy::config(&[format!("127.0.0.1:{inner_port}")], "").replace(
        "    connect_timeout: 5s\n",
        "    connect_timeout: 5s\n    proxy_protocol: v2\n    health_check: {interval: 100ms, timeout: 1s}\n",
    );
    let outer = Proxy::start(&outer_yaml);
    let mut sub = Sub::start(outer.port(), &["-A", "127.0.0.41", "-t", "chain", "-C", "1"]);
    let (ok, err) = publish_from("127.0.0.42", outer.port(), &["-t", "chain", "-m", "through two proxies"]);
    assert!(ok, "{err}");
    assert_eq!(sub.next_message().as_deref(), Some("chain through two proxies"));
    for ip in ["127.0.0.41", "127.0.0.42"] {
        let log = inner.wait_log(&format!("peer={ip}:"));
        assert!(log.contains("via=127.0.0.1:"), "{log}");
    }
    // A probe's session reached the broker through the inner proxy, under its own address.
    let log = inner.wait_log("client_id=\"mqtt-proxy-probe-");
    assert!(!log.contains("reason=proxy_header"), "{log}");
}

/// Route conditions see the balanced client's address: `source` ranges send
/// clients of one network to their own broker.
#[test]
fn route_conditions_see_the_balanced_address() {
    let (a, b) = (Mosquitto::start(), Mosquitto::start());
    let port = free_port();
    let yaml = format!(
        "listeners:\n  - name: v2\n    bind: 127.0.0.1:{port}\n    upstream: a\n    proxy_protocol: v2\n\
         upstreams:\n  - name: a\n    servers: [\"{}\"]\n  - name: b\n    servers: [\"{}\"]\n\
         routes:\n  - source: [\"192.0.2.0/24\"]\n    upstream: b\n",
        a.addr(),
        b.addr()
    );
    let _proxy = Proxy::start(&yaml);
    let (mut on_a, mut on_b) = (Sub::start(a.port, &["-t", "site/#"]), Sub::start(b.port, &["-t", "site/#"]));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for (source, id, topic) in
        [("192.0.2.10:5000", "plant-b", "site/b"), ("198.51.100.7:5000", "plant-a", "site/a")]
    {
        let mut c = Raw::open(addr, Protocol::V311);
        c.send_bytes(&mqtt_proxy::proxy_protocol::encode_v2(source.parse().unwrap(), addr));
        c.send(&connect_packet(Protocol::V311, id, 30));
        assert!(matches!(c.recv(), Some(mqtt_proxy::mqtt::Packet::ConnAck(_))), "{id}");
        let p = mqtt_proxy::mqtt::Publish {
            qos: mqtt_proxy::mqtt::QoS::AtLeastOnce,
            pkid: 1,
            ..mqtt_proxy::mqtt::Publish::new(
                mqtt_proxy::mqtt::MqttStr::try_from(topic.to_string()).unwrap(),
                bytes::Bytes::from_static(b"hello"),
            )
        };
        c.send(&mqtt_proxy::mqtt::Packet::Publish(p));
        assert!(matches!(c.recv(), Some(mqtt_proxy::mqtt::Packet::Ack(_))), "{id}: PUBACK");
    }
    assert_eq!(on_b.next_message().as_deref(), Some("site/b hello"));
    assert_eq!(on_a.next_message().as_deref(), Some("site/a hello"));
}
