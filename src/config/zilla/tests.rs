//! The seed's zilla.yaml (tests/fixtures/zilla/zilla.yaml, exactly as the Zilla
//! guide prints it) and the refusals of everything outside the supported subset.

use super::{translate, EnvMode};
use crate::config::{Config, LogOutput};

const SEED: &str = include_str!("../../../tests/fixtures/zilla/zilla.yaml");

fn env(k: &str) -> Option<String> {
    match k {
        "KEYSTORE_PASSWORD" => Some("TEST-ONLY-keystore-password".into()),
        "MOSQUITTO_BROKER_HOST" => Some("127.0.0.1".into()),
        "MOSQUITTO_BROKER_PORT" => Some("1884".into()),
        _ => None,
    }
}

fn refusal(yaml: &str) -> String {
    translate(yaml, &EnvMode::Keep).expect_err("refused").to_string()
}

#[test]
fn the_seed_translates_into_two_listeners_one_guard_one_upstream() {
    let native = translate(SEED, &EnvMode::Keep).expect("seed translates");
    let text = native.text();
    for want in [
        "name: \"north_tcp_server:7183\"",
        "bind: \"0.0.0.0:7183\"",
        "bind: \"0.0.0.0:7883\"",
        "upstream: \"south_tcp_client\"",
        "guard: \"authn_jwt\"",
        "scopes: [\"mqtt:stream\"]",
        "pkcs12: \"tls/localhost.p12\"",
        "password: \"${KEYSTORE_PASSWORD}\"",
        "alias: \"localhost\"",
        "servers: [\"${MOSQUITTO_BROKER_HOST}:${MOSQUITTO_BROKER_PORT}\"]",
        "issuer: \"https://auth.example.com\"",
        "audience: \"https://api.example.com\"",
        "credentials: \"Bearer {credentials}\"",
        "log_output: stdout",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    // Zilla's standard-base64 modulus becomes base64url.
    assert!(text.contains("\"n\":\"qqEu50hX-43Bx4W1UYWnAVKwFm-vDbP0kuIOSLVNa-HKQdHTf-3Sei5UCnkskn796izA29D0DdCy3ET9oaKRHIJyKbqFl0rv6f516QzOoXKC6N01sXBHBE_ovs0w"), "{text}");
    assert!(!text.contains("=="), "{text}");
    // The plain port goes straight to the mqtt server, the other through TLS.
    let plain = text.find("north_tcp_server:7183").expect("plain");
    let tls = text.find("north_tcp_server:7883").expect("tls");
    assert!(!text[plain..tls].contains("tls:") && text[tls..].contains("tls:"), "{text}");
}

#[test]
fn the_seed_loads_as_a_config_with_the_environment() {
    // Without the keystore the TLS listener cannot load: the error names the Zilla
    // line of the TLS port, not a line of the translation.
    let e =
        Config::parse_zilla(SEED, &env, Some(std::path::Path::new("/nonexistent"))).expect_err("no keystore");
    let msg = e.to_string();
    assert!(msg.starts_with("Zilla config line 31: /bindings/north_tcp_server/options/port/1: "), "{msg}");
    assert!(msg.contains("/nonexistent/tls/localhost.p12"), "{msg}");
    // The same file with a PEM-free listener set (TLS port removed) loads fully.
    let plain_only = SEED.replace("        - 7883\n", "");
    let c = Config::parse_zilla(&plain_only, &env, None).expect("loads");
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.listeners[0].bind, "0.0.0.0:7183".parse().expect("addr"));
    assert_eq!(c.listeners[0].scopes, ["mqtt:stream"]);
    assert_eq!(c.upstreams[0].servers[0].addr, "127.0.0.1:1884".parse().expect("addr"));
    assert_eq!(c.guards[0].verifier.keys.load().len(), 1, "the seed's key parses");
    assert_eq!(c.log_output, LogOutput::Stdout);
}

#[test]
fn an_unset_variable_is_named_with_its_zilla_line() {
    let e = Config::parse_zilla(SEED, &|k| if k == "KEYSTORE_PASSWORD" { None } else { env(k) }, None)
        .expect_err("unset");
    assert_eq!(
        e.to_string(),
        "Zilla config line 10: /vaults/my_servers/options/keys/password: environment variable `KEYSTORE_PASSWORD` is not set"
    );
}

#[test]
fn features_outside_the_subset_are_refused_with_place() {
    let http = SEED.replace("    type: mqtt\n    kind: client", "    type: http\n    kind: client");
    let e = refusal(&http);
    assert!(
        e.contains("/bindings/north_mqtt_client/type")
            && e.contains("`http` client bindings are not supported"),
        "{e}"
    );
    let e = refusal(&SEED.replace("name: zilla-mqtt-proxy-jwt", "name: x\nruntime: {}"));
    assert!(e.contains("line 3: /runtime: not supported"), "{e}");
    let e = refusal(&SEED.replace("      issuer:", "      challenge: 30\n      issuer:"));
    assert!(e.contains("/guards/authn_jwt/options/challenge"), "{e}");
    let e = refusal(&SEED.replace("type: jwt", "type: oauth"));
    assert!(e.contains("`oauth` guards are not supported"), "{e}");
    let e = refusal(&SEED.replace("        type: pkcs12", "        type: jks"));
    assert!(e.contains("PKCS#12"), "{e}");
    let e = refusal(&SEED.replace("type: stdout", "type: otlp"));
    assert!(e.contains("`otlp` exporters"), "{e}");
    let e = refusal(&SEED.replace("${{env.KEYSTORE_PASSWORD}}", "${{vault.pw}}"));
    assert!(e.contains("only `${{env.NAME}}`"), "{e}");
    let e = refusal(&SEED.replace("exit: north_mqtt_client", "exit: nowhere"));
    assert!(e.contains("no binding named `nowhere`"), "{e}");
}

#[test]
fn topic_routes_become_an_acl_and_other_exits_topic_rules() {
    let routes = "    routes:\n      - guarded:\n          authn_jwt:\n            - mqtt:stream\n        when:\n          - publish:\n              - topic: sensors/#\n          - subscribe:\n              - topic: alerts/+\n        exit: north_mqtt_client\n      - guarded:\n          authn_jwt:\n            - mqtt:stream\n        when:\n          - publish:\n              - topic: $SYS/x\n        exit: other_mqtt_client\n";
    let yaml = SEED
        .replace("    routes:\n      - guarded:\n          authn_jwt:\n            - mqtt:stream\n        exit: north_mqtt_client\n", routes)
        .replace(
            "  south_tcp_client:",
            "  other_mqtt_client:\n    type: mqtt\n    kind: client\n    exit: other_tcp_client\n  other_tcp_client:\n    type: tcp\n    kind: client\n    options:\n      host: 127.0.0.1\n      port: 1885\n  south_tcp_client:",
        );
    let text = translate(&yaml, &EnvMode::Keep).expect("translates").text().to_string();
    assert!(text.contains("publish: [\"sensors/#\", \"$$SYS/x\"]"), "{text}");
    assert!(text.contains("subscribe: [\"alerts/+\"]"), "{text}");
    assert!(text.contains("publish_topics: [\"$$SYS/x\"]\n    upstream: \"other_tcp_client\""), "{text}");
    // Different roles per route: the shared ones at CONNECT, the others per entry.
    let admin = yaml.replacen(
        "            - mqtt:stream\n        when:\n          - publish:\n              - topic: $SYS",
        "            - mqtt:stream\n            - admin\n        when:\n          - publish:\n              - topic: $SYS",
        1,
    );
    let text = translate(&admin, &EnvMode::Keep).expect("translates").text().to_string();
    assert!(text.contains("scopes: [\"mqtt:stream\"]"), "{text}");
    assert!(text.contains("publish: [\"sensors/#\", {filter: \"$$SYS/x\", scopes: [\"admin\"]}]"), "{text}");
    Config::parse_zilla(&admin.replace("        - 7883\n", ""), &env, None).expect("the entries load");
    // Next to a route that takes everything (the seed's), roles cannot differ.
    let e = refusal(&SEED.replacen(
        "    routes:\n      - guarded:",
        "    routes:\n      - when:\n          - publish:\n              - topic: a/b\n        exit: north_mqtt_client\n      - guarded:",
        1,
    ));
    assert!(e.contains("different roles next to a route without `when`"), "{e}");
}
