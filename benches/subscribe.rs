//! One SUBSCRIBE of 100,000 filters (about what a 1 MiB packet holds) through a
//! single-broker session (divan): forwarded as it is (`plain`, the baseline: framing
//! and the format check), and under a topic ACL that denies a third of the filters
//! (`acl`: trimmed, re-encoded, and the broker's SUBACK merged back with the denied
//! filters' 0x87). Both must stay linear in the filters; report `acl ÷ plain`.
//! Run: `cargo bench --bench subscribe`.

use bytes::Bytes;
use divan::{black_box, Bencher};
use mqtt_proxy::auth::{Acl, V3Denied};
use mqtt_proxy::mqtt::{
    Frame, MqttStr, Packet, Protocol, ReasonCode, SubAck, Subscribe, SubscribeFilter, SubscriptionOptions,
};
use mqtt_proxy::session::authorize::Authorizer;
use mqtt_proxy::session::Session;

const FILTERS: usize = 100_000;
const V: Protocol = Protocol::V5;

fn main() {
    divan::main();
}

fn subscribe() -> Bytes {
    let filters = (0..FILTERS)
        .map(|i| SubscribeFilter {
            filter: MqttStr::try_from(format!("{}/{i}/#", if i % 3 == 0 { "other" } else { "plant" }))
                .expect("filter"),
            options: SubscriptionOptions::default(),
        })
        .collect();
    Packet::Subscribe(Subscribe { pkid: 1, filters, properties: Default::default() })
        .to_bytes(V)
        .expect("encode")
}

fn frame(b: &Bytes) -> Frame {
    Frame::from_bytes(b.clone(), usize::MAX).expect("frame")
}

#[divan::bench(sample_count = 20)]
fn plain(bencher: Bencher) {
    let bytes = subscribe();
    bencher.bench_local(|| {
        let session = Session::new(V, 30, None);
        black_box(session.from_client(&frame(&bytes)))
    });
}

#[divan::bench(sample_count = 20)]
fn acl(bencher: Bencher) {
    let bytes = subscribe();
    let granted = FILTERS - FILTERS.div_ceil(3);
    let suback = Packet::SubAck(SubAck {
        pkid: 1,
        reasons: vec![ReasonCode::GrantedQoS1; granted],
        properties: Default::default(),
    })
    .to_bytes(V)
    .expect("encode");
    let connack = Packet::ConnAck(mqtt_proxy::mqtt::ConnAck::new(ReasonCode::Success, false))
        .to_bytes(V)
        .expect("encode");
    bencher.bench_local(|| {
        let acl = Acl { publish: None, subscribe: Some(vec!["plant/#".into()]), ..Acl::default() };
        let session = Session::new(V, 30, None).with_authorizer(Authorizer::new(acl, V3Denied::Drop));
        session.from_link(0, &frame(&connack), 30);
        let up = session.from_client(&frame(&bytes));
        black_box((up, session.from_link(0, &frame(&suback), 30)))
    });
}
