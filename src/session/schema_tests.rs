//! Tests of the session's payload decisions (the logic lives in `session/payload.rs`
//! and `refuse.rs`): the answers to invalid publishes on 5.0 and 3.1.1 under each
//! policy, dropped deliveries acknowledged to the broker, and mount points.

use super::close::Close;
use super::hop::Session as Hop;
use super::refuse::ack;
use super::verdict::{replied, Rejection, Verdict};
use crate::mqtt::{self, Ack, AckKind, ConnAck, Frame, MqttStr, Packet, Protocol, Publish, QoS, ReasonCode};
use crate::schema::{
    compile, CatalogSpec, ContentSpec, Direction, Model, NoRegistry, OnInvalid, OnInvalidV3, OnInvalidV5,
    Reason, RuleSpec, Schemas, Source,
};
use bytes::Bytes;
use std::cell::RefCell;
use std::sync::Arc;

/// The session with each verdict's rejection kept aside, so tests read the answer
/// and the rejection separately.
struct Session {
    hop: Hop,
    last: RefCell<Option<Box<Rejection>>>,
}

#[allow(clippy::wrong_self_convention)] // the same names as the session it wraps
impl Session {
    fn judged(&self, v: Verdict) -> Verdict {
        let (v, r) = v.split();
        *self.last.borrow_mut() = r;
        v
    }
    fn from_client(&self, f: &Frame) -> Verdict {
        self.judged(self.hop.from_client(f))
    }
    fn from_upstream(&self, f: &Frame, ka: u16) -> Verdict {
        self.judged(self.hop.from_upstream(f, ka))
    }
    fn take_rejection(&self) -> Option<Box<Rejection>> {
        self.last.borrow_mut().take()
    }
    fn answers_upstream(&self) -> bool {
        self.hop.answers_upstream()
    }
}

fn schemas(on_invalid: OnInvalid, deliver: bool) -> Arc<Schemas> {
    let inline = [("n".to_string(), r#"{"type":"object","required":["n"]}"#.to_string())].into();
    let catalogs = [("c".to_string(), CatalogSpec::Inline(inline))].into();
    let rule = RuleSpec {
        key: "schemas[0]".into(),
        filter: "t/#".into(),
        publish: !deliver,
        deliver,
        content: Some(ContentSpec {
            model: Model::Json,
            source: Some(Source { catalog: "c".into(), subject: Some("n".into()), version: None, id: None }),
        }),
        user_properties: Vec::new(),
        content_type: None,
        on_invalid,
    };
    Arc::new(compile(catalogs, &[rule], &NoRegistry).expect("compiles"))
}

fn session(v: Protocol, on_invalid: OnInvalid, deliver: bool) -> Session {
    let hop = Hop::new(v, 30, None).with_schemas(&schemas(on_invalid, deliver));
    let s = Session { hop, last: RefCell::new(None) };
    let connack = frame(Packet::ConnAck(ConnAck::new(ReasonCode::Success, false)), v);
    assert_eq!(s.from_upstream(&connack, 30), Verdict::Forward);
    s
}

fn frame(p: Packet, v: Protocol) -> Frame {
    Frame::from_bytes(p.to_bytes(v).expect("encode"), usize::MAX).expect("frame")
}

fn publish(topic: &'static str, payload: &'static [u8], qos: QoS, pkid: u16) -> Packet {
    Packet::Publish(Publish {
        qos,
        pkid,
        ..Publish::new(MqttStr::from_static(topic), Bytes::from_static(payload))
    })
}

#[test]
fn v5_invalid_publishes_get_0x99_and_valid_ones_pass() {
    let v = Protocol::V5;
    let s = session(v, OnInvalid::default(), false);
    assert_eq!(
        s.from_client(&frame(publish("t/1", br#"{"n":1}"#, QoS::AtLeastOnce, 1), v)),
        Verdict::Forward
    );
    assert!(s.take_rejection().is_none());
    assert_eq!(s.from_client(&frame(publish("other", b"junk", QoS::AtLeastOnce, 2), v)), Verdict::Forward);
    let r = replied(s.from_client(&frame(publish("t/1", b"{}", QoS::AtLeastOnce, 3), v)), v);
    assert_eq!(r, ack(AckKind::PubAck, 3, ReasonCode::PayloadFormatInvalid));
    let rej = s.take_rejection().expect("recorded");
    assert_eq!(
        (rej.rule, rej.dir, rej.invalid.reason, rej.topic.as_str()),
        (0, Direction::Publish, Reason::Schema, "t/1")
    );
    let r = replied(s.from_client(&frame(publish("t/1", b"nope", QoS::ExactlyOnce, 4), v)), v);
    assert_eq!(r, ack(AckKind::PubRec, 4, ReasonCode::PayloadFormatInvalid));
    assert_eq!(s.from_client(&frame(publish("t/1", b"", QoS::AtMostOnce, 0), v)), Verdict::Drop);
    // With `disconnect`: DISCONNECT 0x99.
    let on = OnInvalid { v5: OnInvalidV5::Disconnect, ..Default::default() };
    let s = session(v, on, false);
    let end = s.from_client(&frame(publish("t/x", b"[]", QoS::AtMostOnce, 0), v));
    assert_eq!(end, Verdict::End(Close::InvalidPayload("t/x".into())));
    assert_eq!(Close::InvalidPayload(String::new()).client_reason(), Some(ReasonCode::PayloadFormatInvalid));
}

#[test]
fn v311_invalid_publishes_are_acknowledged_and_dropped_or_disconnected() {
    let v = Protocol::V311;
    let s = session(v, OnInvalid::default(), false);
    let r = replied(s.from_client(&frame(publish("t/1", b"x", QoS::AtLeastOnce, 5), v)), v);
    assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubAck, 5)));
    let r = replied(s.from_client(&frame(publish("t/1", b"x", QoS::ExactlyOnce, 6), v)), v);
    assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubRec, 6)));
    let r = replied(s.from_client(&frame(Packet::Ack(Ack::new(AckKind::PubRel, 6)), v)), v);
    assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubComp, 6)));
    assert_eq!(s.from_client(&frame(Packet::Ack(Ack::new(AckKind::PubRel, 6)), v)), Verdict::Forward);
    let on = OnInvalid { v3: OnInvalidV3::Disconnect, ..Default::default() };
    let s = session(v, on, false);
    assert!(matches!(
        s.from_client(&frame(publish("t/1", b"x", QoS::AtMostOnce, 0), v)),
        Verdict::End(Close::InvalidPayload(_))
    ));
}

#[test]
fn invalid_deliveries_are_dropped_and_acknowledged_to_the_broker() {
    for v in [Protocol::V5, Protocol::V311] {
        let s = session(v, OnInvalid::default(), true);
        // Client publishes are not checked by a deliver rule.
        assert_eq!(s.from_client(&frame(publish("t/1", b"x", QoS::AtMostOnce, 0), v)), Verdict::Forward);
        assert_eq!(
            s.from_upstream(&frame(publish("t/1", br#"{"n":2}"#, QoS::AtLeastOnce, 1), v), 30),
            Verdict::Forward
        );
        assert_eq!(s.from_upstream(&frame(publish("t/1", b"x", QoS::AtMostOnce, 0), v), 30), Verdict::Drop);
        let r = replied(s.from_upstream(&frame(publish("t/1", b"x", QoS::AtLeastOnce, 2), v), 30), v);
        assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubAck, 2)));
        let r = replied(s.from_upstream(&frame(publish("t/1", b"x", QoS::ExactlyOnce, 3), v), 30), v);
        assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubRec, 3)));
        assert_eq!(s.take_rejection().map(|r| r.dir), Some(Direction::Deliver), "it comes with its verdict");
        let r = replied(s.from_upstream(&frame(Packet::Ack(Ack::new(AckKind::PubRel, 3)), v), 30), v);
        assert!(s.take_rejection().is_none(), "the PUBREL is not a rejection");
        assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubComp, 3)));
        // A PUBREL for a delivery the client has goes on to the client.
        assert_eq!(
            s.from_upstream(&frame(Packet::Ack(Ack::new(AckKind::PubRel, 4)), v), 30),
            Verdict::Forward
        );
        assert!(s.answers_upstream());
    }
}

#[test]
fn mount_points_rewrite_both_ways() {
    use crate::mqtt::{Subscribe, SubscribeFilter, Unsubscribe};
    let v = Protocol::V5;
    let s = Session { hop: Hop::new(v, 30, None).with_mount(Some("acme/".into())), last: RefCell::new(None) };
    let connack = frame(Packet::ConnAck(ConnAck::new(ReasonCode::Success, false)), v);
    assert_eq!(s.from_upstream(&connack, 30), Verdict::Forward);
    let topic_of = |verdict: Verdict| match verdict {
        Verdict::Replace(b) => match mqtt::decode_bytes(b, v, usize::MAX) {
            Ok(Packet::Publish(p)) => p.topic.to_string(),
            other => panic!("{other:?}"),
        },
        other => panic!("not rewritten: {other:?}"),
    };
    assert_eq!(topic_of(s.from_client(&frame(publish("t/1", b"x", QoS::AtLeastOnce, 1), v))), "acme/t/1");
    assert_eq!(
        topic_of(s.from_upstream(&frame(publish("acme/t/2", b"x", QoS::AtMostOnce, 0), v), 30)),
        "t/2"
    );
    // Outside the mount point: dropped and acknowledged.
    let r = replied(s.from_upstream(&frame(publish("globex/t", b"x", QoS::AtLeastOnce, 3), v), 30), v);
    assert_eq!(r, Packet::Ack(Ack::new(AckKind::PubAck, 3)));
    let f = SubscribeFilter { filter: MqttStr::from_static("$share/g/t/#"), options: Default::default() };
    let sub = Packet::Subscribe(Subscribe { pkid: 4, filters: vec![f], properties: Default::default() });
    let Verdict::Replace(b) = s.from_client(&frame(sub, v)) else { panic!("not mounted") };
    let Ok(Packet::Subscribe(sub)) = mqtt::decode_bytes(b, v, usize::MAX) else { panic!("bad SUBSCRIBE") };
    assert_eq!(&*sub.filters[0].filter, "$share/g/acme/t/#");
    let unsub =
        Unsubscribe { pkid: 5, filters: vec![MqttStr::from_static("t/#")], properties: Default::default() };
    let Verdict::Replace(b) = s.from_client(&frame(Packet::Unsubscribe(unsub), v)) else {
        panic!("not mounted")
    };
    let Ok(Packet::Unsubscribe(u)) = mqtt::decode_bytes(b, v, usize::MAX) else { panic!("bad UNSUBSCRIBE") };
    assert_eq!(&*u.filters[0], "acme/t/#");
}
