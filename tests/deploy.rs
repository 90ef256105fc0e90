//! What `deploy/` ships for bare metal: the systemd unit passes `systemd-analyze
//! verify` (pointed at the binary under test), the readiness protocol it relies on
//! (`Type=notify`) is spoken — READY, RELOADING/READY around a SIGHUP, STOPPING —
//! and every key of the sysctl file exists on this kernel (or is marked optional).

mod common;
use common::broker::Mosquitto;
use common::proxy::{config, Proxy};
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_systemd_unit_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = std::fs::read_to_string(format!("{ROOT}/deploy/mqtt-proxy.service")).expect("unit");
    assert!(unit.contains("Type=notify") && unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.contains("LimitMEMLOCK=") && unit.contains("LimitNOFILE="));
    // verify checks that ExecStart's binary exists: point it at the one under test.
    let path = dir.path().join("mqtt-proxy.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/mqtt-proxy", env!("CARGO_BIN_EXE_mqtt-proxy")))
        .expect("write");
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("systemd-analyze");
    let said = String::from_utf8_lossy(&out.stderr);
    // It only warns about bad keys: any line about our unit is a failure.
    assert!(out.status.success() && !said.contains("mqtt-proxy.service"), "{said}");
    // The check is real: a misspelt key is reported.
    let bad = dir.path().join("bad.service");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&path).unwrap().replace("ProtectHome=yes", "ProtectHome=yess"),
    )
    .expect("write");
    let out = Command::new("systemd-analyze").arg("verify").arg(&bad).output().expect("systemd-analyze");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.service"));
}

#[test]
fn readiness_reload_and_stop_are_told_to_systemd() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let next = || {
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let yaml = config(&[broker.addr()], "");
    let mut proxy =
        Proxy::start_env(&yaml, &["--cores", "2"], &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())]);
    let ready = next();
    assert!(ready.starts_with("READY=1\nMAINPID="), "{ready}");
    proxy.reload(&yaml);
    assert_eq!(next(), "RELOADING=1");
    assert_eq!(next(), "READY=1");
    proxy.wait_log("config reloaded");
    proxy.signal("TERM");
    assert_eq!(next(), "STOPPING=1");
    assert!(proxy.terminate_wait().success());
}

#[test]
fn every_sysctl_key_exists() {
    let text = std::fs::read_to_string(format!("{ROOT}/deploy/99-mqtt-proxy.conf")).expect("sysctl file");
    let mut keys = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not key = value: {line}"));
        assert!(!value.trim().is_empty(), "{line}");
        let (optional, key) = match key.trim().strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, key.trim()),
        };
        let proc = format!("/proc/sys/{}", key.replace('.', "/"));
        assert!(optional || std::path::Path::new(&proc).exists(), "no such sysctl: {key}");
        keys += 1;
    }
    assert!(keys >= 5);
}
