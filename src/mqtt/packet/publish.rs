//! PUBLISH (spec §3.3): the hot packet.
//!
//! Decoding allocates nothing: topic and payload are slices of the frame's `Bytes`,
//! and an MQTT 5.0 PUBLISH without user properties or subscription identifiers keeps
//! its property vectors empty. Encoding can write just the header (fixed header,
//! topic, packet id, properties) so that a caller can send it followed by the
//! original payload `Bytes` in one vectored write, without copying the payload.

use super::{kind, QoS};
use crate::mqtt::property::{self, PublishProperties};
use crate::mqtt::string::MqttStr;
use crate::mqtt::wire::{self, fail};
use crate::mqtt::{topic, DecodeError, EncodeError, Frame, Protocol};
use bytes::{BufMut, Bytes, BytesMut};

/// A PUBLISH read in place: topic, properties and payload borrow the frame, so
/// reading one touches no reference count and allocates nothing (the forwarding hot
/// path, which sends the frame's own bytes on, only needs to look).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishView<'a> {
    /// DUP flag.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic name (empty only with a Topic Alias, MQTT 5.0).
    pub topic: &'a str,
    /// Packet identifier (0 for QoS 0).
    pub pkid: u16,
    /// The encoded properties (MQTT 5.0), already validated; empty when none.
    /// [`PublishView::properties`] decodes them.
    pub raw_properties: &'a [u8],
    /// Application message.
    pub payload: &'a [u8],
    /// It carries a Subscription Identifier (only a server may send one).
    pub subscription_id: bool,
}

impl<'a> PublishView<'a> {
    /// Reads a PUBLISH frame with every format check of [`crate::mqtt::decode`].
    #[inline]
    pub fn parse(frame: &'a Frame, protocol: Protocol) -> Result<Self, DecodeError> {
        if frame.packet_type() != kind::PUBLISH {
            return Err(DecodeError::UnexpectedPacket(frame.packet_type()));
        }
        let flags = frame.flags();
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(DecodeError::InvalidQoS)?;
        let dup = flags & 0x08 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupOnQoS0);
        }
        let r = (|| {
            let (i, topic) = wire::utf8_str(frame.body())?;
            let (i, pkid) = if qos == QoS::AtMostOnce { (i, 0) } else { wire::packet_id(i)? };
            let (rest, has_alias, subscription_id) = match i.first() {
                _ if !protocol.is_v5() => (i, false, false),
                Some(0) => (&i[1..], false, false),
                // Rare: validate the properties once, keep only what the checks need.
                _ => {
                    let (rest, p) = property::decode::<PublishProperties>(i, frame.raw())?;
                    (rest, p.topic_alias.is_some(), !p.subscription_identifiers.is_empty())
                }
            };
            if let Err(e) = check_topic(topic.as_bytes(), has_alias, protocol) {
                return fail(e);
            }
            let raw_properties = &i[..i.len() - rest.len()];
            Ok((rest, (topic, pkid, raw_properties, subscription_id)))
        })();
        let (payload, (topic, pkid, raw_properties, subscription_id)) = wire::finish(r)?;
        let retain = flags & 0x01 != 0;
        Ok(PublishView { dup, qos, retain, topic, pkid, raw_properties, payload, subscription_id })
    }

    /// [`PublishView::parse`] for a PUBLISH a client sent: also refuses a
    /// Subscription Identifier [MQTT-3.3.4-6].
    #[inline]
    pub fn parse_client(frame: &'a Frame, protocol: Protocol) -> Result<Self, DecodeError> {
        let view = Self::parse(frame, protocol)?;
        if view.subscription_id {
            return Err(DecodeError::SubscriptionIdFromClient);
        }
        Ok(view)
    }

    /// The same PUBLISH with another topic name (`frame` must be the one this view
    /// was parsed from): flags, packet id, properties and payload are copied as they
    /// are. `None` if the topic is longer than 65,535 bytes.
    pub fn with_topic(&self, frame: &Frame, topic: &str) -> Option<Bytes> {
        let topic_len = u16::try_from(topic.len()).ok()?;
        let id_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let body = 2 + topic.len() + id_len + self.raw_properties.len() + self.payload.len();
        let mut b = bytes::BytesMut::with_capacity(body + 5);
        b.put_u8(*frame.raw().first()?);
        crate::mqtt::varint::write(&mut b, u32::try_from(body).ok()?);
        b.put_u16(topic_len);
        b.put_slice(topic.as_bytes());
        if id_len > 0 {
            b.put_u16(self.pkid);
        }
        b.put_slice(self.raw_properties);
        b.put_slice(self.payload);
        Some(b.freeze())
    }

    /// The same PUBLISH (QoS 1/2) with another packet identifier.
    pub fn with_pkid(&self, frame: &Frame, pkid: u16) -> Bytes {
        let raw = frame.raw();
        let at = raw.len() - self.payload.len() - self.raw_properties.len() - 2;
        let mut b = bytes::BytesMut::from(&raw[..]);
        b[at..at + 2].copy_from_slice(&pkid.to_be_bytes());
        b.freeze()
    }

    /// Decodes the properties (`frame` must be the one this view was parsed from).
    pub fn properties(&self, frame: &Frame) -> PublishProperties {
        if self.raw_properties.len() <= 1 {
            return PublishProperties::default();
        }
        // Validated by `parse`, so this cannot fail; an empty set is the safe fallback.
        wire::finish(property::decode::<PublishProperties>(self.raw_properties, frame.raw()))
            .map(|(_, p)| p)
            .unwrap_or_default()
    }
}

/// PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP flag (a re-delivery; only with QoS 1/2).
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic name (empty only with a Topic Alias, MQTT 5.0).
    pub topic: MqttStr,
    /// Packet identifier (0 for QoS 0, non-zero otherwise).
    pub pkid: u16,
    /// PUBLISH properties (MQTT 5.0).
    pub properties: PublishProperties,
    /// Application message.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message without properties.
    pub fn new(topic: MqttStr, payload: Bytes) -> Self {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic,
            pkid: 0,
            properties: PublishProperties::default(),
            payload,
        }
    }

    pub(super) fn decode(frame: &Frame, protocol: Protocol) -> Result<Self, DecodeError> {
        let v = PublishView::parse(frame, protocol)?;
        let properties = v.properties(frame);
        let base = frame.raw();
        Ok(Publish {
            dup: v.dup,
            qos: v.qos,
            retain: v.retain,
            topic: wire::str_in(base, v.topic.as_bytes()),
            pkid: v.pkid,
            properties,
            payload: base.slice_ref(v.payload),
        })
    }

    fn first_byte(&self) -> u8 {
        (kind::PUBLISH << 4) | (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    /// Appends everything but the payload; the payload must follow on the wire.
    /// Returns the number of bytes written.
    pub fn encode_header(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<usize, EncodeError> {
        if (self.qos == QoS::AtMostOnce) != (self.pkid == 0) {
            return Err(EncodeError::ZeroPacketId);
        }
        let props_len = property::block_for(&self.properties, protocol)?;
        let var_len = wire::field_len(self.topic.len())?
            + if self.pkid != 0 { 2 } else { 0 }
            + property::block_len(props_len);
        let remaining = var_len + self.payload.len();
        let start = buf.len();
        buf.reserve(5 + var_len);
        wire::put_header(buf, self.first_byte(), remaining)?;
        wire::put_bin(buf, self.topic.as_bytes());
        if self.pkid != 0 {
            buf.put_u16(self.pkid);
        }
        if let Some(n) = props_len {
            property::put(&self.properties, n, buf);
        }
        Ok(buf.len() - start)
    }

    /// Appends the whole packet (header, then a copy of the payload).
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.reserve(self.payload.len());
        self.encode_header(protocol, buf)?;
        buf.extend_from_slice(&self.payload);
        Ok(())
    }
}

#[inline]
fn check_topic(t: &[u8], has_alias: bool, protocol: Protocol) -> Result<(), DecodeError> {
    if t.is_empty() {
        if protocol.is_v5() && has_alias {
            return Ok(());
        }
        return Err(DecodeError::EmptyTopicName);
    }
    // `wire::utf8` validated the encoding; only the topic rules are left.
    topic::validate_name_bytes(t)
}
