//! The shipped `config/jwt.yaml`, started as is but for free ports, a given broker,
//! and the TEST-ONLY keystore found by absolute path with its password filled in.
//! Used by the proxy's tests and by the load-test harness's tests.
#![allow(dead_code)]

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A proxy running `config/jwt.yaml`; killed on drop.
pub struct ShippedJwtProxy {
    child: Child,
    /// The plain (7183) and TLS (7883) listeners' actual addresses, in that order.
    pub addrs: Vec<SocketAddr>,
    _dir: tempfile::TempDir,
}

impl ShippedJwtProxy {
    /// Starts `proxy_bin` with `root`/config/jwt.yaml (`root`: the repository) in
    /// front of 127.0.0.1:`broker_port`.
    pub fn start(proxy_bin: &Path, broker_port: u16, root: &Path) -> Self {
        let root = root.display();
        let yaml = std::fs::read_to_string(format!("{root}/config/jwt.yaml"))
            .expect("config/jwt.yaml")
            .replace("${MQTT_PROXY_BIND:-127.0.0.1:7183}", "127.0.0.1:0")
            .replace("${MQTT_PROXY_TLS_BIND:-127.0.0.1:7883}", "127.0.0.1:0")
            .replace("${MOSQUITTO_BROKER_PORT:-1884}", &broker_port.to_string())
            .replace("../tests/fixtures/tls", &format!("{root}/tests/fixtures/tls"))
            .replace("${KEYSTORE_PASSWORD}", "TEST-ONLY-keystore-password");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jwt.yaml");
        std::fs::write(&path, yaml).expect("write config");
        let mut child = Command::new(proxy_bin)
            .arg("--config")
            .arg(&path)
            .args(["--cores", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start proxy");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut addrs = Vec::new();
        for _ in 0..2 {
            let mut line = String::new();
            out.read_line(&mut line).expect("ready line");
            let addr = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).expect("addr=");
            addrs.push(addr.parse().expect("address"));
        }
        ShippedJwtProxy { child, addrs, _dir: dir }
    }
}

impl Drop for ShippedJwtProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
