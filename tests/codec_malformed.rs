//! The negative suite: one case (at least) per rule of the packet format, asserting
//! the exact `DecodeError`, the MQTT 5.0 reason code it maps to, and for CONNECT
//! problems the MQTT 3.1.1 return code (or that 3.1.1 closes).

mod common;
use bytes::Bytes;
use common::codec::decode_err;
use mqtt_proxy::mqtt::{self, DecodeError as E, Protocol, ReasonCode as R};

const V3: Protocol = Protocol::V311;
const V5: Protocol = Protocol::V5;

fn case(bytes: &[u8], protocol: Protocol, err: E, code: R) {
    let got = decode_err(bytes, protocol);
    assert_eq!(got, err, "bytes {bytes:02x?}");
    assert_eq!(R::from(&got), code, "reason code for {got:?}");
}

fn connect(level_name: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0, level_name.len() as u8];
    body.extend_from_slice(level_name);
    body.extend_from_slice(&[level, flags, 0, 60]);
    if level == 5 {
        body.push(0); // empty properties
    }
    body.extend_from_slice(payload);
    let mut v = vec![0x10, body.len() as u8];
    v.extend(body);
    v
}

#[test]
fn fixed_header() {
    case(&[0x00, 0x00], V5, E::ReservedPacketType(0), R::MalformedPacket);
    case(&[0xF0, 0x00], V3, E::AuthNotSupported, R::ProtocolError);
    case(&[0xC1, 0x00], V5, E::InvalidHeaderFlags { packet_type: 12, flags: 1 }, R::MalformedPacket);
    case(
        &[0x80, 0x06, 0, 1, 0, 1, b'a', 0],
        V3,
        E::InvalidHeaderFlags { packet_type: 8, flags: 0 },
        R::MalformedPacket,
    );
    case(&[0x60, 0x02, 0, 1], V3, E::InvalidHeaderFlags { packet_type: 6, flags: 0 }, R::MalformedPacket);
    case(&[0x30, 0x80, 0x00], V5, E::VarIntNotMinimal, R::MalformedPacket);
    case(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], V5, E::VarIntTooLong, R::MalformedPacket);
}

#[test]
fn oversized_packets_are_refused_before_buffering() {
    let e = mqtt::frame::check(&[0x30, 0xFF, 0xFF, 0x7F], 1 << 20).expect_err("too large");
    assert_eq!(e, E::PacketTooLarge { size: 2_097_155, max: 1 << 20 });
    assert_eq!(R::from(&e), R::PacketTooLarge);
}

#[test]
fn length_mismatches() {
    // Remaining length 3 but the topic claims 5 bytes: truncated inside the frame.
    case(&[0x30, 0x03, 0x00, 0x05, b'a'], V3, E::Truncated, R::MalformedPacket);
    // PINGREQ with a body.
    case(&[0xC0, 0x01, 0x00], V3, E::TrailingBytes, R::MalformedPacket);
    // Properties in a 3.1.1 PUBACK (reason code + property length): too long for 3.1.1.
    case(&[0x40, 0x04, 0x00, 0x01, 0x00, 0x00], V3, E::TrailingBytes, R::MalformedPacket);
    // 3.1.1 DISCONNECT with a reason code.
    case(&[0xE0, 0x01, 0x00], V3, E::TrailingBytes, R::MalformedPacket);
}

#[test]
fn publish_rules() {
    case(&[0x36, 0x05, 0, 1, b'a', 0, 1], V3, E::InvalidQoS, R::MalformedPacket);
    case(&[0x38, 0x03, 0, 1, b'a'], V3, E::DupOnQoS0, R::MalformedPacket);
    case(&[0x32, 0x05, 0, 1, b'a', 0, 0], V3, E::ZeroPacketId, R::MalformedPacket);
    case(&[0x30, 0x05, 0, 3, b'a', b'/', b'+'], V3, E::WildcardInTopicName, R::TopicNameInvalid);
}

#[test]
fn publish_topic_rules() {
    case(&[0x30, 0x05, 0, 3, b'a', b'/', b'#'], V3, E::WildcardInTopicName, R::TopicNameInvalid);
    case(&[0x30, 0x02, 0, 0], V3, E::EmptyTopicName, R::ProtocolError);
    // 5.0: empty topic without a Topic Alias property.
    case(&[0x30, 0x03, 0, 0, 0], V5, E::EmptyTopicName, R::ProtocolError);
    case(&[0x30, 0x04, 0, 2, 0xC3, 0x28], V3, E::InvalidUtf8, R::MalformedPacket);
    case(&[0x30, 0x04, 0, 2, b'a', 0x00], V3, E::NullInString, R::MalformedPacket);
}

#[test]
fn properties() {
    // Topic alias 0.
    case(&[0x30, 0x07, 0, 1, b'a', 3, 0x23, 0, 0], V5, E::InvalidPropertyValue(0x23), R::ProtocolError);
    // Payload format indicator twice.
    case(&[0x30, 0x08, 0, 1, b'a', 4, 0x01, 0, 0x01, 1], V5, E::DuplicateProperty(0x01), R::ProtocolError);
    // Session expiry interval in a PUBLISH.
    case(&[0x30, 0x09, 0, 1, b'a', 5, 0x11, 0, 0, 0, 1], V5, E::PropertyNotAllowed(0x11), R::MalformedPacket);
    // Unknown property 0x7F.
    case(&[0x30, 0x06, 0, 1, b'a', 2, 0x7F, 0], V5, E::UnknownProperty(0x7F), R::MalformedPacket);
    // Property length running past the packet.
    case(&[0x30, 0x05, 0, 1, b'a', 9, 0x01], V5, E::Truncated, R::MalformedPacket);
    // Receive Maximum 0 in CONNACK.
    case(&[0x20, 0x06, 0, 0, 3, 0x21, 0, 0], V5, E::InvalidPropertyValue(0x21), R::ProtocolError);
}

#[test]
fn connect_rules() {
    case(&connect(b"MQTX", 4, 0x02, &[0, 1, b'c']), V3, E::InvalidProtocolName, R::MalformedPacket);
    let e = decode_err(&connect(b"MQTT", 6, 0x02, &[0, 1, b'c']), V3);
    assert_eq!(e, E::UnsupportedProtocolVersion(6));
    assert_eq!(R::from(&e), R::UnsupportedProtocolVersion);
    assert_eq!(e.v3_connack_code(), Some(1));
    case(&connect(b"MQTT", 4, 0x03, &[0, 1, b'c']), V3, E::ConnectReservedFlag, R::MalformedPacket);
    // Will QoS 1 without the will flag; will retain without the will flag; will QoS 3.
    case(&connect(b"MQTT", 4, 0x0A, &[0, 1, b'c']), V3, E::InvalidWillFlags, R::MalformedPacket);
    case(&connect(b"MQTT", 5, 0x22, &[0, 1, b'c']), V5, E::InvalidWillFlags, R::MalformedPacket);
    case(&connect(b"MQTT", 4, 0x1E, &[0, 1, b'c']), V3, E::InvalidWillFlags, R::MalformedPacket);
    // 3.1.1: password without user name.
    case(
        &connect(b"MQTT", 4, 0x42, &[0, 1, b'c', 0, 1, b'p']),
        V3,
        E::PasswordWithoutUsername,
        R::MalformedPacket,
    );
    // 3.1.1: empty client id without clean session.
    let e = decode_err(&connect(b"MQTT", 4, 0x00, &[0, 0]), V3);
    assert_eq!(e, E::ClientIdRejected);
    assert_eq!(e.v3_connack_code(), Some(2));
    assert_eq!(R::from(&e), R::ClientIdentifierNotValid);
    // 5.0 allows it.
    assert!(mqtt::decode_bytes(Bytes::from(connect(b"MQTT", 5, 0x00, &[0, 0])), V5, 1024).is_ok());
    // Will topic with a wildcard.
    case(
        &connect(b"MQTT", 4, 0x06, &[0, 1, b'c', 0, 1, b'#', 0, 0]),
        V3,
        E::WildcardInTopicName,
        R::TopicNameInvalid,
    );
    // Every other CONNECT error closes a 3.1.1 connection without CONNACK.
    assert_eq!(E::ConnectReservedFlag.v3_connack_code(), None);
}

#[test]
fn subscribe_rules() {
    case(&[0x82, 0x02, 0, 1], V3, E::NoTopicFilters, R::ProtocolError);
    case(&[0x82, 0x03, 0, 1, 0], V5, E::NoTopicFilters, R::ProtocolError);
    case(&[0x82, 0x05, 0, 1, 0, 0, 0], V3, E::EmptyTopicFilter, R::MalformedPacket);
    case(&[0x82, 0x08, 0, 1, 0, 3, b'a', b'#', b'b', 0], V3, E::InvalidTopicFilter, R::MalformedPacket);
    case(&[0x82, 0x08, 0, 1, 0, 3, b'#', b'/', b'b', 0], V3, E::InvalidTopicFilter, R::MalformedPacket);
    // QoS 3, 3.1.1 reserved bits, 5.0 reserved bits, retain handling 3.
    case(&[0x82, 0x06, 0, 1, 0, 1, b'a', 3], V3, E::InvalidSubscriptionOptions(3), R::MalformedPacket);
    case(&[0x82, 0x06, 0, 1, 0, 1, b'a', 0x04], V3, E::InvalidSubscriptionOptions(4), R::MalformedPacket);
    case(
        &[0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0x40],
        V5,
        E::InvalidSubscriptionOptions(0x40),
        R::MalformedPacket,
    );
    case(
        &[0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0x30],
        V5,
        E::InvalidSubscriptionOptions(0x30),
        R::MalformedPacket,
    );
    // No Local on a shared subscription.
    let mut v = vec![0x82, 0, 0, 1, 0, 0, 10];
    v.extend_from_slice(b"$share/g/a");
    v.push(0x04);
    v[1] = (v.len() - 2) as u8;
    case(&v, V5, E::NoLocalOnSharedSubscription, R::ProtocolError);
    case(&[0xA2, 0x02, 0, 1], V3, E::NoTopicFilters, R::ProtocolError);
    case(&[0x82, 0x06, 0, 0, 0, 1, b'a', 0], V3, E::ZeroPacketId, R::MalformedPacket);
}

#[test]
fn reason_codes_must_fit_the_packet() {
    case(&[0x40, 0x03, 0, 1, 0x92], V5, E::InvalidReasonCode(0x92), R::MalformedPacket);
    case(&[0x20, 0x02, 0, 0x06], V3, E::InvalidReasonCode(0x06), R::MalformedPacket);
    case(&[0x90, 0x03, 0, 1, 0x87], V3, E::InvalidReasonCode(0x87), R::MalformedPacket);
    case(&[0xF0, 0x01, 0x87], V5, E::InvalidReasonCode(0x87), R::MalformedPacket);
    case(&[0xE0, 0x01, 0x03], V5, E::InvalidReasonCode(0x03), R::MalformedPacket);
    case(&[0x20, 0x02, 0xFE, 0x00], V3, E::ConnAckReservedFlags, R::MalformedPacket);
    // Session present on a refused connection.
    case(&[0x20, 0x02, 0x01, 0x05], V3, E::ConnAckReservedFlags, R::MalformedPacket);
}
