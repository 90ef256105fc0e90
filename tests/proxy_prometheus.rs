//! The metrics endpoint as Prometheus itself sees it (Debian's `prometheus`):
//! `promtool check metrics` lints the exposition (names, types, units), and a real
//! Prometheus server scrapes the proxy every second while mosquitto_pub and
//! mosquitto_sub use it; its query API then returns what that traffic must have
//! produced (messages by QoS, packets by type, connections by listener and tenant,
//! the admission latency histogram, the target being up).

mod common;
use common::broker::{free_port, Mosquitto};
use common::cli::{publish, Sub};
use common::proxy::{config, Proxy};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn metrics_config(broker: &Mosquitto) -> String {
    let routes = "routes:\n  - client_id: \"acme-*\"\n    upstream: broker\n    tenant: acme\n";
    config(&[broker.addr()], &format!("{routes}metrics:\n  bind: 127.0.0.1:0\n"))
}

#[test]
fn promtool_finds_nothing_to_lint() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&metrics_config(&broker));
    publish(proxy.port(), &["-t", "t", "-m", "x", "-i", "acme-1"]);
    let text = proxy.scrape();
    let body = &text[text.find("\r\n\r\n").expect("headers") + 4..];
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    lint.stdin.take().expect("stdin").write_all(body.as_bytes()).expect("write");
    let out = lint.wait_with_output().expect("promtool");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "promtool:\n{said}\n{body}");
}

/// A Prometheus server scraping `target` every second; killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text[text.find("\r\n\r\n")? + 4..].to_string()))
}

impl Prometheus {
    fn start(target: std::net::SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: mqtt-proxy\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .expect("write");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package prometheus)");
        let p = Prometheus { child, port, _dir: dir };
        let until = Instant::now() + Duration::from_secs(30);
        while get(port, "/-/ready").map(|r| r.0) != Some(200) {
            assert!(Instant::now() < until, "prometheus never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    /// The value of an instant query's first sample, if any.
    fn query(&self, q: &str) -> Option<f64> {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (_, body) = get(self.port, &format!("/api/v1/query?query={encoded}"))?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits (up to 30 s, a scrape a second) until `q` reads at least `min`.
    fn wait_for(&self, q: &str, min: f64) -> f64 {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            match self.query(q) {
                Some(v) if v >= min => return v,
                other => assert!(Instant::now() < until, "`{q}` stayed at {other:?}, wanted >= {min}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn a_real_prometheus_scrapes_and_answers() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&metrics_config(&broker));
    let prom = Prometheus::start(proxy.metrics.expect("metrics"));
    // Traffic: a subscriber of the tenant held open, three QoS 1 publishes, one QoS 0.
    let mut sub = Sub::start(proxy.port(), &["-t", "m/#", "-q", "1", "-i", "acme-sub"]);
    for i in 0..3 {
        publish(proxy.port(), &["-t", "m/1", "-m", &i.to_string(), "-q", "1"]);
        assert!(sub.next_message().is_some());
    }
    publish(proxy.port(), &["-t", "m/0", "-m", "zero"]);
    assert!(sub.next_message().is_some());
    assert_eq!(prom.wait_for("up{job=\"mqtt-proxy\"}", 1.0), 1.0);
    prom.wait_for("mqtt_proxy_messages_total{direction=\"up\",qos=\"1\"}", 3.0);
    prom.wait_for("mqtt_proxy_messages_total{direction=\"up\",qos=\"0\"}", 1.0);
    prom.wait_for("mqtt_proxy_messages_total{direction=\"down\",qos=\"1\"}", 3.0);
    prom.wait_for("mqtt_proxy_packets_total{direction=\"down\",type=\"connack\"}", 5.0);
    prom.wait_for("mqtt_proxy_packet_bytes_total{direction=\"up\",type=\"publish\"}", 4.0 * 7.0);
    prom.wait_for("mqtt_proxy_listener_connections_accepted_total{listener=\"test\"}", 5.0);
    prom.wait_for("mqtt_proxy_listener_connections_open{listener=\"test\"}", 1.0);
    prom.wait_for("mqtt_proxy_tenant_connections_open{tenant=\"acme\"}", 1.0);
    prom.wait_for("mqtt_proxy_tenant_connections_total{tenant=\"acme\"}", 1.0);
    prom.wait_for("mqtt_proxy_admission_duration_seconds_count", 5.0);
    prom.wait_for("mqtt_proxy_connects_total{result=\"admitted\"}", 5.0);
    // PromQL over the histogram works: a median admission time exists and is sane.
    let median = prom
        .wait_for("histogram_quantile(0.5, sum(mqtt_proxy_admission_duration_seconds_bucket) by (le))", 0.0);
    assert!(median > 0.0 && median <= 10.0, "{median}");
}
