//! The fifteen MQTT control packets: one file per packet (or per family of packets
//! that share a layout), each with `decode` from an exact-length frame body and
//! `encode` into a `BytesMut`.
//!
//! [`decode`] dispatches on the fixed header, checks its flags, and hands the body
//! slice to the packet's decoder; decoders return values that share the frame's
//! memory. [`Packet::encode`] writes a packet for a given protocol version. Nothing
//! here does I/O or keeps state between packets: the protocol version of a
//! connection is the caller's to remember (it comes from CONNECT).

mod ack;
mod connack;
mod connect;
mod head;
mod publish;
mod reason_props;
mod subscribe;
mod unsubscribe;

pub use ack::{Ack, AckKind};
pub use connack::ConnAck;
pub use connect::{Connect, LastWill};
pub use publish::{Publish, PublishView};
pub use reason_props::{Auth, Disconnect};
pub use subscribe::{RetainHandling, SubAck, Subscribe, SubscribeFilter, SubscriptionOptions};
pub use unsubscribe::{UnsubAck, Unsubscribe};

use super::wire::{self, PResult};
use super::{DecodeError, EncodeError, Frame, Protocol};
use bytes::{Bytes, BytesMut};

/// Packet type numbers (high nibble of the first byte).
#[allow(missing_docs)]
pub mod kind {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
    pub const AUTH: u8 = 15;
}

/// Quality of service of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum QoS {
    /// At most once.
    #[default]
    AtMostOnce = 0,
    /// At least once.
    AtLeastOnce = 1,
    /// Exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for bits `0..=2`; `None` for 3.
    #[inline]
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// Any MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT (client to server).
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(ConnAck),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK, PUBREC, PUBREL or PUBCOMP.
    Ack(Ack),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (MQTT 5.0 only).
    Auth(Auth),
}

/// Checks that the fixed header flags are exactly `expected`.
#[inline]
fn flags_are(frame: &Frame, expected: u8) -> Result<(), DecodeError> {
    if frame.flags() == expected {
        Ok(())
    } else {
        Err(DecodeError::InvalidHeaderFlags { packet_type: frame.packet_type(), flags: frame.flags() })
    }
}

/// Runs a nom parser over the whole body and requires it to use every byte.
#[inline]
pub(crate) fn parse_all<'a, T>(
    body: &'a [u8],
    f: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, DecodeError> {
    let (rest, v) = wire::finish(f(body))?;
    wire::end(rest)?;
    Ok(v)
}

/// Decodes one frame. `protocol` is the connection's version (ignored for CONNECT,
/// which carries its own).
pub fn decode(frame: &Frame, protocol: Protocol) -> Result<Packet, DecodeError> {
    let base = frame.raw();
    let body = frame.body();
    Ok(match frame.packet_type() {
        kind::PUBLISH => Packet::Publish(Publish::decode(frame, protocol)?),
        kind::PUBACK => {
            flags_are(frame, 0)?;
            Packet::Ack(Ack::decode(AckKind::PubAck, base, body, protocol)?)
        }
        kind::PUBREC => {
            flags_are(frame, 0)?;
            Packet::Ack(Ack::decode(AckKind::PubRec, base, body, protocol)?)
        }
        kind::PUBREL => {
            flags_are(frame, 0b0010)?;
            Packet::Ack(Ack::decode(AckKind::PubRel, base, body, protocol)?)
        }
        kind::PUBCOMP => {
            flags_are(frame, 0)?;
            Packet::Ack(Ack::decode(AckKind::PubComp, base, body, protocol)?)
        }
        kind::CONNECT => {
            flags_are(frame, 0)?;
            Packet::Connect(Box::new(Connect::decode(base, body)?))
        }
        kind::CONNACK => {
            flags_are(frame, 0)?;
            Packet::ConnAck(ConnAck::decode(base, body, protocol)?)
        }
        kind::SUBSCRIBE => {
            flags_are(frame, 0b0010)?;
            Packet::Subscribe(Subscribe::decode(base, body, protocol)?)
        }
        kind::SUBACK => {
            flags_are(frame, 0)?;
            Packet::SubAck(SubAck::decode(base, body, protocol)?)
        }
        kind::UNSUBSCRIBE => {
            flags_are(frame, 0b0010)?;
            Packet::Unsubscribe(Unsubscribe::decode(base, body, protocol)?)
        }
        kind::UNSUBACK => {
            flags_are(frame, 0)?;
            Packet::UnsubAck(UnsubAck::decode(base, body, protocol)?)
        }
        kind::PINGREQ => {
            flags_are(frame, 0)?;
            wire::end(body)?;
            Packet::PingReq
        }
        kind::PINGRESP => {
            flags_are(frame, 0)?;
            wire::end(body)?;
            Packet::PingResp
        }
        kind::DISCONNECT => {
            flags_are(frame, 0)?;
            Packet::Disconnect(Disconnect::decode(base, body, protocol)?)
        }
        kind::AUTH => {
            if !protocol.is_v5() {
                return Err(DecodeError::AuthNotSupported);
            }
            flags_are(frame, 0)?;
            Packet::Auth(Auth::decode(base, body, protocol)?)
        }
        t => return Err(DecodeError::ReservedPacketType(t)),
    })
}

/// Frames and decodes bytes holding exactly one packet (tests, tools, fuzzing).
pub fn decode_bytes(raw: Bytes, protocol: Protocol, max_size: usize) -> Result<Packet, DecodeError> {
    decode(&Frame::from_bytes(raw, max_size)?, protocol)
}

impl Packet {
    /// The packet type number.
    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::Connect(_) => kind::CONNECT,
            Packet::ConnAck(_) => kind::CONNACK,
            Packet::Publish(_) => kind::PUBLISH,
            Packet::Ack(a) => a.kind.packet_type(),
            Packet::Subscribe(_) => kind::SUBSCRIBE,
            Packet::SubAck(_) => kind::SUBACK,
            Packet::Unsubscribe(_) => kind::UNSUBSCRIBE,
            Packet::UnsubAck(_) => kind::UNSUBACK,
            Packet::PingReq => kind::PINGREQ,
            Packet::PingResp => kind::PINGRESP,
            Packet::Disconnect(_) => kind::DISCONNECT,
            Packet::Auth(_) => kind::AUTH,
        }
    }

    /// Appends the packet, encoded for `protocol`, to `buf`.
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Packet::Connect(c) => c.encode(buf),
            Packet::ConnAck(c) => c.encode(protocol, buf),
            Packet::Publish(p) => p.encode(protocol, buf),
            Packet::Ack(a) => a.encode(protocol, buf),
            Packet::Subscribe(s) => s.encode(protocol, buf),
            Packet::SubAck(s) => s.encode(protocol, buf),
            Packet::Unsubscribe(u) => u.encode(protocol, buf),
            Packet::UnsubAck(u) => u.encode(protocol, buf),
            Packet::PingReq => wire::put_header(buf, kind::PINGREQ << 4, 0),
            Packet::PingResp => wire::put_header(buf, kind::PINGRESP << 4, 0),
            Packet::Disconnect(d) => d.encode(protocol, buf),
            Packet::Auth(a) => a.encode(protocol, buf),
        }
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self, protocol: Protocol) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(protocol, &mut buf)?;
        Ok(buf.freeze())
    }
}
