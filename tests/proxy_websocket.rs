//! MQTT over WebSocket end to end: MQTT.js (from the npm registry) under Node over
//! `ws` (3.1.1 and 5.0) and `wss`, with the JWT in the user name, and MQTT.js's
//! browser bundle in headless Chromium (Debian's), through the proxy to a real
//! Mosquitto, which sees plain MQTT. Bad upgrades get their HTTP answer, text
//! frames and protocol errors their close status, and the listener keeps serving.

mod common;
use common::broker::{free_port, Mosquitto};
use common::cli::Sub;
use common::proxy::Proxy;
use common::tokens::bearer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Installs MQTT.js and playwright-core once into tests/websocket (lock file).
fn clients() -> PathBuf {
    let dir = Path::new(ROOT).join("tests/websocket");
    common::npm::install(
        &dir,
        &["node_modules/mqtt/package.json", "node_modules/playwright-core/package.json"],
    );
    dir
}

/// A guarded proxy with a `ws` listener on `ws` and a `wss` one on `wss`.
fn start(broker: &Mosquitto, ws: u16, wss: u16) -> Proxy {
    let jwks = format!("{ROOT}/tests/fixtures/jwt/TEST-ONLY-jwks.json");
    let tls = format!("{ROOT}/tests/fixtures/tls/TEST-ONLY-localhost");
    Proxy::start(&format!(
        "listeners:\n\
         \x20 - name: ws\n    bind: 127.0.0.1:{ws}\n    upstream: broker\n    guard: jwt\n    websocket: {{path: /mqtt}}\n\
         \x20 - name: wss\n    bind: 127.0.0.1:{wss}\n    upstream: broker\n    guard: jwt\n    websocket: {{}}\n    tls:\n      cert: {tls}.pem\n      key: {tls}.key\n\
         upstreams:\n  - name: broker\n    servers: [\"{}\"]\n\
         guards:\n  - name: jwt\n    issuer: https://auth.example.com\n    audience: https://api.example.com\n    jwks_file: {jwks}\n\
         metrics:\n  bind: 127.0.0.1:0\n",
        broker.addr()
    ))
}

fn token(sub: &str) -> String {
    bearer(
        serde_json::json!({"iss": "https://auth.example.com", "aud": "https://api.example.com", "sub": sub}),
    )
}

fn node(dir: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new("node").arg(dir.join(script)).args(args).output().expect("node");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!("{script}: not JSON ({e}): {text}{}", String::from_utf8_lossy(&out.stderr))
    });
    assert!(out.status.success() && v["ok"] == true, "{script} {args:?}: {v}");
    v
}

#[test]
fn mqttjs_under_node_over_ws_and_wss() {
    let dir = clients();
    let broker = Mosquitto::start();
    let (ws, wss) = (free_port(), free_port());
    let proxy = start(&broker, ws, wss);
    let user = token("device-ws");
    let ca = format!("{ROOT}/tests/fixtures/tls/TEST-ONLY-ca.pem");
    // A plain TCP client of the broker itself sees what the WebSocket clients publish.
    let mut direct = Sub::start(broker.port, &["-t", "ws/#", "-C", "3"]);
    for (url, version, ca) in [
        (format!("ws://127.0.0.1:{ws}/mqtt"), "4", None),
        (format!("ws://127.0.0.1:{ws}/mqtt"), "5", None),
        (format!("wss://127.0.0.1:{wss}/mqtt"), "5", Some(ca.as_str())),
    ] {
        let topic = format!("ws/{version}/{}", url.split(':').next().unwrap_or_default());
        let mut args = vec![url.as_str(), version, user.as_str(), topic.as_str()];
        args.extend(ca);
        let v = node(&dir, "pubsub.mjs", &args);
        assert_eq!(v["payload"], format!("hello from MQTT.js v{version}"), "{v}");
        assert_eq!(direct.next_message(), Some(format!("{topic} hello from MQTT.js v{version}")));
    }
    let log = proxy.log();
    assert!(log.contains("subject=device-ws"), "the token in the user name was verified:\n{log}");
    assert!(log.contains("listener=wss"), "{log}");
    // Without a token: refused like on TCP (MQTT.js reports the CONNACK).
    let out = Command::new("node")
        .arg(dir.join("pubsub.mjs"))
        .args([&format!("ws://127.0.0.1:{ws}/mqtt"), "5", "Bearer nope", "ws/x"])
        .output()
        .expect("node");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Not authorized"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn mqttjs_in_headless_chromium() {
    let dir = clients();
    let broker = Mosquitto::start();
    let (ws, wss) = (free_port(), free_port());
    let _proxy = start(&broker, ws, wss);
    // The screenshot is a test artifact: target/test-artifacts/websocket-chromium.png.
    let artifacts = Path::new(ROOT).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts folder");
    let shot = artifacts.join("websocket-chromium.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("ws://127.0.0.1:{ws}/mqtt");
    let v = node(&dir, "browser.mjs", &[&url, &token("browser-1"), "browser/hello", shot.to_str().unwrap()]);
    assert_eq!(v["status"], "received: hello from Chromium", "{v}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 1000, "not a PNG");
}

/// Sends `request`; returns everything the proxy answers until it closes.
fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(request).expect("write");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    answer
}

fn upgrade(path: &str, protocol: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{protocol}\r\n"
    )
}

/// A masked client frame.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut v = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    v.extend_from_slice(&mask);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    v
}

#[test]
fn bad_upgrades_and_frames_get_their_answers() {
    let broker = Mosquitto::start();
    let (ws, wss) = (free_port(), free_port());
    let proxy = start(&broker, ws, wss);
    let status =
        |answer: &[u8]| String::from_utf8_lossy(answer).lines().next().unwrap_or_default().to_string();
    let mqtt = "Sec-WebSocket-Protocol: mqtt\r\n";
    assert_eq!(status(&exchange(ws, upgrade("/other", mqtt).as_bytes())), "HTTP/1.1 404 Not Found");
    assert_eq!(status(&exchange(ws, upgrade("/mqtt", "").as_bytes())), "HTTP/1.1 400 Bad Request");
    let v8 = upgrade("/mqtt", mqtt).replace("Version: 13", "Version: 8");
    let answer = exchange(ws, v8.as_bytes());
    assert_eq!(status(&answer), "HTTP/1.1 426 Upgrade Required");
    assert!(String::from_utf8_lossy(&answer).contains("Sec-WebSocket-Version: 13"));
    // Plain MQTT on the WebSocket port.
    assert_eq!(
        status(&exchange(ws, b"\x10\x10\0\x04MQTT\x04\x02\0\x3c\0\x04abcd")),
        "HTTP/1.1 400 Bad Request"
    );
    // A text frame after a good upgrade: 101, then close 1003 (Unsupported Data).
    let mut req = upgrade("/mqtt", mqtt).into_bytes();
    req.extend(frame(1, b"{\"hello\":1}"));
    let answer = exchange(ws, &req);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{text}");
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{text}");
    assert!(text.contains("Sec-WebSocket-Protocol: mqtt\r\n"), "{text}");
    let body = &answer[answer.windows(4).position(|w| w == b"\r\n\r\n").expect("headers") + 4..];
    assert_eq!(body, [0x88, 0x02, 0x03, 0xeb], "close frame with 1003");
    // An unmasked frame: close 1002 (Protocol Error).
    let mut req = upgrade("/mqtt", mqtt).into_bytes();
    req.extend([0x82, 0x02, 0xc0, 0x00]);
    let answer = exchange(ws, &req);
    assert!(answer.ends_with(&[0x88, 0x02, 0x03, 0xea]), "{answer:02x?}");
    proxy.wait_metric("mqtt_proxy_connections_refused_total{reason=\"websocket_upgrade\"} ", 4);
    let log = proxy.wait_log("WebSocket text frame");
    assert!(log.contains("WebSocket upgrade refused: path /other"), "{log}");
    // The ping a client may send is answered, and a client close is echoed.
    let mut s = TcpStream::connect(("127.0.0.1", ws)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(upgrade("/mqtt", mqtt).as_bytes()).expect("write");
    s.write_all(&frame(9, b"are you there")).expect("ping");
    s.write_all(&frame(8, &1000u16.to_be_bytes())).expect("close");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let body = &answer[answer.windows(4).position(|w| w == b"\r\n\r\n").expect("headers") + 4..];
    let mut pong = vec![0x8a, 13];
    pong.extend_from_slice(b"are you there");
    pong.extend([0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(body, pong);
}
