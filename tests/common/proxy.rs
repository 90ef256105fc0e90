//! The proxy binary under test, started with a generated config; stopped on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A running proxy.
pub struct Proxy {
    child: Child,
    /// The first listener's address.
    pub addr: SocketAddr,
    /// The metrics endpoint, when the config enables it.
    pub metrics: Option<SocketAddr>,
    log: Arc<(Mutex<String>, Condvar)>,
    _dir: tempfile::TempDir,
}

/// A one-listener config in front of `upstreams` (host:port strings).
pub fn config(upstreams: &[String], extra: &str) -> String {
    let servers: Vec<String> = upstreams.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "listeners:\n  - name: test\n    bind: 127.0.0.1:0\n    upstream: broker\nupstreams:\n  - name: broker\n    servers: [{}]\n    connect_timeout: 5s\n{extra}",
        servers.join(", ")
    )
}

impl Proxy {
    /// Starts the proxy on two cores with `yaml` and waits for its ready line.
    pub fn start(yaml: &str) -> Self {
        Self::start_with(yaml, &["--cores", "2"])
    }

    /// Starts the proxy with extra flags.
    pub fn start_with(yaml: &str, flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("proxy.yaml");
        std::fs::write(&path, yaml).expect("write config");
        let mut args = vec!["--config".to_string(), path.display().to_string()];
        args.extend(flags.iter().map(|f| f.to_string()));
        Self::spawn(&args, yaml.contains("\nmetrics:"), dir)
    }

    /// Starts the proxy with exactly these arguments (one listener, no metrics).
    pub fn start_args(args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Self::spawn(&args, false, tempfile::tempdir().expect("tempdir"))
    }

    fn spawn(args: &[String], with_metrics: bool, dir: tempfile::TempDir) -> Self {
        // MQTT_PROXY_BIN runs the suite against another build (e.g. an older commit's).
        let bin = std::env::var("MQTT_PROXY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mqtt-proxy").into());
        let mut child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start proxy");
        let log = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let mut stderr = child.stderr.take().expect("stderr");
        let l = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                l.0.lock().expect("log").push_str(&String::from_utf8_lossy(&buf[..n]));
                l.1.notify_all();
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut ready = |what: &str| -> SocketAddr {
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            line.split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .unwrap_or_else(|| panic!("no ready line for {what}; log:\n{}", log.0.lock().expect("log")))
                .parse()
                .expect("address")
        };
        let addr = ready("the listener");
        let metrics = with_metrics.then(|| ready("metrics"));
        Proxy { child, addr, metrics, log, _dir: dir }
    }

    /// `GET /metrics` (the config must enable `metrics:`); the whole HTTP answer.
    pub fn scrape(&self) -> String {
        use std::io::Write;
        let addr = self.metrics.expect("metrics enabled in the config");
        let mut s = std::net::TcpStream::connect(addr).expect("metrics endpoint");
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("request");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("response");
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        body
    }

    /// Waits (up to 20 s, scraping every 20 ms) until the metric line starting with
    /// `series` (name and labels) reads at least `n`; for events the log rate-limits.
    pub fn wait_metric(&self, series: &str, n: u64) {
        let value = || {
            self.scrape()
                .lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while value() < n {
            assert!(std::time::Instant::now() < until, "`{series}` stayed under {n}:\n{}", self.scrape());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.0.lock().expect("log").clone()
    }

    /// Waits (up to 20 s) until the log contains `needle`; returns the log.
    pub fn wait_log(&self, needle: &str) -> String {
        let (lock, cv) = &*self.log;
        let guard = lock.lock().expect("log");
        let (guard, _) =
            cv.wait_timeout_while(guard, Duration::from_secs(20), |l| !l.contains(needle)).expect("log");
        assert!(guard.contains(needle), "proxy never logged `{needle}`; log:\n{}", *guard);
        guard.clone()
    }

    /// Waits (up to 30 s) until `needle` occurs `n` times in the log; returns the log.
    pub fn wait_log_count(&self, needle: &str, n: usize) -> String {
        let (lock, cv) = &*self.log;
        let guard = lock.lock().expect("log");
        let (guard, _) = cv
            .wait_timeout_while(guard, Duration::from_secs(30), |l| l.matches(needle).count() < n)
            .expect("log");
        assert!(guard.matches(needle).count() >= n, "fewer than {n} `{needle}` in the log");
        guard.clone()
    }

    /// Resident memory of the proxy process, KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().expect("wait")
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
