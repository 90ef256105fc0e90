//! The seed's zilla.yaml (tests/fixtures/zilla/zilla.yaml, exactly as the Zilla
//! guide prints it) run by the binary: the guide's steps through
//! `scripts/demo-zilla.sh` against a real Mosquitto with mosquitto_sub/pub, plus the
//! `convert` and `--check-config` commands on it.

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

const ENV: [(&str, &str); 3] = [
    ("KEYSTORE_PASSWORD", "TEST-ONLY-keystore-password"),
    ("MOSQUITTO_BROKER_HOST", "127.0.0.1"),
    ("MOSQUITTO_BROKER_PORT", "1884"),
];

fn proxy(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mqtt-proxy"));
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run proxy")
}

/// The guide end to end: refused without scope, Hello world on 7183 and on 7883
/// (TLS), the guide's other audience refused. The script owns the ports the file
/// names (7183, 7883), so this is the only test that binds them.
#[test]
fn the_zilla_guide_runs_against_the_seed_config() {
    let out = Command::new("bash")
        .arg(format!("{ROOT}/scripts/demo-zilla.sh"))
        .env("MQTT_PROXY_BIN", env!("CARGO_BIN_EXE_mqtt-proxy"))
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert_eq!(stdout.matches("Hello, world").count(), 2, "{stdout}");
    assert_eq!(
        stdout.matches("refused: Connection error: Connection Refused: not authorised.").count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("PASS"), "{stdout}");
}

#[test]
fn convert_prints_a_native_config_that_loads_like_the_zilla_file() {
    let seed = format!("{ROOT}/tests/fixtures/zilla/zilla.yaml");
    let out = proxy(&["convert", &seed], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let native = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        native.contains("password: \"${KEYSTORE_PASSWORD}\""),
        "env references stay references:\n{native}"
    );
    // Saved next to a keystore at tls/localhost.p12, it checks like the Zilla file.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("tls")).expect("mkdir");
    // The key's alias is `localhost`, as the tls binding's `keys: [localhost]` names it.
    let p12 = Command::new("openssl")
        .args(["pkcs12", "-export", "-name", "localhost", "-passout", "pass:TEST-ONLY-keystore-password"])
        .arg("-in")
        .arg(format!("{ROOT}/tests/fixtures/tls/TEST-ONLY-localhost.pem"))
        .arg("-inkey")
        .arg(format!("{ROOT}/tests/fixtures/tls/TEST-ONLY-localhost.key"))
        .arg("-out")
        .arg(dir.path().join("tls/localhost.p12"))
        .status()
        .expect("openssl");
    assert!(p12.success());
    let zilla = dir.path().join("zilla.yaml");
    std::fs::copy(&seed, &zilla).expect("copy");
    let converted = dir.path().join("native.yaml");
    std::fs::write(&converted, &native).expect("write");
    let check = |p: &std::path::Path| {
        let out = proxy(&["--config", p.to_str().expect("path"), "--check-config"], &ENV);
        assert!(out.status.success(), "{}: {}", p.display(), String::from_utf8_lossy(&out.stderr));
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        s.lines().skip(1).collect::<Vec<_>>().join("\n")
    };
    let (a, b) = (check(&zilla), check(&converted));
    assert_eq!(a, b, "the two configs differ");
    assert!(
        a.contains(
            "listener north_tcp_server:7883 on 0.0.0.0:7883 -> upstream south_tcp_client [127.0.0.1:1884]"
        ),
        "{a}"
    );
    assert!(a.contains("guard authn_jwt (1 keys), scopes [\"mqtt:stream\"]"), "{a}");
}

#[test]
fn an_unsupported_zilla_binding_is_refused_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = std::fs::read_to_string(format!("{ROOT}/tests/fixtures/zilla/zilla.yaml")).expect("seed");
    let kafka = seed.replace("    type: mqtt\n    kind: client", "    type: kafka\n    kind: client");
    let path = dir.path().join("zilla.yaml");
    std::fs::write(&path, kafka).expect("write");
    let out = proxy(&["--config", path.to_str().expect("path"), "--check-config"], &ENV);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 64: /bindings/north_mqtt_client/type: `kafka` client bindings are not supported"),
        "{err}"
    );
}
