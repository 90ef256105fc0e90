//! Tests of the metrics: sums over cores, labels, reload-stable counters.
use super::*;

#[test]
fn sums_over_cores_and_labels_every_close_reason() {
    let up =
        Arc::new(vec![std::sync::atomic::AtomicBool::new(true), std::sync::atomic::AtomicBool::new(false)]);
    let r = Registry::new(vec!["factory/+/telemetry".into()]).with_upstreams(vec![UpstreamHealth {
        name: "line1".into(),
        servers: vec!["a:1883".into(), "b:1883".into()],
        up,
    }]);
    let (a, b) = (r.register(), r.register());
    a.schema_rejected(0, Direction::Deliver, Reason::Schema);
    b.schema_rejected(0, Direction::Deliver, Reason::Schema);
    b.schema_rejected(7000, Direction::Deliver, Reason::Schema);
    a.bytes_up.add(10);
    b.bytes_up.add(5);
    a.closed(&Close::KeepAliveTimeout);
    b.closed(&Close::Shutdown);
    b.refused(Refusal::UpstreamUnavailable);
    a.open.add(2);
    a.open.sub(1);
    let text = r.render();
    assert!(text.contains("mqtt_proxy_bytes_up_total 15\n"), "{text}");
    assert!(text.contains("mqtt_proxy_sessions_closed_total{reason=\"keep_alive_timeout\"} 1\n"));
    assert!(text.contains("mqtt_proxy_sessions_closed_total{reason=\"shutdown\"} 1\n"));
    assert!(text.contains("mqtt_proxy_connections_refused_total{reason=\"upstream_unavailable\"} 1\n"));
    assert!(text.contains("mqtt_proxy_connections_open 1\n"));
    assert!(text.contains("mqtt_proxy_cores 2\n"));
    assert!(
        text.contains("mqtt_proxy_upstream_server_up{upstream=\"line1\",server=\"b:1883\"} 0\n"),
        "{text}"
    );
    assert!(text.contains(
        "mqtt_proxy_schema_rejected_total{filter=\"factory/+/telemetry\",direction=\"deliver\",reason=\"schema\"} 2\n"
    ));
    assert!(text.contains(
        "mqtt_proxy_schema_rejected_total{filter=\"factory/+/telemetry\",direction=\"publish\",reason=\"schema\"} 0\n"
    ));
    // A reload: the same filter keeps its counters, a new one gets its own.
    let labels = r.schema_labels(&["other/#".into(), "factory/+/telemetry".into()]);
    assert_eq!(labels, [Some(1), Some(0)]);
    a.schema_rejected(1, Direction::Publish, Reason::Schema);
    r.reloaded(true);
    r.reloaded(false);
    r.reloaded(false);
    let text = r.render();
    assert!(text.contains(
        "mqtt_proxy_schema_rejected_total{filter=\"other/#\",direction=\"publish\",reason=\"schema\"} 1\n"
    ));
    assert!(text.contains("mqtt_proxy_config_reloads_total{result=\"applied\"} 1\n"), "{text}");
    assert!(text.contains("mqtt_proxy_config_reloads_total{result=\"refused\"} 2\n"), "{text}");
    let many: Vec<String> = (0..SCHEMA_LABELS_MIN).map(|i| format!("t/{i}")).collect();
    let labels = r.schema_labels(&many);
    assert_eq!(labels.iter().filter(|l| l.is_none()).count(), 2, "past the counters the cores have");
    // Every Close label is known here.
    for c in [
        Close::ClientDisconnect,
        Close::ClientGone(String::new()),
        Close::ClientProtocol(crate::mqtt::DecodeError::Truncated),
        Close::KeepAliveTimeout,
        Close::UpstreamDisconnect,
        Close::UpstreamGone(String::new()),
        Close::UpstreamProtocol(crate::mqtt::DecodeError::Truncated),
        Close::Shutdown,
        Close::TokenExpired,
        Close::Denied(String::new()),
        Close::ReauthFailed,
        Close::InvalidPayload(String::new()),
        Close::TopicLimit(String::new(), crate::mqtt::ReasonCode::QoSNotSupported),
        Close::RateExceeded,
    ] {
        assert!(CLOSE_LABELS.contains(&c.label()), "{}", c.label());
    }
}
