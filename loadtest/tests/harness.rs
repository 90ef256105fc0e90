//! Tests of the harness itself, against a real Mosquitto: a short `pubsub` run at
//! QoS 1 counts every message (no loss, duplicates or reordering over a healthy
//! broker) and writes valid JSON; a `fleet` run gets every acknowledged message
//! back to the device that sent it; `connect` mints JWTs that the proxy's
//! `config/jwt.yaml` guard accepts. (`fleet` across failures: tests/cluster.rs.)

#[path = "../../tests/common/broker.rs"]
mod broker;
#[path = "../../tests/common/shipped.rs"]
mod shipped;

use broker::Mosquitto;
use std::process::Command;

fn loadtest(args: &[&str]) -> serde_json::Value {
    let out =
        Command::new(env!("CARGO_BIN_EXE_mqtt-loadtest")).args(args).output().expect("run mqtt-loadtest");
    assert!(out.status.success(), "mqtt-loadtest {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).expect("utf-8");
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

#[test]
fn pubsub_counts_every_message_at_qos1_and_writes_json() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("out.json");
    for (qos, version) in [("1", "3"), ("2", "5")] {
        let r = loadtest(&[
            "pubsub",
            "--addr",
            &broker.addr(),
            "--publishers",
            "3",
            "--subscribers",
            "2",
            "--qos",
            qos,
            "--version",
            version,
            "--rate",
            "200",
            "--duration",
            "2",
            "--json",
            file.to_str().expect("path"),
        ]);
        let sent = r["sent"].as_u64().expect("sent");
        assert!(sent > 0);
        assert_eq!(
            r["received"].as_u64(),
            Some(sent * 2),
            "QoS {qos}: every message to both subscribers: {r}"
        );
        assert_eq!(
            (r["lost"].as_u64(), r["duplicates"].as_u64(), r["reordered"].as_u64()),
            (Some(0), Some(0), Some(0))
        );
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("json file"))
                .expect("valid JSON file");
        assert_eq!(written, r);
    }
}

#[test]
fn fleet_gets_back_every_acknowledged_message_on_persistent_sessions() {
    let broker = Mosquitto::start();
    for version in ["3", "5"] {
        let r = loadtest(&[
            "fleet",
            "--addr",
            &broker.addr(),
            "--devices",
            "20",
            "--rate",
            "20",
            "--duration",
            "2",
            "--ramp-ms",
            "100",
            "--version",
            version,
        ]);
        let acked = r["acked"].as_u64().expect("acked");
        assert!(acked > 0, "{r}");
        assert_eq!(r["sent"].as_u64(), Some(acked), "all acknowledged by the end: {r}");
        assert_eq!(r["received"].as_u64(), Some(acked), "every message came back to its device: {r}");
        for zero in ["acked_lost", "duplicates", "lost_with_session", "unacked", "unknown", "reconnects"] {
            assert_eq!(r[zero].as_u64(), Some(0), "{zero}: {r}");
        }
        assert_eq!(r["errors_by_kind"], serde_json::json!({}), "{r}");
        assert!(r["client_id_prefix"].as_str().is_some_and(|p| p.starts_with("fleet-")), "{r}");
    }
}

#[test]
fn connect_mints_tokens_the_proxy_accepts() {
    let broker = Mosquitto::start();
    // The proxy binary of the workspace, built by `cargo test --workspace`.
    let exe = std::env::current_exe().expect("exe");
    let proxy_bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("mqtt-proxy");
    assert!(proxy_bin.exists(), "{} not built (run the workspace's tests)", proxy_bin.display());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let proxy = shipped::ShippedJwtProxy::start(&proxy_bin, broker.port, std::path::Path::new(root));
    let addrs: Vec<String> = proxy.addrs.iter().map(|a| a.to_string()).collect();
    let key = format!("{root}/tests/fixtures/jwt/TEST-ONLY-rsa-private.pem");
    let ca = format!("{root}/tests/fixtures/tls/TEST-ONLY-ca.pem");
    let jwt = [
        "--jwt-key",
        key.as_str(),
        "--jwt-kid",
        "example",
        "--jwt-iss",
        "https://auth.example.com",
        "--jwt-aud",
        "https://api.example.com",
        "--count",
        "50",
        "--concurrency",
        "4",
        "--unique",
    ];
    let plain = loadtest(&[&["connect", "--addr", addrs[0].as_str()][..], &jwt[..]].concat());
    assert_eq!((plain["ok"].as_u64(), plain["errors"].as_u64()), (Some(50), Some(0)), "{plain}");
    let tls = loadtest(
        &[&["connect", "--addr", addrs[1].as_str(), "--tls-ca", ca.as_str()][..], &jwt[..]].concat(),
    );
    assert_eq!((tls["ok"].as_u64(), tls["errors"].as_u64()), (Some(50), Some(0)), "{tls}");
    // At a target rate.
    let paced =
        loadtest(&[&["connect", "--addr", addrs[0].as_str(), "--rate", "200"][..], &jwt[..]].concat());
    assert_eq!(paced["ok"].as_u64(), Some(50), "{paced}");
    assert!(
        paced["seconds"].as_f64().unwrap_or(0.0) >= 0.2,
        "50 connections at 200/s take at least 0.245 s: {paced}"
    );
    // Without a token every connection is refused, and counted as an error.
    let none = loadtest(&["connect", "--addr", addrs[0].as_str(), "--count", "5", "--concurrency", "1"]);
    assert_eq!((none["ok"].as_u64(), none["errors"].as_u64()), (Some(0), Some(5)), "{none}");
    assert_eq!(none["errors_by_kind"]["refused"].as_u64(), Some(5), "{none}");
}

#[test]
fn idle_holds_connections_from_several_source_addresses() {
    let broker = Mosquitto::start();
    let r = loadtest(&[
        "idle",
        "--addr",
        &broker.addr(),
        "--connections",
        "60",
        "--hold",
        "1",
        "--keep-alive",
        "2",
        "--source-ips",
        "127.0.0.2-127.0.0.4",
    ]);
    assert_eq!(r["connections"].as_u64(), Some(60), "{r}");
    assert_eq!(r["write_errors"].as_u64(), Some(0), "{r}");
    assert!(r["pings"].as_u64().unwrap_or(0) >= 60, "{r}");
}
