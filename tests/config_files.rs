//! Every config file shipped in `config/` loads, and the CLI's config commands work:
//! `--check-config` (exit 0 / 1 with the key and line), `--print-default-config`.

use mqtt_proxy::config::{Config, DEFAULT_CONFIG};
use std::process::Command;

#[test]
fn every_shipped_config_file_is_valid() {
    let mut n = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config")).expect("config dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).expect("read");
            // The example keystore's password (documented in config/jwt.yaml).
            let env = |k: &str| (k == "KEYSTORE_PASSWORD").then(|| "TEST-ONLY-keystore-password".to_string());
            if let Err(e) = Config::parse_in(&text, env, path.parent()) {
                panic!("{}: {e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 3, "only {n} config files found");
}

#[test]
fn default_config_uses_environment_overrides() {
    let c = Config::parse(DEFAULT_CONFIG, |k| (k == "MQTT_BROKER").then(|| "127.0.0.1:9999".to_string()))
        .expect("valid");
    assert_eq!(c.upstreams[0].servers[0].addr.port(), 9999);
}

fn proxy(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-proxy")).args(args).output().expect("run proxy")
}

#[test]
fn check_config_accepts_good_and_names_the_bad_key() {
    let good = proxy(&[
        "--config",
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/quickstart.yaml"),
        "--check-config",
    ]);
    assert!(good.status.success());
    assert!(String::from_utf8_lossy(&good.stdout).contains("listener quickstart on 127.0.0.1:1883"));

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "listeners:\n  - name: a\n    bind: 127.0.0.1:1\n    upstream: missing\nupstreams: []\n",
    )
    .expect("write");
    let out = proxy(&["--config", bad.to_str().expect("path"), "--check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4: listeners[0].upstream: no upstream named `missing`"), "{err}");
}

#[test]
fn print_default_config_prints_a_loadable_file() {
    let out = proxy(&["--print-default-config"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text, DEFAULT_CONFIG);
    Config::parse(&text, |_| None).expect("valid");
}

#[test]
fn help_explains_every_flag() {
    let out = proxy(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--config",
        "--cores",
        "--cpus",
        "--no-pin",
        "--spin",
        "--check-config",
        "--print-default-config",
        "--log",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn the_claims_a_reauthentication_must_keep_come_from_routes_and_acls() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/tenants.yaml"));
    let c = Config::load(path).expect("tenants.yaml");
    // The tenant rule's condition and its mount / prefix / tenant templates.
    assert_eq!(c.identity_claims(0), vec!["tenant".to_string()]);
    let acl = "listeners:\n  - name: a\n    bind: 127.0.0.1:0\n    upstream: b\n    guard: g\n    acl:\n      publish: [\"{claims.site}/{sub}/#\", \"x/{claims.org.unit}/#\"]\n      client_id: \"{claims.site}-{sub}\"\n\
               upstreams:\n  - name: b\n    servers: [\"127.0.0.1:1884\"]\n\
               guards:\n  - name: g\n    jwks_file: tests/fixtures/jwt/TEST-ONLY-jwks.json\n";
    let c = Config::parse_in(acl, |_| None, Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))))
        .expect("valid");
    assert_eq!(c.identity_claims(0), vec!["site".to_string(), "org.unit".to_string()]);
}
