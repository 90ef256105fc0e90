//! The fixtures in tests/fixtures/asyncapi (valid for the AsyncAPI project's own
//! parser, checked by tests/asyncapi.rs): 2.6 and 3.0 give the same proxy.

use super::{read, render, without_guard, Action, Payload, Upstream};
use crate::config::Config;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asyncapi").join(name)
}

fn load(name: &str) -> super::Api {
    read(&fixture(name), &|p| std::fs::read_to_string(p)).expect("reads")
}

fn broker() -> Upstream {
    Upstream { name: "broker".into(), servers: vec!["127.0.0.1:1884".into()] }
}

#[test]
fn lighting_2_6_and_3_0_read_the_same() {
    let (a, b) = (load("lighting-2.6.yaml"), load("lighting-3.0.yaml"));
    for api in [&a, &b] {
        assert_eq!(api.title, "Plant lighting");
        assert_eq!(api.servers.len(), 1);
        assert_eq!((api.servers[0].host.as_str(), api.servers[0].port), ("127.0.0.1", 0));
        let measured = api.channels.iter().find(|c| c.address.ends_with("measured")).expect("measured");
        assert_eq!(measured.filter, "plant/lights/+/measured");
        assert_eq!(measured.template, "plant/lights/{sub}/measured");
        assert_eq!(measured.operations.len(), 1);
        assert_eq!(measured.operations[0].action, Action::Send, "2.6 subscribe = the light sends");
        let m = &measured.operations[0].messages[0];
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        let Some(Payload::Json(s)) = &m.payload else { panic!("json payload") };
        assert_eq!(s["required"], serde_json::json!(["lumens", "sentAt"]), "$ref into components inlined");
        let dim = api.channels.iter().find(|c| c.address.ends_with("dim")).expect("dim");
        assert_eq!(dim.operations[0].action, Action::Receive);
        assert!(api.warnings.is_empty(), "{:?}", api.warnings);
        let w: Vec<String> = without_guard(api).iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 2, "the identity-bound channels: {w:?}");
        assert!(w[0].contains("apply only with a guard"), "{w:?}");
    }
    let strip = |t: String| -> Vec<String> {
        t.lines().skip(1).map(|l| l.split("   #").next().unwrap_or(l).to_string()).collect()
    };
    assert_eq!(strip(render(&a, "a", &broker(), None)), strip(render(&b, "a", &broker(), None)));
}

#[test]
fn the_rendered_config_loads_with_acl_and_validators() {
    let api = load("lighting-3.0.yaml");
    let open = render(&api, "lighting-3.0.yaml", &broker(), None);
    assert!(
        open.contains("publish: [{filter: \"plant/lights/+/measured\", max_qos: 1, retain: false, max_message_expiry: 60}]"),
        "the operation's MQTT binding limits the entry: {open}"
    );
    assert!(open.contains("subscribe: [{filter: \"plant/lights/+/dim\", max_qos: 1}]"), "{open}");
    Config::parse(&open, |_| None).expect("loads");
    // With a guard, each light reaches only its own channels.
    let text = render(&api, "lighting-3.0.yaml", &broker(), Some("jwt"));
    assert!(text.contains("publish: [{filter: \"plant/lights/{sub}/measured\", max_qos: 1"), "{text}");
    assert!(text.contains("subscribe: [{filter: \"plant/lights/{sub}/dim\", max_qos: 1}]"), "{text}");
    let jwks = fixture("../jwt/TEST-ONLY-jwks.json");
    let text = format!("{text}guards:\n  - name: jwt\n    jwks_file: {}\n", jwks.display());
    assert!(text.contains("      \"unit\": {model: string, pattern: \"^(?:lm|lx)$$\"}\n      \"seq\": {model: int64, min: 0}"), "{text}");
    let c = Config::parse(&text, |_| None).expect("loads");
    assert_eq!(c.schemas.rules.len(), 2);
    assert_eq!(c.listeners[0].acl.as_ref().map(|a| a.publish.as_ref().map(Vec::len)), Some(Some(1)));
}

#[test]
fn avro_and_protobuf_payloads_become_validators() {
    let api = load("factory-3.0.yaml");
    let reading = api.channels.iter().find(|c| c.id == "reading").expect("reading");
    assert_eq!(reading.operations.len(), 2, "sent and received");
    assert!(matches!(reading.operations[0].messages[0].payload, Some(Payload::Avro(_))));
    let state = api.channels.iter().find(|c| c.id == "state").expect("state");
    assert!(
        matches!(&state.operations[0].messages[0].payload, Some(Payload::Protobuf(_, Some(m))) if m == "factory.MachineState")
    );
    let text = render(&api, "factory-3.0.yaml", &broker(), None);
    assert!(text.contains("direction: both\n    content: {model: avro"), "{text}");
    assert!(text.contains("direction: publish\n    content: {model: protobuf"), "{text}");
    let c = Config::parse(&text, |_| None).expect("loads");
    assert_eq!(c.schemas.rules.len(), 2);
}

#[test]
fn what_is_not_applied_is_a_warning_with_pointer_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = std::fs::read_to_string(fixture("lighting-3.0.yaml")).expect("read").replace(
        "  receiveDim:\n    action: receive\n",
        "  receiveDim:\n    action: receive\n    colour: red\n",
    );
    let doc = doc.replace(
        "        qos: 1\n        bindingVersion: 0.2.0\n",
        "        qos: 1\n        lastWill: {topic: x}\n        bindingVersion: 0.2.0\n",
    );
    let path = dir.path().join("api.yaml");
    std::fs::write(&path, doc).expect("write");
    let api = read(&path, &|p| std::fs::read_to_string(p)).expect("reads");
    let w: Vec<String> = api.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter().any(|w| w
            == "line 58: /operations/receiveDim/bindings/mqtt/lastWill: MQTT binding not enforced yet (ignored)"),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w == "line 51: /operations/receiveDim/colour: not understood by mqtt-proxy (ignored)"),
        "{w:?}"
    );
}

#[test]
fn bad_documents_are_errors_with_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.yaml");
    let base = std::fs::read_to_string(fixture("lighting-3.0.yaml")).expect("read");
    let err = |doc: String| {
        std::fs::write(&path, doc).expect("write");
        read(&path, &|p| std::fs::read_to_string(p)).expect_err("refused").to_string()
    };
    let e = err(base.replace("action: send", "action: sideways"));
    assert!(e.contains("/operations/sendMeasurement/action") && e.contains("sideways"), "{e}");
    let e = err(base.replace("address: plant/lights/{lightId}/dim", "address: plant/lights/dim-{lightId}"));
    assert!(e.contains("a parameter must be a whole topic level"), "{e}");
    let e = err(base.replace("$ref: '#/channels/dim'", "$ref: '#/channels/nope'"));
    assert!(e.contains("points at nothing"), "{e}");
    let e = err(base.replace("asyncapi: 3.0.0", "asyncapi: 1.2.0"));
    assert!(e.contains("use 2.6.0 or 3.0.0"), "{e}");
}
