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
    /// What it printed on stdout after its first ready lines (a reload's `ready`).
    stdout: Arc<(Mutex<String>, Condvar)>,
    dir: tempfile::TempDir,
}

/// Waits (up to 20 s) until `text` contains `needle`; returns the text.
fn wait_for(text: &(Mutex<String>, Condvar), needle: &str, what: &str) -> String {
    let (lock, cv) = text;
    let guard = lock.lock().expect("log");
    let (guard, _) =
        cv.wait_timeout_while(guard, Duration::from_secs(20), |l| !l.contains(needle)).expect("log");
    assert!(guard.contains(needle), "proxy never printed `{needle}` on {what}; it printed:\n{}", *guard);
    guard.clone()
}

/// Appends everything `from` yields to `to`, waking waiters.
fn collect(mut from: impl Read + Send + 'static, to: Arc<(Mutex<String>, Condvar)>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            to.0.lock().expect("log").push_str(&String::from_utf8_lossy(&buf[..n]));
            to.1.notify_all();
        }
    });
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
        Self::start_env(yaml, flags, &[])
    }

    /// Starts the proxy with extra flags and environment variables.
    pub fn start_env(yaml: &str, flags: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("proxy.yaml");
        std::fs::write(&path, yaml).expect("write config");
        let mut args = vec!["--config".to_string(), path.display().to_string()];
        args.extend(flags.iter().map(|f| f.to_string()));
        Self::spawn(&args, yaml.contains("\nmetrics:"), dir, env)
    }

    /// Starts the proxy with exactly these arguments (one listener, no metrics).
    pub fn start_args(args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Self::spawn(&args, false, tempfile::tempdir().expect("tempdir"), &[])
    }

    fn spawn(args: &[String], with_metrics: bool, dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        // MQTT_PROXY_BIN runs the suite against another build (e.g. an older commit's).
        let bin = std::env::var("MQTT_PROXY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mqtt-proxy").into());
        let mut child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start proxy");
        let log = Arc::new((Mutex::new(String::new()), Condvar::new()));
        collect(child.stderr.take().expect("stderr"), log.clone());
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
        // The other listeners' lines come before the metrics line: kept for
        // `wait_listener`.
        let mut before = String::new();
        let metrics = with_metrics.then(|| loop {
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            match line.strip_prefix("ready metrics addr=") {
                Some(a) => break a.trim().parse().expect("metrics address"),
                None if line.is_empty() => {
                    panic!("no metrics ready line; log:\n{}", log.0.lock().expect("log"))
                }
                None => before.push_str(&line),
            }
        });
        let stdout = Arc::new((Mutex::new(before), Condvar::new()));
        collect(out, stdout.clone());
        Proxy { child, addr, metrics, log, stdout, dir }
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
        wait_for(&self.log, needle, "stderr")
    }

    /// Waits (up to 20 s) until stdout, after the first ready lines, contains
    /// `needle`; returns it.
    pub fn wait_stdout(&self, needle: &str) -> String {
        wait_for(&self.stdout, needle, "stdout")
    }

    /// The address a later `ready listener=NAME` line gives (a reload's).
    pub fn wait_listener(&self, name: &str) -> SocketAddr {
        let needle = format!("ready listener={name} addr=");
        let out = self.wait_stdout(&needle);
        let rest = &out[out.rfind(&needle).expect("line") + needle.len()..];
        rest.split_whitespace().next().and_then(|a| a.parse().ok()).expect("address")
    }

    /// The config file it was started with (`start`/`start_with`).
    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("proxy.yaml")
    }

    /// Writes a new config and sends SIGHUP.
    pub fn reload(&self, yaml: &str) {
        std::fs::write(self.config_path(), yaml).expect("write config");
        self.signal("HUP");
    }

    /// Sends a signal (`HUP`, `TERM`, …).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status();
        assert!(ok.expect("kill").success(), "kill -{name}");
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

    /// A numeric field of the proxy process's `/proc/PID/status` (its first word).
    pub fn status(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Resident memory of the proxy process, KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        self.status("VmRSS")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.child.wait().expect("wait")
    }

    /// Waits for the exit after a signal sent with [`Proxy::signal`].
    pub fn terminate_wait(&mut self) -> ExitStatus {
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
