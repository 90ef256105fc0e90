//! Backpressure instead of buffering: a subscriber that stops reading must not make
//! the proxy hold what the broker sends it. The proxy's memory stays bounded by its
//! configured buffers while far more than that is pushed towards the stalled client.
//! And the process asks for small pages, so that memory is what the connections use.

mod common;
use common::broker::Mosquitto;
use common::proxy::{config, Proxy};
use common::raw::{payload, Raw};
use mqtt_proxy::mqtt::{
    MqttStr, Packet, Protocol, Publish, QoS, Subscribe, SubscribeFilter, SubscriptionOptions,
};

const MESSAGES: usize = 160;
const SIZE: usize = 1 << 20; // 160 MiB in all

#[test]
fn stalled_subscriber_does_not_grow_proxy_memory() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(&config(&[broker.addr()], "limits:\n  max_packet_size: 2097152\n"));
    // The subscriber subscribes, then never reads again.
    let (mut stalled, _) = Raw::connect(proxy.addr, Protocol::V311, "stalled", 600);
    stalled.send(&Packet::Subscribe(Subscribe {
        pkid: 1,
        filters: vec![SubscribeFilter {
            filter: MqttStr::from_static("flood"),
            options: SubscriptionOptions { qos: QoS::AtMostOnce, ..Default::default() },
        }],
        properties: Default::default(),
    }));
    assert!(matches!(stalled.recv(), Some(Packet::SubAck(_))));
    let before = proxy.rss_kib();

    // The publisher sends 160 MiB at QoS 1 (each acknowledged by the broker, so all
    // of it has reached the broker and been routed to the stalled subscriber).
    let (mut publisher, _) = Raw::connect(proxy.addr, Protocol::V311, "flooder", 600);
    let body = payload(SIZE);
    for i in 0..MESSAGES {
        let p = Publish {
            qos: QoS::AtLeastOnce,
            pkid: (i + 1) as u16,
            ..Publish::new(MqttStr::from_static("flood"), body.clone())
        };
        publisher.send(&Packet::Publish(p));
        assert!(matches!(publisher.recv(), Some(Packet::Ack(_))), "PUBACK {i}");
    }
    let after = proxy.rss_kib();
    // Two 16 KiB read buffers and one 2 MiB packet per connection, plus allocator
    // slack: far below the 160 MiB that went by.
    let grown = after.saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "proxy RSS grew by {grown} KiB ({before} -> {after}) while a client was stalled"
    );
}

/// Small pages: the proxy turns transparent huge pages off for itself at start (its
/// memory is many small per-connection pieces; `src/proxy/memory.rs`), unless the
/// operator set `MIMALLOC_ALLOW_THP`, which is then mimalloc's to apply.
#[test]
fn transparent_huge_pages_are_off_unless_the_operator_says_otherwise() {
    let broker = Mosquitto::start();
    let yaml = config(&[broker.addr()], "");
    let proxy = Proxy::start(&yaml);
    assert_eq!(proxy.status("THP_enabled"), 0, "huge pages left on");
    let chosen = Proxy::start_env(&yaml, &[], &[("MIMALLOC_ALLOW_THP", "1")]);
    assert_eq!(chosen.status("THP_enabled"), 1, "the operator's MIMALLOC_ALLOW_THP=1 overridden");
}
