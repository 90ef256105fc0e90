//! Failure handling, byte-exact with a raw client: broker down at CONNECT, broker
//! killed mid-session, malformed input, second CONNECT, oversized packets, keep-alive
//! and connect timeouts, SIGTERM. After each, the proxy keeps serving others.

mod common;
use common::broker::{free_port, Mosquitto};
use common::proxy::{config, Proxy};
use common::raw::{connect_packet, payload, Raw};
use mqtt_proxy::mqtt::{ConnAck, Disconnect, MqttStr, Packet, Protocol, Publish, QoS, ReasonCode};

const V3: Protocol = Protocol::V311;
const V5: Protocol = Protocol::V5;

fn connack_ok(p: Option<Packet>) {
    match p {
        Some(Packet::ConnAck(a)) => assert_eq!(a.reason, ReasonCode::Success),
        other => panic!("expected CONNACK success, got {other:?}"),
    }
}

fn still_serves(proxy: &Proxy) {
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "healthy", 30);
    connack_ok(ack);
    c.send(&Packet::PingReq);
    assert_eq!(c.recv(), Some(Packet::PingResp));
}

fn disconnect(reason: ReasonCode) -> Packet {
    Packet::Disconnect(Disconnect::new(reason))
}

#[test]
fn broker_down_at_connect_gives_server_unavailable() {
    let proxy = Proxy::start(&config(&[format!("127.0.0.1:{}", free_port())], ""));
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "a", 30);
    assert_eq!(ack, Some(Packet::ConnAck(ConnAck::new(ReasonCode::ServerUnavailable, false))));
    assert_eq!(c.recv(), None);
    // 3.1.1: return code 3 on the wire.
    let mut c = Raw::open(proxy.addr, V3);
    c.send(&connect_packet(V3, "b", 30));
    let mut raw = [0u8; 4];
    std::io::Read::read_exact(&mut c.stream, &mut raw).expect("CONNACK bytes");
    assert_eq!(raw, [0x20, 0x02, 0x00, 0x03]);
    proxy.wait_log("refused: upstream unavailable");
}

#[test]
fn second_server_is_used_when_the_first_is_down() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[format!("127.0.0.1:{}", free_port()), broker.addr()], ""));
    still_serves(&proxy);
}

#[test]
fn broker_killed_mid_session_closes_the_client() {
    let mut broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], ""));
    let (mut v5, ack) = Raw::connect(proxy.addr, V5, "v5", 30);
    connack_ok(ack);
    let (mut v3, ack) = Raw::connect(proxy.addr, V3, "v3", 30);
    connack_ok(ack);
    broker.kill();
    // 5.0: told why (0x80; 0x88 is not a valid DISCONNECT code), then closed.
    assert_eq!(v5.recv_until_closed(), vec![disconnect(ReasonCode::UnspecifiedError)]);
    // 3.1.1: just closed.
    assert_eq!(v3.recv_until_closed(), vec![]);
    proxy.wait_log("closed_by=upstream reason=upstream_gone");
}

#[test]
fn garbage_and_non_connect_first_packets_are_closed() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], ""));
    let mut c = Raw::open(proxy.addr, V5);
    c.send_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.recv_until_closed(), vec![]);
    let mut c = Raw::open(proxy.addr, V5);
    c.send(&Packet::PingReq);
    assert_eq!(c.recv_until_closed(), vec![]);
    still_serves(&proxy);
}

#[test]
fn malformed_connect_gets_the_version_specific_answer() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], ""));
    // Protocol level 6: 3.1.1-format CONNACK with return code 1, then close.
    let mut c = Raw::open(proxy.addr, V3);
    c.send_bytes(&[0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 6, 2, 0, 30, 0, 1, b'x']);
    assert_eq!(
        c.recv_until_closed(),
        vec![Packet::ConnAck(ConnAck::new(ReasonCode::UnsupportedProtocolVersion, false))]
    );
    // 5.0 CONNECT with the reserved flag set: CONNACK 0x81.
    let mut c = Raw::open(proxy.addr, V5);
    c.send_bytes(&[0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 5, 3, 0, 30, 0, 0, 1, b'x']);
    assert_eq!(
        c.recv_until_closed(),
        vec![Packet::ConnAck(ConnAck::new(ReasonCode::MalformedPacket, false))]
    );
    still_serves(&proxy);
}

#[test]
fn second_connect_is_a_protocol_error() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], ""));
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "twice", 30);
    connack_ok(ack);
    c.send(&connect_packet(V5, "twice", 30));
    assert_eq!(c.recv_until_closed(), vec![disconnect(ReasonCode::ProtocolError)]);
    let (mut c, ack) = Raw::connect(proxy.addr, V3, "twice3", 30);
    connack_ok(ack);
    c.send(&connect_packet(V3, "twice3", 30));
    assert_eq!(c.recv_until_closed(), vec![]);
    proxy.wait_log("reason=client_protocol_error: unexpected packet 1");
    still_serves(&proxy);
}

#[test]
fn packets_only_a_server_may_send_or_half_an_authentication_are_protocol_errors() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], ""));
    // Authentication Data without an Authentication Method: CONNACK 0x82.
    let Packet::Connect(mut connect) = connect_packet(V5, "half-auth", 30) else { unreachable!() };
    connect.properties.authentication_data = Some(bytes::Bytes::from_static(b"token"));
    let mut c = Raw::open(proxy.addr, V5);
    c.send(&Packet::Connect(connect));
    assert_eq!(c.recv_until_closed(), vec![Packet::ConnAck(ConnAck::new(ReasonCode::ProtocolError, false))]);
    // A client PUBLISH with a Subscription Identifier [MQTT-3.3.4-6]: DISCONNECT 0x82,
    // and the broker never gets it.
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "sub-id", 30);
    connack_ok(ack);
    let mut p = Publish::new(MqttStr::from_static("t"), payload(4));
    p.properties.subscription_identifiers = vec![7];
    c.send(&Packet::Publish(p));
    assert_eq!(c.recv_until_closed(), vec![disconnect(ReasonCode::ProtocolError)]);
    proxy.wait_log("subscription identifier in a client PUBLISH");
    still_serves(&proxy);
}

#[test]
fn oversized_and_malformed_packets_after_connect() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "limits:\n  max_packet_size: 1024\n"));
    // A PUBLISH announcing 100 kB: refused from its header, before the body.
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "big", 30);
    connack_ok(ack);
    c.send_bytes(&[0x30, 0xA0, 0x8D, 0x06]);
    assert_eq!(c.recv_until_closed(), vec![disconnect(ReasonCode::PacketTooLarge)]);
    // A whole packet one byte over the limit.
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "big2", 30);
    connack_ok(ack);
    c.send(&Packet::Publish(Publish::new(MqttStr::from_static("t"), payload(1024))));
    assert_eq!(c.recv_until_closed(), vec![disconnect(ReasonCode::PacketTooLarge)]);
    // Wildcard in a topic name: 0x90. QoS 3: malformed.
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "wild", 30);
    connack_ok(ack);
    c.send_bytes(&[0x30, 0x06, 0, 3, b'a', b'/', b'#', 0]);
    assert_eq!(c.recv_until_closed(), vec![disconnect(ReasonCode::TopicNameInvalid)]);
    let (mut c, ack) = Raw::connect(proxy.addr, V3, "qos3", 30);
    connack_ok(ack);
    c.send_bytes(&[0x36, 0x05, 0, 1, b'a', 0, 1]);
    assert_eq!(c.recv_until_closed(), vec![]);
    still_serves(&proxy);
}

#[test]
fn the_packet_limit_is_promised_to_the_client_and_asked_of_the_broker() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "limits:\n  max_packet_size: 1024\n"));
    // The client learns the limit (so it never sends more)...
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "bounded", 30);
    match &ack {
        Some(Packet::ConnAck(a)) => assert_eq!(a.properties.maximum_packet_size, Some(1024), "{a:?}"),
        other => panic!("{other:?}"),
    }
    c.send(&common::raw::subscribe_packet(1, &["big/#"], QoS::AtLeastOnce));
    assert!(matches!(c.recv(), Some(Packet::SubAck(_))));
    // ...and the broker drops a delivery over it instead of sending it (which would
    // end the session, and again on every reconnect).
    let huge = "x".repeat(2000);
    common::cli::publish(broker.port, &["-q", "1", "-t", "big/poison", "-m", &huge]);
    common::cli::publish(broker.port, &["-q", "1", "-t", "big/fine", "-m", "ok"]);
    match c.recv() {
        Some(Packet::Publish(p)) => assert_eq!(&*p.topic, "big/fine"),
        other => panic!("expected the small delivery, got {other:?}"),
    }
    c.send(&Packet::PingReq);
    assert_eq!(c.recv(), Some(Packet::PingResp));
}

#[test]
fn silent_clients_are_timed_out() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "limits:\n  connect_timeout: 300ms\n"));
    // No CONNECT at all: closed after the connect timeout.
    let mut c = Raw::open(proxy.addr, V5);
    assert_eq!(c.recv_until_closed(), vec![]);
    proxy.wait_log("no CONNECT within the connect timeout");
    // Keep alive 1 s and then silence: DISCONNECT 0x8D after 1.5 s.
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "sleepy", 1);
    connack_ok(ack);
    assert_eq!(c.recv_until_closed(), vec![disconnect(ReasonCode::KeepAliveTimeout)]);
    proxy.wait_log("reason=keep_alive_timeout");
}

#[test]
fn keep_alive_cap_is_announced_to_v5_clients() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "limits:\n  keep_alive_max: 20\n"));
    // Keep alive 0 (off): Mosquitto answers 65535; the proxy caps it at 20.
    for ka in [0, 600] {
        let (_c, ack) = Raw::connect(proxy.addr, V5, "lazy", ka);
        let Some(Packet::ConnAck(ack)) = ack else { panic!("no CONNACK") };
        assert_eq!(ack.properties.server_keep_alive, Some(20), "client keep alive {ka}");
    }
    // Under the cap: untouched.
    let (_c, ack) = Raw::connect(proxy.addr, V5, "busy", 10);
    let Some(Packet::ConnAck(ack)) = ack else { panic!("no CONNACK") };
    assert_eq!(ack.properties.server_keep_alive, None);
}

#[test]
fn sigterm_disconnects_clients_and_exits_cleanly() {
    let broker = Mosquitto::start();
    let mut proxy = Proxy::start(&config(&[broker.addr()], ""));
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "stay", 30);
    connack_ok(ack);
    let status = proxy.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(c.recv_until_closed(), vec![disconnect(ReasonCode::ServerShuttingDown)]);
    assert!(!proxy.is_running());
    assert!(proxy.log().contains("stopped"), "{}", proxy.log());
}

#[test]
fn subscriptions_over_the_session_limit_get_quota_exceeded() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "limits:\n  max_subscriptions_per_session: 2\n"));
    let sub = |c: &mut Raw, pkid: u16, filters: &[&'static str]| -> Vec<ReasonCode> {
        c.send(&common::raw::subscribe_packet(pkid, filters, QoS::AtLeastOnce));
        match c.recv() {
            Some(Packet::SubAck(a)) if a.pkid == pkid => a.reasons,
            other => panic!("{other:?}"),
        }
    };
    let (ok, over) = (ReasonCode::GrantedQoS1, ReasonCode::QuotaExceeded);
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "many-subs", 30);
    connack_ok(ack);
    assert_eq!(sub(&mut c, 1, &["a/#", "b/#", "c/#"]), vec![ok, ok, over]);
    // The same filter again is not another subscription; all over the limit: the
    // proxy answers alone.
    assert_eq!(sub(&mut c, 2, &["a/#"]), vec![ok]);
    assert_eq!(sub(&mut c, 3, &["d/#", "e/#"]), vec![over, over]);
    // An UNSUBSCRIBE frees its place.
    c.send(&Packet::Unsubscribe(mqtt_proxy::mqtt::Unsubscribe {
        pkid: 4,
        filters: vec![MqttStr::from_static("b/#")],
        properties: Default::default(),
    }));
    assert!(matches!(c.recv(), Some(Packet::UnsubAck(_))));
    assert_eq!(sub(&mut c, 5, &["c/#"]), vec![ok]);
    // 3.1.1 has one failure code: 0x80.
    let (mut c, ack) = Raw::connect(proxy.addr, V3, "many-subs-3", 30);
    connack_ok(ack);
    assert_eq!(sub(&mut c, 1, &["a/#", "b/#", "c/#"]), vec![ok, ok, ReasonCode::UnspecifiedError]);
    still_serves(&proxy);
}

#[test]
fn topic_aliases_are_capped_so_a_client_cannot_make_the_proxy_hold_topics_without_end() {
    // The broker would take 65,535 aliases; the proxy (which tracks each alias's topic
    // when it inspects publishes, here for the subscription quota) offers 8.
    let broker = Mosquitto::start_with(free_port(), "max_topic_alias 65535\n");
    let limits = "limits:\n  topic_alias_maximum: 8\n  max_subscriptions_per_session: 100\n";
    let proxy = Proxy::start(&config(&[broker.addr()], limits));
    let (mut c, ack) = Raw::connect(proxy.addr, V5, "aliaser", 30);
    match &ack {
        Some(Packet::ConnAck(a)) => assert_eq!(a.properties.topic_alias_maximum, Some(8), "{a:?}"),
        other => panic!("{other:?}"),
    }
    let aliased = |topic: String, alias: u16| {
        let mut p = Publish::new(MqttStr::try_from(topic).expect("topic"), payload(8));
        p.properties.topic_alias = Some(alias);
        Packet::Publish(p)
    };
    // 100,000 distinct topics over the 8 aliases: what the proxy holds stays flat.
    let before = proxy.rss_kib();
    for i in 0..100_000u32 {
        c.send(&aliased(format!("plant/line/{i:08}/{}", "x".repeat(64)), (i % 8) as u16 + 1));
    }
    c.send(&Packet::PingReq);
    assert_eq!(c.recv(), Some(Packet::PingResp));
    let grown = proxy.rss_kib().saturating_sub(before);
    assert!(grown < 16 * 1024, "RSS grew {grown} KiB over 100k aliased topics");
    // Alias 9 was never offered: DISCONNECT 0x94 before it is tracked.
    c.send(&aliased("plant/nine".into(), 9));
    assert_eq!(c.recv_until_closed(), vec![disconnect(ReasonCode::TopicAliasInvalid)]);
    still_serves(&proxy);
}
