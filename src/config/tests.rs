//! Tests of the config: parsing, validation errors with their lines, defaults.
use super::*;

fn parse(t: &str) -> Result<Config, ConfigError> {
    Config::parse(t, |_| None)
}

const OK: &str = "listeners:\n  - name: a\n    bind: 127.0.0.1:0\n    upstream: b\nupstreams:\n  - name: b\n    servers: [\"127.0.0.1:1884\"]\n";

#[test]
fn minimal_config_gets_defaults() {
    let c = parse(OK).expect("valid");
    assert_eq!(c.limits.max_packet_size, 1 << 20);
    assert_eq!(c.listeners[0].upstream, 0);
    assert_eq!(c.upstreams[0].servers[0].addr, "127.0.0.1:1884".parse().expect("addr"));
}

#[test]
fn unknown_key_is_rejected_with_its_line() {
    let e = parse(&format!("{OK}colour: blue\n")).expect_err("unknown key");
    let msg = e.to_string();
    assert!(msg.contains("colour") && msg.contains('8'), "{msg}");
}

#[test]
fn unknown_upstream_names_key_and_line() {
    let e = parse(&OK.replace("upstream: b", "upstream: nope")).expect_err("bad ref");
    assert_eq!(e.to_string(), "line 4: listeners[0].upstream: no upstream named `nope`");
}

#[test]
fn limits_are_bounded() {
    let e = parse(&format!("{OK}limits:\n  max_packet_size: 3\n")).expect_err("too small");
    assert!(e.to_string().starts_with("line 9: limits.max_packet_size"), "{e}");
}

#[test]
fn secrets_are_redacted_in_debug() {
    let yaml = OK.replace("upstream: b\n", "upstream: b\n    upstream_password: hunter2\n");
    let c = parse(&yaml).expect("valid");
    assert_eq!(c.listeners[0].upstream_password, Some(Secret("hunter2".into())));
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn unknown_keys_inside_flattened_tls_sections_are_rejected() {
    let yaml = OK.replace("upstream: b\n", "upstream: b\n    tls:\n      cert: a.pem\n      kee: a.key\n");
    let e = parse(&yaml).expect_err("typo");
    assert!(e.to_string().contains("kee"), "{e}");
}

#[test]
fn schema_sections_are_checked_with_their_keys() {
    let base = "listeners: [{name: a, bind: \"127.0.0.1:0\", upstream: u}]\nupstreams: [{name: u, servers: [\"127.0.0.1:1\"]}]\n";
    let cat = "catalogs:\n  - name: c\n    inline:\n      s: '{\"type\": \"object\"}'\n";
    let with = |rules: &str| parse(&format!("{base}{cat}schemas:\n{rules}"));
    let ok = with("  - filter: a/#\n    content: {model: json, catalog: c, subject: s}\n").expect("valid");
    assert_eq!(ok.schemas.rules.len(), 1);
    let err = |rules: &str| with(rules).expect_err("invalid").to_string();
    let e = err("  - filter: a/#\n    content: {model: xml}\n");
    assert!(e.contains("schemas[0].content.model") && e.contains("`xml`"), "{e}");
    let e = err("  - filter: a/#\n    content: {model: json, catalog: nope, subject: s}\n");
    assert!(e.contains("schemas[0].content") && e.contains("no catalog named `nope`"), "{e}");
    let e = err("  - filter: a/#\n    content: {model: json, catalog: c, subject: missing}\n");
    assert!(e.contains("has no subject `missing`"), "{e}");
    let e = err("  - filter: a/#\n    content: {model: string, pattern: \"(\"}\n");
    assert!(e.contains("schemas[0].content.pattern"), "{e}");
    let e = err("  - filter: a/#\n    content: {model: json}\n");
    assert!(e.contains("needs a catalog"), "{e}");
    let e = err("  - filter: a/#\n    content: {model: int32, pattern: x}\n");
    assert!(e.contains("does not apply"), "{e}");
    let e = err("  - filter: a/#\n    direction: sideways\n    content: {model: boolean}\n");
    assert!(e.contains("schemas[0].direction"), "{e}");
    let e = err("  - filter: a/#\n    content: {model: boolean}\n    on_invalid: {v5: shout}\n");
    assert!(e.contains("on_invalid.v5"), "{e}");
    let e = err("  - filter: a/#\n    content: {model: boolean, colour: red}\n");
    assert!(e.contains("colour"), "unknown keys are rejected: {e}");
    // An unreachable registry at load is a clear error.
    let reg = "catalogs:\n  - name: r\n    registry: {url: \"http://127.0.0.1:1\", timeout: 1s}\nschemas:\n  - filter: a\n    content: {model: avro, catalog: r, subject: s}\n";
    let e = parse(&format!("{base}{reg}")).expect_err("unreachable").to_string();
    assert!(e.contains("registry `r` GET /subjects/s/versions/latest"), "{e}");
}

#[test]
fn acl_entries_may_require_scopes() {
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/TEST-ONLY-jwks.json");
    let acl = "    acl:\n      publish: [\"t/{sub}\", {filter: \"cmd/#\", scopes: [operator]}]\n";
    let guarded = OK.replace("upstream: b\n", &format!("upstream: b\n    guard: g\n{acl}"))
        + &format!("guards:\n  - name: g\n    jwks_file: {jwks}\n");
    let c = parse(&guarded).expect("valid");
    let p = c.listeners[0].acl.as_ref().and_then(|a| a.publish.clone()).expect("publish");
    assert_eq!(p[1].scopes, ["operator"]);
    assert!(p[0].scopes.is_empty());
    let e = parse(&OK.replace("upstream: b\n", &format!("upstream: b\n{acl}"))).expect_err("no guard");
    assert!(e.to_string().contains("listeners[0].acl.publish[0]"), "{e}");
    let typo = guarded.replace("scopes: [operator]", "scope: [operator]");
    assert!(parse(&typo).expect_err("typo").to_string().contains("scope"));
}

#[test]
fn proxy_protocol_settings() {
    use crate::proxy_protocol::Accept;
    let with = |listener: &str, upstream: &str| {
        parse(&OK.replace("upstream: b\n", &format!("upstream: b\n{listener}")).replace(
            "servers: [\"127.0.0.1:1884\"]\n",
            &format!("servers: [\"127.0.0.1:1884\"]\n{upstream}"),
        ))
    };
    let c = with("    proxy_protocol: any\n", "    proxy_protocol: v2\n").expect("valid");
    assert_eq!(c.listeners[0].proxy_protocol, Some(Accept::Any));
    assert!(c.upstreams[0].proxy_protocol);
    assert!(!parse(OK).expect("valid").upstreams[0].proxy_protocol);
    let c = with("    connect_rate: {rate: 2, per: 1h}\n", "").expect("valid");
    let r = c.listeners[0].connect_rate.expect("rate");
    assert_eq!((r.count, r.per, r.burst), (2, Duration::from_secs(3600), 2));
    let e = with("    connect_rate: {rate: 0}\n", "").expect_err("zero");
    assert_eq!(e.to_string(), "line 5: listeners[0].connect_rate.rate: must be at least 1");
    let c = with("    websocket: {}\n", "").expect("valid");
    assert_eq!(c.listeners[0].websocket_path.as_deref(), Some("/mqtt"));
    let c = with("    websocket: {path: /ws}\n", "").expect("valid");
    assert_eq!(c.listeners[0].websocket_path.as_deref(), Some("/ws"));
    let e = with("    websocket: {path: ws}\n", "").expect_err("relative");
    assert!(e.to_string().contains("listeners[0].websocket.path: `ws`: an absolute path"), "{e}");
    let c = with("    proxy_protocol: v2\n    proxy_protocol_tls_identity: true\n", "").expect("valid");
    assert!(c.listeners[0].proxy_protocol_tls_identity);
    for (listener, upstream, key) in [
        ("    proxy_protocol: auto\n", "", "line 5: listeners[0].proxy_protocol: `auto`: use v1, v2 or any"),
        (
            "",
            "    proxy_protocol: v1\n",
            "line 8: upstreams[0].proxy_protocol: `v1`: brokers are sent v2 only",
        ),
        ("    proxy_protocol_tls_identity: true\n", "", "needs `proxy_protocol: v2`"),
        ("    proxy_protocol: v1\n    proxy_protocol_tls_identity: true\n", "", "needs `proxy_protocol: v2`"),
    ] {
        let e = with(listener, upstream).expect_err(key).to_string();
        assert!(e.contains(key), "{e}");
    }
}

#[test]
fn admission_and_publish_limits() {
    let with = |limits: &str| parse(&format!("{OK}limits:\n{limits}"));
    let c = with("  max_connecting: 100\n  max_connections_per_ip: 5\n  publish_rate: {messages: {rate: 10}, bytes: {rate: 1000, per: 1m, burst: 5000}, action: disconnect}\n").expect("valid");
    assert_eq!((c.limits.max_connecting, c.limits.max_connections_per_ip), (Some(100), Some(5)));
    let p = c.limits.publish_rate.expect("publish rate");
    assert!(p.disconnect);
    assert_eq!(p.messages.map(|r| (r.count, r.per, r.burst)), Some((10, Duration::from_secs(1), 10)));
    assert_eq!(p.bytes.map(|r| (r.count, r.per, r.burst)), Some((1000, Duration::from_secs(60), 5000)));
    for (bad, says) in [
        ("  max_connecting: 0\n", "limits.max_connecting: must be at least 1"),
        (
            "  publish_rate: {action: drop, messages: {rate: 1}}\n",
            "limits.publish_rate.action: `drop`: use throttle or disconnect",
        ),
        ("  publish_rate: {action: throttle}\n", "limits.publish_rate: needs `messages` or `bytes`"),
        (
            "  publish_rate: {bytes: {rate: 1, burst: 0}}\n",
            "limits.publish_rate.bytes.burst: must be at least 1",
        ),
    ] {
        let e = with(bad).expect_err(bad).to_string();
        assert!(e.contains(says), "{e}");
    }
}

#[test]
fn bad_bind_address() {
    let e = parse(&OK.replace("127.0.0.1:0", "localhost")).expect_err("not ip:port");
    assert!(e.to_string().contains("listeners[0].bind"), "{e}");
}
