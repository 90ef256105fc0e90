//! The Prometheus endpoint counts what happened: sessions by close reason, refusals,
//! traffic in both directions, open connections.

mod common;
use common::broker::{free_port, Mosquitto};
use common::proxy::{config, Proxy};
use common::raw::Raw;
use mqtt_proxy::mqtt::{MqttStr, Packet, Protocol, Publish};
use std::io::{Read, Write};
use std::net::TcpStream;

fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .trim()
        .parse()
        .expect("number")
}

#[test]
fn counters_follow_sessions_refusals_and_traffic() {
    let broker = Mosquitto::start();
    let yaml = config(&[broker.addr()], "metrics:\n  bind: 127.0.0.1:0\n");
    let proxy = Proxy::start(&yaml);
    assert!(proxy.metrics.is_some(), "metrics address");

    // A session that publishes and says goodbye.
    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V311, "counted", 30);
    c.send(&Packet::Publish(Publish::new(MqttStr::from_static("m/t"), bytes::Bytes::from_static(b"12345"))));
    c.send(&Packet::Disconnect(Default::default()));
    assert_eq!(c.recv_until_closed(), vec![]);
    // A session that breaks the protocol (QoS 3).
    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V311, "broken", 30);
    c.send_bytes(&[0x36, 0x05, 0, 1, b'a', 0, 1]);
    assert_eq!(c.recv_until_closed(), vec![]);
    // A connection that never sends CONNECT properly.
    let mut c = Raw::open(proxy.addr, Protocol::V5);
    c.send_bytes(b"hello");
    assert_eq!(c.recv_until_closed(), vec![]);
    // One still open.
    let (_open, _) = Raw::connect(proxy.addr, Protocol::V5, "open", 30);
    proxy.wait_log_count("connection closed", 2);

    let text = proxy.scrape();
    assert_eq!(value(&text, "mqtt_proxy_cores"), 2);
    assert_eq!(value(&text, "mqtt_proxy_connections_accepted_total"), 4);
    assert_eq!(value(&text, "mqtt_proxy_connections_open"), 1);
    assert_eq!(value(&text, "mqtt_proxy_sessions_closed_total{reason=\"client_disconnect\"}"), 1);
    assert_eq!(value(&text, "mqtt_proxy_sessions_closed_total{reason=\"client_protocol_error\"}"), 1);
    assert_eq!(value(&text, "mqtt_proxy_connections_refused_total{reason=\"bad_connect\"}"), 1);
    assert_eq!(value(&text, "mqtt_proxy_connects_total{result=\"admitted\"}"), 3);
    assert_eq!(value(&text, "mqtt_proxy_connects_total{result=\"refused\"}"), 1);
    // CONNECT (19) + PUBLISH (2+2+3+5) + DISCONNECT (2) from the first client at least.
    assert!(value(&text, "mqtt_proxy_bytes_up_total") >= 19 + 12 + 2);
    assert!(value(&text, "mqtt_proxy_packets_down_total") >= 3, "CONNACKs");
}

#[test]
fn upstream_refusals_are_counted_and_other_paths_are_404() {
    let yaml = config(&[format!("127.0.0.1:{}", free_port())], "metrics:\n  bind: 127.0.0.1:0\n");
    let proxy = Proxy::start(&yaml);
    let (_c, _) = Raw::connect(proxy.addr, Protocol::V5, "nobroker", 30);
    proxy.wait_log("refused: upstream unavailable");
    let text = proxy.scrape();
    assert_eq!(value(&text, "mqtt_proxy_connections_refused_total{reason=\"upstream_unavailable\"}"), 1);
    let mut s = TcpStream::connect(proxy.metrics.expect("metrics")).expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("request");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("response");
    assert!(body.starts_with("HTTP/1.1 404"), "{body}");
}

#[test]
fn clients_trickling_a_request_do_not_hold_the_metrics_endpoint() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "metrics:\n  bind: 127.0.0.1:0\n"));
    let addr = proxy.metrics.expect("metrics");
    // Six clients each send a request one byte every 300 ms, for ever: each read
    // comes well within any per-read timeout.
    let tricklers: Vec<_> = (0..6)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            std::thread::spawn(move || {
                for b in b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter().chain(std::iter::repeat(&b'a')) {
                    if s.write_all(&[*b]).is_err() {
                        return;
                    }
                    // Pacing the hostile client, not waiting for the proxy.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
            })
        })
        .collect();
    // A scrape still gets its answer (each request has 2 s in all; four workers).
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(15))).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("request");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("an answer while slow clients are connected");
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    // And the slow ones were cut off.
    for t in tricklers {
        t.join().expect("trickler");
    }
}

/// Drops and ACL refusals are counted as they happen, not when the session ends:
/// a long-lived device's refused publishes show up while it is still connected.
#[test]
fn drops_are_counted_while_the_session_lives() {
    let broker = Mosquitto::start();
    let yaml = config(&[broker.addr()], "metrics:\n  bind: 127.0.0.1:0\n").replace(
        "    upstream: broker\n",
        "    upstream: broker\n    acl:\n      publish: [\"allowed/#\"]\n",
    );
    let proxy = Proxy::start(&yaml);
    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V5, "long-lived", 30);
    for _ in 0..3 {
        c.send(&Packet::Publish(Publish::new(
            MqttStr::from_static("denied/t"),
            bytes::Bytes::from_static(b"x"),
        )));
    }
    proxy.wait_metric("mqtt_proxy_messages_dropped_total{reason=\"acl_denied\"} ", 3);
    proxy.wait_metric("mqtt_proxy_acl_denied_publish_total ", 3);
    // Still connected: the counts did not wait for the end.
    c.send(&Packet::PingReq);
    assert!(matches!(c.recv(), Some(Packet::PingResp)));
    // And the end does not count them twice.
    c.send(&Packet::Disconnect(Default::default()));
    proxy.wait_log("client_id=\"long-lived\" protocol=5.0");
    assert_eq!(value(&proxy.scrape(), "mqtt_proxy_acl_denied_publish_total"), 3);
}
