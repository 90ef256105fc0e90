//! AsyncAPI documents end to end: every fixture is valid for the AsyncAPI
//! project's own parser (`@asyncapi/parser` from the npm registry), and a proxy
//! configured from a document alone (`--asyncapi … --upstream …`) in front of a
//! real Mosquitto lets clients publish only to `send` channels and subscribe only
//! to `receive` channels, refuses invalid payloads (0x99) and validates deliveries.

mod common;
use common::broker::Mosquitto;
use common::cli::{publish, Sub};
use common::proxy::Proxy;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Installs the parser once into tests/asyncapi/node_modules (from the lock file).
fn asyncapi_parser() -> std::path::PathBuf {
    let dir = Path::new(ROOT).join("tests/asyncapi");
    common::npm::install(&dir, &["node_modules/@asyncapi/parser/package.json"]);
    dir.join("validate.mjs")
}

#[test]
fn every_fixture_is_valid_for_the_asyncapi_parser_and_broken_ones_are_not() {
    let validate = asyncapi_parser();
    let fixtures = Path::new(ROOT).join("tests/fixtures/asyncapi");
    let docs: Vec<_> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert!(docs.len() >= 3, "{docs:?}");
    let out = Command::new("node").arg(&validate).args(&docs).output().expect("node");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.matches("valid ").count(), docs.len(), "{text}");
    // The same check refuses a broken document, so a pass above means something.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    let doc = std::fs::read_to_string(fixtures.join("lighting-3.0.yaml")).expect("read");
    std::fs::write(&bad, doc.replace("action: send", "action: sideways")).expect("write");
    let out = Command::new("node").arg(&validate).arg(&bad).output().expect("node");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stdout).contains("invalid"));
}

fn lighting_proxy(broker: &Mosquitto, version: &str) -> Proxy {
    let doc = format!("{ROOT}/tests/fixtures/asyncapi/lighting-{version}.yaml");
    let upstream = format!("broker={}", broker.addr());
    Proxy::start_args(&["--asyncapi", &doc, "--upstream", &upstream, "--cores", "2"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_from_the_document_alone_allows_what_it_declares() {
    use rumqttc::v5::mqttbytes::v5::{Packet as P, PubAckReason, SubscribeReasonCode};
    use rumqttc::v5::mqttbytes::QoS as Q;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    use rumqttc::Outgoing;
    let broker = Mosquitto::start();
    let proxy = lighting_proxy(&broker, "3.0");
    let mut opts = MqttOptions::new("light-7", "127.0.0.1", proxy.port());
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut ev) = AsyncClient::new(opts, 10);
    let good = r#"{"lumens": 800, "sentAt": "2026-12-02T07:00:00Z"}"#;
    client.publish("plant/lights/7/measured", Q::AtLeastOnce, false, good).await.expect("queue");
    client
        .publish("plant/lights/7/measured", Q::AtLeastOnce, false, r#"{"lumens": -1}"#)
        .await
        .expect("queue");
    client.publish("plant/lights/7/dim", Q::AtLeastOnce, false, r#"{"percent": 5}"#).await.expect("queue");
    client.publish("plant/doors/1/open", Q::AtLeastOnce, false, "{}").await.expect("queue");
    client.subscribe("plant/lights/7/dim", Q::AtLeastOnce).await.expect("queue");
    client.subscribe("plant/lights/+/measured", Q::AtLeastOnce).await.expect("queue");
    // A refused filter is answered at once, an allowed one after Mosquitto's
    // SUBACK: match SUBACKs to SUBSCRIBEs by packet id, not by arrival.
    let (mut acks, mut sent, mut subacks) = (Vec::new(), Vec::new(), Vec::new());
    let wait = async {
        while acks.len() < 4 || subacks.len() < 2 {
            match ev.poll().await.expect("connection stays up") {
                Event::Incoming(P::PubAck(a)) => acks.push(a.reason),
                Event::Incoming(P::SubAck(s)) => subacks.push((s.pkid, s.return_codes)),
                Event::Outgoing(Outgoing::Subscribe(pkid)) => sent.push(pkid),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait).await.expect("acknowledged");
    assert_eq!(
        acks,
        vec![
            PubAckReason::NoMatchingSubscribers, // declared, valid: reached Mosquitto
            PubAckReason::PayloadFormatInvalid,  // declared, payload against the schema
            PubAckReason::NotAuthorized,         // a receive channel: not the client's to publish
            PubAckReason::NotAuthorized,         // not in the document
        ]
    );
    let code = |i: usize| subacks.iter().find(|(p, _)| *p == sent[i]).map(|(_, c)| c.clone());
    assert_eq!(code(0), Some(vec![SubscribeReasonCode::Success(Q::AtLeastOnce)]), "a receive channel");
    assert_eq!(
        code(1),
        Some(vec![SubscribeReasonCode::NotAuthorized]),
        "a send channel: not the client's to read"
    );
}

#[test]
fn deliveries_are_validated_against_the_receive_messages() {
    let broker = Mosquitto::start();
    let proxy = lighting_proxy(&broker, "2.6");
    let mut sub = Sub::start(proxy.port(), &["-t", "plant/lights/+/dim", "-q", "1"]);
    // Published straight to the broker: the proxy checks them on the way down.
    publish(broker.port, &["-t", "plant/lights/3/dim", "-q", "1", "-m", r#"{"percent": 900}"#]);
    publish(broker.port, &["-t", "plant/lights/3/dim", "-q", "1", "-m", r#"{"percent": 40}"#]);
    assert_eq!(sub.next_message().as_deref(), Some(r#"plant/lights/3/dim {"percent": 40}"#));
    // mosquitto_pub through the proxy (3.1.1): the invalid measurement is dropped,
    // the valid one reaches a subscriber on the broker; an undeclared topic too.
    let mut on_broker = Sub::start(broker.port, &["-t", "plant/#", "-q", "1"]);
    publish(proxy.port(), &["-t", "plant/lights/3/measured", "-q", "1", "-m", r#"{"lumens": "bright"}"#]);
    publish(proxy.port(), &["-t", "plant/doors/3", "-q", "1", "-m", "open"]);
    let good = r#"{"lumens": 7, "sentAt": "2026-12-02T07:00:00Z"}"#;
    publish(proxy.port(), &["-t", "plant/lights/3/measured", "-q", "1", "-m", good]);
    assert_eq!(on_broker.next_message(), Some(format!("plant/lights/3/measured {good}")));
}

#[test]
fn check_prints_the_derived_table_and_strict_refuses_warnings() {
    let doc = format!("{ROOT}/tests/fixtures/asyncapi/factory-3.0.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-proxy"))
        .args(["asyncapi", "check", &doc])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("factory/+/reading")
            && text.contains("publish: avro (application/octet-stream); deliver: avro"),
        "{text}"
    );
    assert!(text.contains("factory/+/state") && text.contains("publish: protobuf"), "{text}");
    let lighting = format!("{ROOT}/tests/fixtures/asyncapi/lighting-2.6.yaml");
    let strict = Command::new(env!("CARGO_BIN_EXE_mqtt-proxy"))
        .args(["asyncapi", "check", "--strict", &lighting])
        .output()
        .expect("run");
    assert_eq!(strict.status.code(), Some(1));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(
        err.contains("line 20: /channels/plant~1lights~1{lightId}~1measured") && err.contains("(--strict)"),
        "{err}"
    );
    let render = Command::new(env!("CARGO_BIN_EXE_mqtt-proxy"))
        .args(["asyncapi", "render", &doc, "--upstream", "plant=127.0.0.1:1884"])
        .output()
        .expect("run");
    let native = String::from_utf8_lossy(&render.stdout);
    assert!(native.contains("servers: [\"127.0.0.1:1884\"]") && native.contains("model: avro"), "{native}");
}

/// A token for `sub` with `scope`, signed with the TEST-ONLY RSA key.
fn token(sub: &str, scope: &str) -> String {
    common::tokens::bearer(serde_json::json!({"sub": sub, "scope": scope}))
}

/// Publishes each (topic, payload) at QoS 1 as `sub` and returns the PUBACK
/// reasons, or the CONNACK's refusal.
async fn publishes(
    port: u16,
    user: String,
    items: &[(&str, &str)],
) -> Result<Vec<rumqttc::v5::mqttbytes::v5::PubAckReason>, rumqttc::v5::mqttbytes::v5::ConnectReturnCode> {
    use rumqttc::v5::mqttbytes::v5::Packet as P;
    use rumqttc::v5::mqttbytes::QoS as Q;
    use rumqttc::v5::{AsyncClient, ConnectionError, Event, MqttOptions};
    let mut opts = MqttOptions::new(format!("c-{}", user.len()), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_credentials(user, "");
    let (client, mut ev) = AsyncClient::new(opts, 10);
    for (t, p) in items {
        client.publish(*t, Q::AtLeastOnce, false, p.to_string()).await.expect("queue");
    }
    let mut acks = Vec::new();
    let wait = async {
        while acks.len() < items.len() {
            match ev.poll().await {
                Ok(Event::Incoming(P::PubAck(a))) => acks.push(a.reason),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("connection lost: {e}"),
            }
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(20), wait).await.expect("answered")?;
    Ok(acks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_document_binds_channels_to_the_identity_and_operations_to_scopes() {
    use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, PubAckReason as R};
    let broker = Mosquitto::start();
    let yaml = format!(
        "upstreams:\n  - name: plant\n    servers: [\"{}\"]\n\
         guards:\n  - name: jwt\n    jwks_file: {ROOT}/tests/fixtures/jwt/TEST-ONLY-jwks.json\n\
         asyncapi:\n  - spec: {ROOT}/tests/fixtures/asyncapi/plant-security-3.0.yaml\n    upstream: plant\n    guard: jwt\n    strict: true\n",
        broker.addr()
    );
    let proxy = Proxy::start(&yaml);
    let alarm = r#"{"level": "critical"}"#;
    let device = publishes(
        proxy.port(),
        token("light-7", "plant:device"),
        &[
            ("plant/lights/light-7/measured", r#"{"lumens": 3}"#),
            ("plant/lights/light-8/measured", r#"{"lumens": 3}"#),
            ("plant/alarms/hall-2", alarm),
        ],
    )
    .await;
    assert_eq!(device, Ok(vec![R::NoMatchingSubscribers, R::NotAuthorized, R::NotAuthorized]));
    let alarmer = publishes(
        proxy.port(),
        token("light-8", "plant:device plant:alarm"),
        &[("plant/alarms/hall-2", alarm), ("plant/alarms/hall-2", r#"{"level": "meh"}"#)],
    )
    .await;
    assert_eq!(alarmer, Ok(vec![R::NoMatchingSubscribers, R::PayloadFormatInvalid]));
    let stranger = publishes(proxy.port(), token("x", "other"), &[("plant/alarms/hall-2", alarm)]).await;
    assert_eq!(stranger, Err(ConnectReturnCode::NotAuthorized), "plant:device is needed to connect");
}

/// The operations' MQTT bindings (lighting fixture: measurements QoS ≤ 1, never
/// retained, expiring within 60 s; dimming subscribed at QoS ≤ 1).
#[test]
fn operation_bindings_cap_qos_forbid_retain_and_bound_expiry() {
    use bytes::Bytes;
    use common::raw::{subscribe_packet, Raw};
    use mqtt_proxy::mqtt::{Disconnect, MqttStr, Packet, Protocol, Publish, QoS, ReasonCode};
    let broker = Mosquitto::start();
    let proxy = lighting_proxy(&broker, "3.0");
    let measured = |qos: QoS, retain: bool, pkid: u16| {
        Packet::Publish(Publish {
            qos,
            retain,
            pkid,
            ..Publish::new(
                MqttStr::from_static("plant/lights/9/measured"),
                Bytes::from_static(br#"{"lumens": 1, "sentAt": "2026-12-02T07:00:00Z"}"#),
            )
        })
    };
    // A watcher on the broker itself sees what the proxy forwarded.
    let (mut watcher, _) = Raw::connect(broker.addr().parse().expect("addr"), Protocol::V5, "watcher", 30);
    watcher.send(&subscribe_packet(1, &["plant/#"], QoS::AtLeastOnce));
    assert!(matches!(watcher.recv(), Some(Packet::SubAck(_))));

    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V5, "light-9", 30);
    c.send(&measured(QoS::AtLeastOnce, false, 1));
    let got = c.recv_within(Duration::from_secs(5));
    assert!(matches!(got, Some(Packet::Ack(_))), "{got:?}\n{}", proxy.log());
    let seen = watcher.recv_within(Duration::from_secs(5));
    let Some(Packet::Publish(p)) = seen else { panic!("forwarded: {seen:?} after {got:?}") };
    let expiry = p.properties.message_expiry_interval.expect("the proxy set the binding's expiry");
    assert!((1..=60).contains(&expiry), "{expiry}");
    // Message headers are 5.0 User Properties, checked like the payload.
    let mut bad_unit = measured(QoS::AtLeastOnce, false, 4);
    if let Packet::Publish(p) = &mut bad_unit {
        p.properties.user = vec![(MqttStr::from_static("unit"), MqttStr::from_static("furlong"))];
    }
    c.send(&bad_unit);
    let Some(Packet::Ack(a)) = c.recv() else { panic!("puback") };
    assert_eq!(a.reason, ReasonCode::PayloadFormatInvalid, "`unit` is one of lm, lx");
    // Dimming at QoS 2 is asked of the broker at QoS 1.
    c.send(&subscribe_packet(2, &["plant/lights/9/dim"], QoS::ExactlyOnce));
    let Some(Packet::SubAck(ack)) = c.recv() else { panic!("suback") };
    assert_eq!(ack.reasons, vec![ReasonCode::GrantedQoS1]);
    // QoS 2 where the channel says 1: DISCONNECT 0x9B (a PUBACK cannot say it).
    c.send(&measured(QoS::ExactlyOnce, false, 3));
    assert_eq!(c.recv_until_closed(), vec![Packet::Disconnect(Disconnect::new(ReasonCode::QoSNotSupported))]);
    let (mut c, _) = Raw::connect(proxy.addr, Protocol::V5, "light-10", 30);
    c.send(&measured(QoS::AtLeastOnce, true, 1));
    assert_eq!(
        c.recv_until_closed(),
        vec![Packet::Disconnect(Disconnect::new(ReasonCode::RetainNotSupported))]
    );
}
