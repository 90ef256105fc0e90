//! PUBACK, PUBREC, PUBREL and PUBCOMP (spec §3.4–§3.7): a packet identifier, then on
//! MQTT 5.0 an optional reason code and properties.
//!
//! The four share one layout and one type, [`Ack`], told apart by [`AckKind`]. The
//! PUBREL fixed-header flags (0b0010) are checked by the dispatcher.

use super::{kind, parse_all, reason_props};
use crate::mqtt::property::AckProperties;
use crate::mqtt::reason::ReasonContext;
use crate::mqtt::wire;
use crate::mqtt::{DecodeError, EncodeError, Protocol, ReasonCode};
use bytes::{BufMut, Bytes, BytesMut};

/// Which of the four acknowledgements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckKind {
    /// PUBACK (QoS 1).
    PubAck,
    /// PUBREC (QoS 2, step 1).
    PubRec,
    /// PUBREL (QoS 2, step 2).
    PubRel,
    /// PUBCOMP (QoS 2, step 3).
    PubComp,
}

impl AckKind {
    /// Packet type number.
    pub const fn packet_type(self) -> u8 {
        match self {
            AckKind::PubAck => kind::PUBACK,
            AckKind::PubRec => kind::PUBREC,
            AckKind::PubRel => kind::PUBREL,
            AckKind::PubComp => kind::PUBCOMP,
        }
    }

    const fn reasons(self) -> ReasonContext {
        match self {
            AckKind::PubAck | AckKind::PubRec => ReasonContext::PubAckRec,
            AckKind::PubRel | AckKind::PubComp => ReasonContext::PubRelComp,
        }
    }

    const fn flags(self) -> u8 {
        match self {
            AckKind::PubRel => 0b0010,
            _ => 0,
        }
    }
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Which acknowledgement.
    pub kind: AckKind,
    /// Packet identifier (non-zero).
    pub pkid: u16,
    /// Reason code (MQTT 5.0; Success on 3.x).
    pub reason: ReasonCode,
    /// Properties (MQTT 5.0).
    pub properties: AckProperties,
}

impl Ack {
    /// A successful acknowledgement without properties.
    pub fn new(kind: AckKind, pkid: u16) -> Self {
        Ack { kind, pkid, reason: ReasonCode::Success, properties: AckProperties::default() }
    }

    pub(super) fn decode(
        kind: AckKind,
        base: &Bytes,
        body: &[u8],
        protocol: Protocol,
    ) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, pkid) = wire::packet_id(i)?;
            if !protocol.is_v5() {
                return Ok((i, Ack::new(kind, pkid)));
            }
            let (i, (reason, properties)) = reason_props::decode::<AckProperties>(i, base, kind.reasons())?;
            Ok((i, Ack { kind, pkid, reason, properties }))
        })
    }

    /// Appends the packet (shortest form the spec allows).
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        if self.pkid == 0 {
            return Err(EncodeError::ZeroPacketId);
        }
        let first = (self.kind.packet_type() << 4) | self.kind.flags();
        if !protocol.is_v5() {
            if self.reason != ReasonCode::Success || !self.properties.is_empty() {
                return Err(EncodeError::NotInVersion(protocol));
            }
            wire::put_header(buf, first, 2)?;
            buf.put_u16(self.pkid);
            return Ok(());
        }
        let tail = reason_props::len(self.reason, &self.properties)?;
        wire::put_header(buf, first, 2 + tail.0)?;
        buf.put_u16(self.pkid);
        reason_props::put(self.reason, &self.properties, tail, buf);
        Ok(())
    }
}
