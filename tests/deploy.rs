//! What `deploy/` ships for bare metal: the systemd unit passes `systemd-analyze
//! verify` (pointed at the binary under test), the readiness protocol it relies on
//! (`Type=notify`) is spoken — READY, RELOADING/READY around a SIGHUP, STOPPING —
//! every key of the sysctl file exists on this kernel (or is marked optional), and
//! the Kubernetes manifests parse, reference each other and carry a valid config.

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

fn manifest(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{ROOT}/deploy/kubernetes/{name}")).expect("manifest");
    let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    for key in ["apiVersion", "kind"] {
        assert!(v[key].is_string(), "{name}: no {key}");
    }
    assert!(v["metadata"]["name"].is_string(), "{name}: no metadata.name");
    v
}

/// kubeconform is not to be had here: the manifests are parsed, their required
/// fields checked, their cross-references followed, and the ConfigMap's config
/// loaded by the proxy's own parser.
#[test]
fn kubernetes_manifests_hang_together() {
    let (deploy, service, cm) =
        (manifest("deployment.yaml"), manifest("service.yaml"), manifest("configmap.yaml"));
    assert_eq!(
        (deploy["kind"].as_str(), service["kind"].as_str(), cm["kind"].as_str()),
        (Some("Deployment"), Some("Service"), Some("ConfigMap"))
    );
    let spec = &deploy["spec"]["template"]["spec"];
    let labels = &deploy["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deploy["spec"]["selector"]["matchLabels"], labels, "the selector picks the pods");
    assert_eq!(&service["spec"]["selector"], labels, "the Service picks the pods");
    let c = &spec["containers"][0];
    assert!(c["image"].is_string());
    let ports: Vec<&str> =
        c["ports"].as_array().expect("ports").iter().filter_map(|p| p["name"].as_str()).collect();
    for p in service["spec"]["ports"].as_array().expect("service ports") {
        assert!(ports.contains(&p["targetPort"].as_str().expect("named targetPort")), "{p}");
    }
    // io_uring and locked memory, as the comments say.
    assert_eq!(c["securityContext"]["seccompProfile"]["type"], "Unconfined");
    assert!(c["securityContext"]["capabilities"]["add"]
        .as_array()
        .expect("caps")
        .iter()
        .any(|x| x == "IPC_LOCK"));
    // The config file the args name is the ConfigMap's key, mounted where they look.
    let args: Vec<&str> = c["args"].as_array().expect("args").iter().filter_map(|a| a.as_str()).collect();
    let path = args[args.iter().position(|a| *a == "--config").expect("--config") + 1];
    let mount = c["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| path.starts_with(m["mountPath"].as_str().unwrap_or("-")))
        .expect("mounted");
    let volume = spec["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("volume");
    assert_eq!(volume["configMap"]["name"], cm["metadata"]["name"]);
    let key = path.rsplit('/').next().expect("file");
    let text = cm["data"][key].as_str().expect("config in the ConfigMap");
    // Host names are resolved at load: the cluster's broker names become loopback here.
    let text = (0..3).fold(text.to_string(), |t, i| t.replace(&format!("broker-{i}.broker"), "127.0.0.1"));
    let config = mqtt_proxy::config::Config::parse(&text, |_| None).expect("the ConfigMap's config is valid");
    assert_eq!(config.listeners[0].bind.port(), 1883);
    assert_eq!(config.listeners[0].proxy_protocol, Some(mqtt_proxy::proxy_protocol::Accept::V2));
    assert_eq!(config.metrics.map(|m| m.port()), Some(9100));
    assert_eq!(
        deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as_u64().map(|s| s > 20),
        Some(true),
        "longer than shutdown_timeout"
    );
}
