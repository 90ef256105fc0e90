//! Config reloads end to end (SIGHUP and `--watch`), against a real Mosquitto:
//! listeners added and removed on every core, open sessions kept (or, on a removed
//! listener, ended with DISCONNECT 0x8B after the shutdown timeout), a bad config
//! refused with the `--check-config` error while the running one stays, a changed
//! schema file picked up by `--watch`, and reloads under load (mqtt-loadtest)
//! that lose no message and drop no connection.

mod common;
use common::broker::Mosquitto;
use common::proxy::Proxy;
use common::raw::Raw;
use mqtt_proxy::mqtt::{self, Packet, Protocol, ReasonCode};
use std::net::SocketAddr;
use std::process::Command;

fn two_listeners(broker: &str, names: &[&str], tail: &str) -> String {
    let mut y = String::from("listeners:\n");
    for n in names {
        y += &format!("  - name: {n}\n    bind: 127.0.0.1:0\n    upstream: broker\n");
    }
    y + &format!(
        "upstreams:\n  - name: broker\n    servers: [\"{broker}\"]\nshutdown_timeout: 1s\nmetrics:\n  bind: 127.0.0.1:0\n{tail}"
    )
}

fn connack(addr: SocketAddr, id: &'static str) -> (Raw, ReasonCode) {
    match Raw::connect(addr, Protocol::V5, id, 30) {
        (c, Some(Packet::ConnAck(a))) => (c, a.reason),
        (_, other) => panic!("expected CONNACK from {addr}, got {other:?}"),
    }
}

#[test]
fn sighup_adds_and_removes_listeners_and_keeps_open_sessions() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&two_listeners(&broker.addr(), &["a", "kept"], ""));
    let a = proxy.addr;
    let kept = proxy.wait_listener("kept");
    let (mut on_a, rc) = connack(a, "on-a");
    assert_eq!(rc, ReasonCode::Success);
    let (mut on_kept, rc) = connack(kept, "on-kept");
    assert_eq!(rc, ReasonCode::Success);
    // `a` goes, `b` comes, `kept` stays.
    proxy.reload(&two_listeners(&broker.addr(), &["kept", "b"], ""));
    let b = proxy.wait_listener("b");
    proxy.wait_log("config reloaded");
    let (_on_b, rc) = connack(b, "on-b");
    assert_eq!(rc, ReasonCode::Success);
    // Every core closed `a`: nothing accepts there any more.
    for _ in 0..8 {
        assert!(std::net::TcpStream::connect(a).is_err(), "removed listener {a} still accepts");
    }
    // The session on `a` is told to go after the shutdown timeout (1 s)...
    match on_a.recv() {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, ReasonCode::ServerShuttingDown),
        other => panic!("expected DISCONNECT 0x8B, got {other:?}"),
    }
    // ...while the one on `kept` goes on, under the snapshot it was admitted with.
    on_kept.send(&Packet::PingReq);
    assert!(matches!(on_kept.recv(), Some(Packet::PingResp)));
    let out = proxy.wait_stdout("ready listener=b");
    assert_eq!(
        out.matches("ready listener=kept").count(),
        1,
        "an unchanged listener is not bound again:\n{out}"
    );
    proxy.wait_metric("mqtt_proxy_config_reloads_total{result=\"applied\"} ", 1);
}

#[test]
fn a_bad_config_is_refused_and_the_running_one_stays() {
    let broker = Mosquitto::start();
    let good = two_listeners(&broker.addr(), &["a"], "");
    let proxy = Proxy::start(&good);
    let bad = good.replace("upstream: broker\n", "upstream: nowhere\n");
    proxy.reload(&bad);
    let log = proxy.wait_log("config reload refused");
    // The same words `--check-config` prints for that file.
    let check = Command::new(env!("CARGO_BIN_EXE_mqtt-proxy"))
        .arg("--config")
        .arg(proxy.config_path())
        .arg("--check-config")
        .output()
        .expect("mqtt-proxy --check-config");
    assert!(!check.status.success());
    let said = String::from_utf8_lossy(&check.stderr);
    let said = said.trim().strip_prefix("mqtt-proxy: ").expect("prefix");
    assert!(said.contains("no upstream named `nowhere`"), "{said}");
    assert!(log.contains(said), "reload error differs from --check-config:\n{said}\n{log}");
    proxy.wait_metric("mqtt_proxy_config_reloads_total{result=\"refused\"} ", 1);
    let (_c, rc) = connack(proxy.addr, "still-served");
    assert_eq!(rc, ReasonCode::Success);
    assert!(!proxy.log().contains("config reloaded"));
}

/// With `--watch`, a schema file the config names is a reason to reload: a payload
/// valid under the old schema is refused under the new one (5.0: PUBACK 0x99).
#[test]
fn watch_reloads_when_a_file_the_config_names_changes() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = dir.path().join("reading.json");
    std::fs::write(&schema, r#"{"type":"object","required":["a"]}"#).expect("write");
    let tail = format!(
        "catalogs:\n  - name: files\n    filesystem:\n      reading: {}\nschemas:\n  - filter: readings/#\n    content: {{model: json, catalog: files, subject: reading}}\n",
        schema.display()
    );
    let proxy =
        Proxy::start_with(&two_listeners(&broker.addr(), &["a"], &tail), &["--cores", "2", "--watch", "100"]);
    let publish = |id: &'static str, pkid: u16| -> ReasonCode {
        let (mut c, rc) = connack(proxy.addr, id);
        assert_eq!(rc, ReasonCode::Success);
        let p = mqtt::Publish {
            qos: mqtt::QoS::AtLeastOnce,
            pkid,
            ..mqtt::Publish::new(
                mqtt::MqttStr::from_static("readings/1"),
                bytes::Bytes::from_static(b"{\"a\":1}"),
            )
        };
        c.send(&Packet::Publish(p));
        match c.recv() {
            Some(Packet::Ack(a)) => a.reason,
            other => panic!("expected PUBACK, got {other:?}"),
        }
    };
    assert_eq!(publish("before", 1), ReasonCode::NoMatchingSubscribers);
    std::fs::write(&schema, r#"{"type":"object","required":["b"]}"#).expect("write");
    let log = proxy.wait_log("config reloaded");
    assert!(log.contains("trigger=\"a watched file changed\""), "{log}");
    assert_eq!(publish("after", 2), ReasonCode::PayloadFormatInvalid);
}

/// mqtt-loadtest at a steady QoS 1 rate through the proxy while its config is
/// reloaded over and over (a listener added and removed each time): every message
/// arrives once, in order, and no client loses its connection.
#[test]
fn reloads_under_load_lose_nothing_and_drop_no_connection() {
    let loadtest = std::path::Path::new(env!("CARGO_BIN_EXE_mqtt-proxy")).with_file_name("mqtt-loadtest");
    assert!(loadtest.exists(), "{} not built (cargo test --workspace builds it)", loadtest.display());
    let broker = Mosquitto::start();
    let (one, two) =
        (two_listeners(&broker.addr(), &["a"], ""), two_listeners(&broker.addr(), &["a", "extra"], ""));
    let proxy = Proxy::start(&one);
    let run = std::process::Command::new(&loadtest)
        .args(["pubsub", "--addr", &proxy.addr.to_string(), "--publishers", "4", "--subscribers", "2"])
        .args(["--qos", "1", "--rate", "200", "--duration", "5", "--version", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("mqtt-loadtest");
    // Every client is in session before the first reload.
    proxy.wait_log_count("session routed", 6);
    let mut applied = 0;
    for i in 0..8 {
        proxy.reload(if i % 2 == 0 { &two } else { &one });
        applied += 1;
        proxy.wait_metric("mqtt_proxy_config_reloads_total{result=\"applied\"} ", applied);
    }
    let out = run.wait_with_output().expect("mqtt-loadtest");
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let sent = r["sent"].as_u64().expect("sent");
    assert!(sent > 0, "{r}");
    assert_eq!(r["received"].as_u64(), Some(2 * sent), "{r}");
    assert_eq!((r["lost"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(0)), "{r}");
    assert_eq!(r["errors_by_kind"], serde_json::json!({}), "{r}");
    assert!(!proxy.log().contains("reason=shutdown"), "a session was ended by a reload");
}
