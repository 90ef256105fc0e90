//! mosquitto_pub / mosquitto_sub through the proxy to a real Mosquitto, for MQTT
//! 3.1.1 and 5.0: QoS 0/1/2, retained messages, wills of killed clients, 1 MiB
//! payloads, persistent sessions.

mod common;
use common::broker::Mosquitto;
use common::cli::{publish, Sub};
use common::proxy::{config, Proxy};
use std::io::Write;
use std::process::{Command, Stdio};

fn setup() -> (Mosquitto, Proxy) {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "limits:\n  max_packet_size: 4194304\n"));
    (broker, proxy)
}

#[test]
fn qos_0_1_2_both_versions() {
    let (_b, proxy) = setup();
    let p = proxy.port();
    for v in ["311", "5"] {
        for q in ["0", "1", "2"] {
            let topic = format!("qos/{v}/{q}");
            let mut sub = Sub::start(p, &["-V", v, "-q", q, "-t", &topic, "-C", "1"]);
            publish(p, &["-V", v, "-q", q, "-t", &topic, "-m", "hello"]);
            assert_eq!(
                sub.next_message().as_deref(),
                Some(format!("{topic} hello").as_str()),
                "v{v} QoS {q}"
            );
            assert!(sub.wait(), "mosquitto_sub v{v} QoS {q} exited with an error");
        }
    }
    let log = proxy.log();
    assert!(log.contains("protocol=3.1.1") && log.contains("protocol=5.0"), "{log}");
}

#[test]
fn retained_message_reaches_a_later_subscriber() {
    let (_b, proxy) = setup();
    let p = proxy.port();
    for v in ["311", "5"] {
        let topic = format!("retained/{v}");
        publish(p, &["-V", v, "-q", "1", "-r", "-t", &topic, "-m", "kept"]);
        let mut sub = Sub::start(p, &["-V", v, "-t", &topic, "-C", "1"]);
        assert_eq!(sub.next_message().as_deref(), Some(format!("{topic} kept").as_str()));
    }
}

#[test]
fn will_is_published_when_a_client_is_killed() {
    let (broker, proxy) = setup();
    for v in ["311", "5"] {
        let will_topic = format!("will/{v}");
        // Watch the will topic directly on the broker.
        let mut watcher = Sub::start(broker.port, &["-V", "5", "-t", &will_topic, "-C", "1"]);
        // A device with a will, through the proxy; it is killed without DISCONNECT.
        let device = Sub::start(
            proxy.port(),
            &[
                "-V",
                v,
                "-t",
                "device/cmd",
                "--will-topic",
                &will_topic,
                "--will-payload",
                "device lost",
                "--will-qos",
                "1",
            ],
        );
        drop(device); // SIGKILL: the socket closes without DISCONNECT
        assert_eq!(watcher.next_message().as_deref(), Some(format!("{will_topic} device lost").as_str()));
    }
}

#[test]
fn will_is_not_published_after_a_clean_disconnect() {
    let (broker, proxy) = setup();
    let mut watcher = Sub::start(broker.port, &["-V", "5", "-t", "will/clean", "-t", "marker", "-C", "1"]);
    // Subscribe with a will and exit cleanly (-E: disconnect after SUBACK).
    let out = Command::new("mosquitto_sub")
        .args(["-p", &proxy.port().to_string(), "-V", "5", "-t", "x", "-E"])
        .args(["--will-topic", "will/clean", "--will-payload", "should not appear"])
        .output()
        .expect("mosquitto_sub");
    assert!(out.status.success());
    proxy.wait_log("reason=client_disconnect");
    // A marker sent after the clean exit is what the watcher must see first.
    publish(broker.port, &["-V", "5", "-t", "marker", "-m", "after"]);
    assert_eq!(watcher.next_message().as_deref(), Some("marker after"));
}

#[test]
fn one_mebibyte_payload_both_versions() {
    let (_b, proxy) = setup();
    let p = proxy.port();
    let body = "m".repeat(1 << 20);
    for v in ["311", "5"] {
        let topic = format!("big/{v}");
        let mut sub = Sub::start(p, &["-V", v, "-q", "1", "-t", &topic, "-C", "1"]);
        let mut child = Command::new("mosquitto_pub")
            .args(["-p", &p.to_string(), "-V", v, "-q", "1", "-t", &topic, "-s"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("mosquitto_pub");
        child.stdin.take().expect("stdin").write_all(body.as_bytes()).expect("write");
        assert!(child.wait().expect("wait").success());
        let got = sub.next_message().expect("message");
        assert_eq!(got.len(), topic.len() + 1 + body.len());
        assert!(got.ends_with(&body[..1000]));
    }
}

#[test]
fn persistent_session_survives_reconnect() {
    let (_b, proxy) = setup();
    let p = proxy.port();
    for v in ["311", "5"] {
        let id = format!("persist-{v}");
        let topic = format!("persist/{v}");
        // Subscribe with a persistent session (-c; v5 needs a session expiry), then leave.
        let mut args = vec!["-p".to_string(), p.to_string(), "-V".into(), v.into(), "-q".into(), "1".into()];
        args.extend(["-c", "-i", &id, "-t", &topic, "-E"].map(String::from));
        if v == "5" {
            args.extend(["-x", "300"].map(String::from));
        }
        assert!(Command::new("mosquitto_sub").args(&args).status().expect("sub").success());
        // While it is away, a QoS 1 message is queued by the broker for its session.
        publish(p, &["-V", v, "-q", "1", "-t", &topic, "-m", "queued"]);
        // Back with the same id and no clean start: the session is present and the
        // queued message is delivered.
        // (The queued message may arrive before the SUBACK, so run it to completion.)
        let mut again = vec![
            "-p".to_string(),
            p.to_string(),
            "-v".into(),
            "-q".into(),
            "1".into(),
            "-V".into(),
            v.into(),
        ];
        again.extend(["-c", "-i", &id, "-t", &topic, "-C", "1", "-W", "10"].map(String::from));
        if v == "5" {
            again.extend(["-x", "300"].map(String::from));
        }
        let out = Command::new("mosquitto_sub").args(&again).output().expect("sub");
        assert!(out.status.success(), "v{v}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{topic} queued"), "v{v}");
    }
}

/// `limits.session_expiry_max`: a 5.0 client asking for longer is capped, and its
/// CONNACK says so; one asking for less keeps its own.
#[test]
fn session_expiry_is_capped_and_the_client_told() {
    use common::raw::{connect_packet, Raw};
    use mqtt_proxy::mqtt::{Packet, Protocol};
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "limits:\n  session_expiry_max: 60\n"));
    let connack = |asked: u32, id: &'static str| {
        let mut c = Raw::open(proxy.addr, Protocol::V5);
        let mut p = connect_packet(Protocol::V5, id, 30);
        if let Packet::Connect(c) = &mut p {
            c.properties.session_expiry_interval = Some(asked);
        }
        c.send(&p);
        match c.recv() {
            Some(Packet::ConnAck(a)) => a.properties.session_expiry_interval,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(connack(3600, "long"), Some(60));
    assert_eq!(connack(30, "short"), None, "30 s is within the cap: nothing to say");
}
