//! A real HAProxy (TCP mode) per test, in front of the proxy: a balancer that
//! speaks the PROXY protocol. Stopped on drop.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running HAProxy.
pub struct Haproxy {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// Starts `haproxy -db` with TCP-mode defaults and `sections` (frontends and
    /// backends); returns once every port in `ports` accepts connections (HAProxy
    /// prints nothing when it is ready).
    pub fn start(sections: &str, ports: &[u16]) -> Haproxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n  maxconn 1000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n{sections}"
            ),
        )
        .expect("write haproxy.cfg");
        let mut child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("haproxy is installed (scripts/test.sh installs it)");
        let until = Instant::now() + Duration::from_secs(20);
        for &port in ports {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(matches!(child.try_wait(), Ok(None)), "haproxy exited; config:\n{sections}");
                assert!(Instant::now() < until, "haproxy never listened on {port}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Haproxy { child, _dir: dir }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A frontend on `front` whose connections go to 127.0.0.1:`to`, with `server`
/// options (e.g. `send-proxy-v2`) and `bind` options (e.g. TLS).
pub fn passthrough(name: &str, front: u16, bind: &str, to: u16, server: &str) -> String {
    format!(
        "frontend f_{name}\n  bind 127.0.0.1:{front} {bind}\n  default_backend b_{name}\n\
         backend b_{name}\n  server s 127.0.0.1:{to} {server}\n"
    )
}
