//! The JWT guard end to end, against a real Mosquitto with real clients: the
//! headline scenario (scope `mqtt:stream` required; tokens from PyJWT), refusals that
//! all look the same on the wire, credentials that never reach the broker, and
//! sessions that end when the token expires (5.0: DISCONNECT 0xA0).

mod common;
use common::broker::{free_port, Mosquitto};
use common::cli::{publish, Sub};
use common::proxy::Proxy;
use common::raw::Raw;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use mqtt_proxy::auth::ring_provider;
use mqtt_proxy::mqtt::{Connect, ConnectProperties, Disconnect, MqttStr, Packet, Protocol, ReasonCode};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

const TOKENS: &str = include_str!("fixtures/jwt/TEST-ONLY-tokens.json");
const RSA_PEM: &str = include_str!("fixtures/jwt/TEST-ONLY-rsa-private.pem");

fn token(name: &str) -> String {
    let t: HashMap<String, String> = serde_json::from_str(TOKENS).expect("tokens");
    t[name].clone()
}

/// A broker that refuses any CONNECT carrying a user name it does not know (its
/// password file holds only `someone-else`), so a leaked token would be refused.
fn strict_broker() -> (Mosquitto, tempfile::TempDir) {
    Mosquitto::start_with_password(free_port(), "someone-else", "secret")
}

fn jwt_config(broker: &str, extra_guard: &str) -> String {
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/TEST-ONLY-jwks.json");
    format!(
        "listeners:\n  - name: plain\n    bind: 127.0.0.1:0\n    upstream: broker\n    guard: jwt\n    scopes: [\"mqtt:stream\"]\n\
         upstreams:\n  - name: broker\n    servers: [\"{broker}\"]\n\
         guards:\n  - name: jwt\n    issuer: https://auth.example.com\n    audience: https://api.example.com\n    jwks_file: {jwks}\n    credentials: \"Bearer {{credentials}}\"\n{extra_guard}\
         metrics:\n  bind: 127.0.0.1:0\n"
    )
}

fn connect_with(v: Protocol, id: &'static str, user: Option<String>) -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol: v,
        clean_start: true,
        keep_alive: 30,
        client_id: MqttStr::from_static(id),
        will: None,
        username: user.map(|u| MqttStr::try_from(u).expect("user name")),
        password: None,
        properties: ConnectProperties::default(),
    }))
}

/// What a client sees after sending CONNECT with `user` as user name.
fn answer(proxy: &Proxy, v: Protocol, user: Option<String>) -> Vec<u8> {
    let mut c = Raw::open(proxy.addr, v);
    c.send(&connect_with(v, "probe", user));
    let mut seen = Vec::new();
    while let Some(f) = c.recv_frame() {
        seen.extend_from_slice(f.raw());
    }
    seen
}

#[test]
fn scenario_scope_required_and_pyjwt_tokens_work() {
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&jwt_config(&broker.addr(), ""));
    let p = proxy.port();
    // The premise: this broker refuses a CONNECT that carries a token as user name.
    let direct = Command::new("mosquitto_pub")
        .args(["-p", &broker.port.to_string(), "-t", "x", "-m", "y", "-u", "Bearer leaked"])
        .output()
        .expect("mosquitto_pub");
    assert!(!direct.status.success(), "the strict broker accepted an unknown user name");
    // 1. A token without `mqtt:stream`: mosquitto_sub is refused (never subscribes).
    let out = Command::new("mosquitto_sub")
        .args(["-p", &p.to_string(), "-t", "zilla", "-C", "1", "-W", "5", "-u"])
        .arg(format!("Bearer {}", token("pyjwt-rs256-noscope")))
        .output()
        .expect("mosquitto_sub");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not authori"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    proxy.wait_log("reason=missing scope");
    // 2. With the scope: "Hello, world" goes from mosquitto_pub to mosquitto_sub, both
    //    through the proxy with their own tokens (RS256 and EdDSA, made by PyJWT),
    //    and the broker, which refuses unknown user names, never saw the token.
    for v in ["311", "5"] {
        let sub_user = format!("Bearer {}", token("pyjwt-rs256-stream"));
        let mut sub = Sub::start(p, &["-V", v, "-t", "zilla", "-C", "1", "-u", &sub_user]);
        let pub_user = format!("Bearer {}", token("pyjwt-eddsa-stream"));
        publish(p, &["-V", v, "-t", "zilla", "-m", "Hello, world", "-u", &pub_user]);
        assert_eq!(sub.next_message().as_deref(), Some("zilla Hello, world"), "v{v}");
    }
    assert!(proxy.log().contains("authenticated") && proxy.log().contains("subject=device-42"));
}

#[test]
fn every_refusal_looks_the_same() {
    let (broker, _pw) = strict_broker();
    // Throttling off here: this test counts every reason (see `repeated_failures_are_throttled`).
    let no_throttle = "    throttle: {failures: 0, window: 60s, penalty: 0s}\n";
    let proxy = Proxy::start(&jwt_config(&broker.addr(), no_throttle));
    let good = token("pyjwt-rs256-stream");
    let mut tampered = good.clone().into_bytes();
    let n = tampered.len();
    tampered[n - 5] = if tampered[n - 5] == b'A' { b'B' } else { b'A' };
    let hostile: Vec<Option<String>> = vec![
        None,
        Some("no bearer prefix".into()),
        Some(good.clone()),
        Some("Bearer ".into()),
        Some("Bearer not.a.token".into()),
        Some(format!("Bearer {}", token("pyjwt-rs256-noscope"))),
        Some(format!("Bearer {}", String::from_utf8(tampered).expect("ascii"))),
        Some(format!("Bearer eyJhbGciOiJub25lIn0.{}.", good.split('.').nth(1).expect("payload"))),
        Some(format!("Bearer {}", "x".repeat(9000))),
    ];
    for v in [Protocol::V5, Protocol::V311] {
        let expected: &[u8] = if v.is_v5() { &[0x20, 3, 0, 0x87, 0] } else { &[0x20, 2, 0, 5] };
        for user in &hostile {
            assert_eq!(answer(&proxy, v, user.clone()), expected, "{v} {user:?}");
        }
    }
    // The reasons are in the metrics, not on the wire.
    let text = proxy.scrape();
    for label in ["missing", "malformed", "bad_signature", "alg_none", "missing_scope", "too_long"] {
        let line = format!("mqtt_proxy_auth_refused_total{{reason=\"{label}\"}} ");
        let n: u64 = text.lines().find_map(|l| l.strip_prefix(&line)).expect(label).parse().expect("n");
        assert!(n >= 2, "{label}: {n}");
    }
}

#[test]
fn close_mode_sends_no_connack() {
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&jwt_config(&broker.addr(), "    reject: close\n"));
    assert_eq!(answer(&proxy, Protocol::V5, Some("Bearer nope".into())), Vec::<u8>::new());
}

#[test]
fn session_ends_when_the_token_expires() {
    ring_provider::install();
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&jwt_config(&broker.addr(), "    leeway: 0s\n"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let claims = json!({"iss": "https://auth.example.com", "aud": "https://api.example.com",
        "sub": "short-lived", "exp": now + 3, "scope": "mqtt:stream"});
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("example".into());
    let t = encode(&h, &claims, &EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).expect("pem")).expect("sign");
    // Both versions connect within the token's 3 s, then wait for its end.
    let mut clients = Vec::new();
    for (v, id) in [(Protocol::V5, "short5"), (Protocol::V311, "short3")] {
        let mut c = Raw::open(proxy.addr, v);
        c.send(&connect_with(v, id, Some(format!("Bearer {t}"))));
        match c.recv() {
            Some(Packet::ConnAck(a)) => assert_eq!(a.reason, ReasonCode::Success),
            other => panic!("{v}: expected CONNACK, got {other:?}"),
        }
        clients.push((v, c));
    }
    for (v, mut c) in clients {
        let expected = if v.is_v5() {
            vec![Packet::Disconnect(Disconnect::new(ReasonCode::MaximumConnectTime))]
        } else {
            vec![]
        };
        assert_eq!(c.recv_until_closed(), expected, "{v}");
    }
    proxy.wait_log("reason=token_expired");
}

#[test]
fn shipped_jwt_config_scenario_on_plain_and_tls_listeners() {
    let broker = Mosquitto::start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proxy = common::shipped::ShippedJwtProxy::start(
        Path::new(env!("CARGO_BIN_EXE_mqtt-proxy")),
        broker.port,
        root,
    );
    let ports: Vec<String> = proxy.addrs.iter().map(|a| a.port().to_string()).collect();
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/TEST-ONLY-ca.pem");
    let good = format!("Bearer {}", token("pyjwt-rs256-stream"));
    // config/jwt.yaml has only the example RSA key (kid `example`).
    let other = format!("Bearer {}", token("pyjwt-rs256-stream"));
    let noscope = format!("Bearer {}", token("pyjwt-rs256-noscope"));
    for (port, tls) in [(&ports[0], false), (&ports[1], true)] {
        let p: u16 = port.parse().expect("port");
        let mut extra = vec!["-h", "localhost"];
        if tls {
            extra.extend(["--cafile", ca]);
        }
        // 1. Without the scope: refused.
        let mut args = vec!["-p", port.as_str(), "-t", "zilla", "-C", "1", "-W", "5", "-u", noscope.as_str()];
        args.extend(extra.iter().copied());
        let out = Command::new("mosquitto_sub").args(&args).output().expect("mosquitto_sub");
        assert!(!out.status.success(), "tls={tls}: refused client subscribed");
        // 2. With it: Hello, world from one token holder to another.
        let mut sub_args = vec!["-t", "zilla", "-C", "1", "-u", good.as_str()];
        sub_args.extend(extra.iter().copied());
        let mut sub = Sub::start(p, &sub_args);
        let mut pub_args = vec!["-t", "zilla", "-m", "Hello, world", "-u", other.as_str()];
        pub_args.extend(extra.iter().copied());
        publish(p, &pub_args);
        assert_eq!(sub.next_message().as_deref(), Some("zilla Hello, world"), "tls={tls}");
    }
}

#[test]
fn repeated_tokens_are_served_from_the_cache() {
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&jwt_config(&broker.addr(), ""));
    let user = format!("Bearer {}", token("pyjwt-rs256-stream"));
    for _ in 0..6 {
        let mut c = Raw::open(proxy.addr, Protocol::V5);
        c.send(&connect_with(Protocol::V5, "again", Some(user.clone())));
        assert!(matches!(c.recv(), Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success));
    }
    let text = proxy.scrape();
    let hits: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("mqtt_proxy_token_cache_hits_total "))
        .expect("series")
        .parse()
        .expect("n");
    // Two cores: at most one miss each.
    assert!(hits >= 4, "{hits} cache hits for 6 identical tokens");
}

#[test]
fn a_token_valid_for_ever_does_not_break_the_core() {
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&jwt_config(&broker.addr(), ""));
    // exp past i64::MAX seconds: a deadline timer armed for it would overflow.
    let t = rs256("forever", 18_000_000_000_000_000_000);
    for (v, id) in [(Protocol::V5, "forever5"), (Protocol::V311, "forever3")] {
        let mut c = Raw::open(proxy.addr, v);
        c.send(&connect_with(v, id, Some(format!("Bearer {t}"))));
        assert!(matches!(c.recv(), Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success), "{v}");
        c.send(&Packet::PingReq);
        assert_eq!(c.recv(), Some(Packet::PingResp), "{v}: the session lives on");
    }
    assert!(!proxy.log().contains("panicked"), "{}", proxy.log());
}

#[test]
fn a_token_accepted_inside_the_leeway_keeps_its_session_for_the_leeway() {
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&jwt_config(&broker.addr(), ""));
    // Expired 5 s ago; the guard's leeway is 30 s.
    let t = rs256("late", unix_now() - 5);
    for (v, id) in [(Protocol::V5, "late5"), (Protocol::V311, "late3")] {
        let mut c = Raw::open(proxy.addr, v);
        c.send(&connect_with(v, id, Some(format!("Bearer {t}"))));
        assert!(matches!(c.recv(), Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success), "{v}");
        c.send(&Packet::PingReq);
        assert_eq!(c.recv(), Some(Packet::PingResp), "{v}: not cut off at exp");
    }
}

fn rs256(sub: &str, exp: u64) -> String {
    rs256_with(sub, exp, json!({}))
}

/// A token with `extra` claims besides the usual ones.
fn rs256_with(sub: &str, exp: u64, extra: serde_json::Value) -> String {
    ring_provider::install();
    let mut claims = json!({"iss": "https://auth.example.com", "aud": "https://api.example.com",
        "sub": sub, "exp": exp, "scope": "mqtt:stream"});
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("example".into());
    encode(&h, &claims, &EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).expect("pem")).expect("sign")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

fn enhanced_connect(token: &str) -> Packet {
    let properties = ConnectProperties {
        authentication_method: Some(MqttStr::from_static("jwt")),
        authentication_data: Some(bytes::Bytes::from(token.to_string())),
        ..Default::default()
    };
    let Packet::Connect(mut c) = connect_with(Protocol::V5, "enhanced", None) else { unreachable!() };
    c.properties = properties;
    Packet::Connect(c)
}

fn reauth(token: &str) -> Packet {
    let mut a = mqtt_proxy::mqtt::Auth::new(ReasonCode::ReAuthenticate);
    a.properties.authentication_method = Some(MqttStr::from_static("jwt"));
    a.properties.authentication_data = Some(bytes::Bytes::from(token.to_string()));
    Packet::Auth(a)
}

#[test]
fn enhanced_authentication_and_reauthentication_move_the_deadline() {
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&jwt_config(&broker.addr(), "    auth_method: jwt\n    leeway: 0s\n"));
    let first_exp = unix_now() + 3;
    let mut c = Raw::open(proxy.addr, Protocol::V5);
    c.send(&enhanced_connect(&rs256("device-9", first_exp)));
    // The broker (which refuses unknown auth methods and user names) accepted the
    // stripped CONNECT; the CONNACK carries the client's method back.
    match c.recv() {
        Some(Packet::ConnAck(a)) => {
            assert_eq!(a.reason, ReasonCode::Success);
            assert_eq!(a.properties.authentication_method.as_deref(), Some("jwt"));
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    c.send(&reauth(&rs256("device-9", unix_now() + 60)));
    match c.recv() {
        Some(Packet::Auth(a)) => {
            assert_eq!(a.reason, ReasonCode::Success);
            assert_eq!(a.properties.authentication_method.as_deref(), Some("jwt"));
        }
        other => panic!("expected AUTH success, got {other:?}"),
    }
    // Past the first token's expiry the session is still up.
    while unix_now() <= first_exp + 1 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    c.send(&Packet::PingReq);
    assert_eq!(c.recv(), Some(Packet::PingResp));
    // A bad re-authentication ends the session with 0x87.
    c.send(&reauth("not.a.token"));
    assert_eq!(c.recv_until_closed(), vec![Packet::Disconnect(Disconnect::new(ReasonCode::NotAuthorized))]);
    proxy.wait_log("reason=reauth_failed");
}

#[test]
fn repeated_failures_are_throttled() {
    let (broker, _pw) = strict_broker();
    let throttle = "    throttle: {failures: 3, window: 60s, penalty: 10ms}\n";
    let proxy = Proxy::start_with(&jwt_config(&broker.addr(), throttle), &["--cores", "1"]);
    let refused = vec![0x20, 3, 0, 0x87, 0];
    for _ in 0..3 {
        assert_eq!(answer(&proxy, Protocol::V5, Some("Bearer guess".into())), refused);
    }
    // From now on even a valid token from this address is refused, unverified, and
    // the answer looks exactly like any other refusal.
    let good = format!("Bearer {}", token("pyjwt-rs256-stream"));
    assert_eq!(answer(&proxy, Protocol::V5, Some(good)), refused);
    proxy.wait_log("reason=throttled");
}

#[test]
fn broker_gets_configured_credentials_instead_of_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("passwd");
    let ok =
        Command::new("mosquitto_passwd").args(["-b", "-c"]).arg(&pw).args(["device-42", "pw-42"]).status();
    assert!(ok.expect("mosquitto_passwd").success());
    let broker = Mosquitto::start_with(free_port(), &format!("password_file {}\n", pw.display()));
    let user = format!("Bearer {}", token("pyjwt-rs256-stream"));
    for (password, accepted) in [("pw-42", true), ("wrong", false)] {
        let yaml = jwt_config(&broker.addr(), "").replace(
            "    scopes: [\"mqtt:stream\"]\n",
            &format!("    scopes: [\"mqtt:stream\"]\n    upstream_username: \"{{sub}}\"\n    upstream_password: {password}\n"),
        );
        let proxy = Proxy::start(&yaml);
        let mut c = Raw::open(proxy.addr, Protocol::V5);
        c.send(&connect_with(Protocol::V5, "creds", Some(user.clone())));
        match c.recv() {
            Some(Packet::ConnAck(a)) => {
                assert_eq!(!a.reason.is_error(), accepted, "password {password}: {a:?}")
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }
}

#[test]
fn jwks_file_changes_are_picked_up_while_running() {
    let (broker, _pw) = strict_broker();
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks = dir.path().join("keys.json");
    let all: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/jwt/TEST-ONLY-jwks.json")).expect("jwks");
    // Start with only the EC key: the RS256 token is refused.
    let ec_only = json!({"keys": all["keys"].as_array().expect("keys").iter().filter(|k| k["kid"] == "ec-1").collect::<Vec<_>>()});
    std::fs::write(&jwks, ec_only.to_string()).expect("write");
    let yaml = jwt_config(
        &broker.addr(),
        "    jwks_refresh: 100ms\n    throttle: {failures: 0, window: 60s, penalty: 0s}\n",
    )
    .replace(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/TEST-ONLY-jwks.json"),
        &jwks.display().to_string(),
    );
    let proxy = Proxy::start(&yaml);
    let user = format!("Bearer {}", token("pyjwt-rs256-stream"));
    assert_eq!(answer(&proxy, Protocol::V5, Some(user.clone())), vec![0x20, 3, 0, 0x87, 0]);
    // The identity provider publishes the RSA key: written atomically, as it would be.
    let tmp = dir.path().join("keys.json.new");
    std::fs::write(&tmp, all.to_string()).expect("write");
    std::fs::rename(&tmp, &jwks).expect("rename");
    proxy.wait_log("JWKS reloaded");
    let mut c = Raw::open(proxy.addr, Protocol::V5);
    c.send(&connect_with(Protocol::V5, "after-rotation", Some(user)));
    assert!(matches!(c.recv(), Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success));
    // A broken file is reported and the keys in use stay.
    std::fs::write(&tmp, "{ not json").expect("write");
    std::fs::rename(&tmp, &jwks).expect("rename");
    proxy.wait_log("JWKS reload failed");
    let mut c = Raw::open(proxy.addr, Protocol::V5);
    c.send(&connect_with(Protocol::V5, "still", Some(format!("Bearer {}", token("pyjwt-rs256-stream")))));
    assert!(matches!(c.recv(), Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success));
}

/// The listener's ACL reads the token's `tenant`: a session is shaped by it.
fn tenant_config(broker: &str) -> String {
    jwt_config(broker, "    auth_method: jwt\n    leeway: 0s\n").replace(
        "scopes: [\"mqtt:stream\"]\n",
        "scopes: [\"mqtt:stream\"]\n    acl:\n      publish: [\"plants/{claims.tenant}/#\"]\n",
    )
}

fn enhanced_session(proxy: &Proxy, token: &str) -> Raw {
    let mut c = Raw::open(proxy.addr, Protocol::V5);
    c.send(&enhanced_connect(token));
    assert!(matches!(c.recv(), Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success));
    c
}

#[test]
fn reauthentication_must_name_the_same_identity() {
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&tenant_config(&broker.addr()));
    let later = unix_now() + 600;
    let acme = |sub: &str| rs256_with(sub, later, json!({"tenant": "acme"}));
    // (the re-authentication token, why it is refused)
    let cases = [
        (acme("device-8"), "another device"),
        (rs256_with("device-7", later, json!({"tenant": "globex"})), "another tenant"),
        (rs256("device-7", later), "no tenant at all"),
    ];
    for (n, (token, why)) in cases.iter().enumerate() {
        let mut c = enhanced_session(&proxy, &acme("device-7"));
        c.send(&reauth(token));
        assert_eq!(
            c.recv_until_closed(),
            vec![Packet::Disconnect(Disconnect::new(ReasonCode::NotAuthorized))],
            "{why}"
        );
        proxy.wait_metric("mqtt_proxy_auth_refused_total{reason=\"reauth_identity\"} ", n as u64 + 1);
    }
    assert!(proxy.log().contains("re-authentication with another identity"), "{}", proxy.log());
    // The same device and tenant with a fresh token (other claims may change).
    let mut c = enhanced_session(&proxy, &acme("device-7"));
    c.send(&reauth(&rs256_with("device-7", later + 60, json!({"tenant": "acme", "jti": "2"}))));
    assert!(matches!(c.recv(), Some(Packet::Auth(a)) if a.reason == ReasonCode::Success));
}

#[test]
fn a_reauthentication_token_that_expires_sooner_shortens_the_session() {
    let (broker, _pw) = strict_broker();
    let proxy = Proxy::start(&jwt_config(&broker.addr(), "    auth_method: jwt\n    leeway: 0s\n"));
    let mut c = enhanced_session(&proxy, &rs256("device-9", unix_now() + 3600));
    c.send(&reauth(&rs256("device-9", unix_now() + 2)));
    assert!(matches!(c.recv(), Some(Packet::Auth(a)) if a.reason == ReasonCode::Success));
    // Ended at the new token's expiry (the read times out after 10 s otherwise).
    assert_eq!(
        c.recv_until_closed(),
        vec![Packet::Disconnect(Disconnect::new(ReasonCode::MaximumConnectTime))]
    );
    proxy.wait_log("reason=token_expired");
}
