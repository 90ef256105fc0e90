//! CONNECT (spec §3.1): protocol name and level, flags, keep alive, properties,
//! client identifier, will, user name, password.
//!
//! The decoder enforces the format rules that the spec makes MUSTs: the protocol
//! name fits the level, the reserved flag is 0, will QoS/retain only with the will
//! flag, no password without a user name before 5.0, a client identifier the
//! version allows, a will topic without wildcards. It does not authenticate
//! anything; the credentials are returned as they were received.

use super::{kind, parse_all, QoS};
use crate::mqtt::property::{self, ConnectProperties, WillProperties};
use crate::mqtt::string::MqttStr;
use crate::mqtt::wire::{self, fail, PResult};
use crate::mqtt::{topic, DecodeError, EncodeError, Protocol};
use bytes::{BufMut, Bytes, BytesMut};

/// A will message, published by the server when the connection is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Topic to publish to.
    pub topic: MqttStr,
    /// Payload.
    pub payload: Bytes,
    /// QoS to publish with.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// Will properties (MQTT 5.0).
    pub properties: WillProperties,
}

/// CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Version the client speaks; fixes the format of the rest of the connection.
    pub protocol: Protocol,
    /// Clean Session (3.x) / Clean Start (5.0).
    pub clean_start: bool,
    /// Keep Alive, seconds (0: off).
    pub keep_alive: u16,
    /// Client Identifier (may be empty).
    pub client_id: MqttStr,
    /// Will message.
    pub will: Option<LastWill>,
    /// User Name.
    pub username: Option<MqttStr>,
    /// Password (binary data).
    pub password: Option<Bytes>,
    /// CONNECT properties (MQTT 5.0).
    pub properties: ConnectProperties,
}

const RESERVED: u8 = 0x01;
const CLEAN: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

fn protocol(i: &[u8]) -> PResult<'_, Protocol> {
    let (i, name) = wire::bin(i)?;
    let (i, level) = wire::byte(i)?;
    let p = match (name, level) {
        (b"MQTT", 4) => Protocol::V311,
        (b"MQTT", 5) => Protocol::V5,
        (b"MQIsdp", 3) => Protocol::V31,
        (b"MQTT" | b"MQIsdp", l) => return fail(DecodeError::UnsupportedProtocolVersion(l)),
        _ => return fail(DecodeError::InvalidProtocolName),
    };
    Ok((i, p))
}

impl Connect {
    pub(super) fn decode(base: &Bytes, body: &[u8]) -> Result<Self, DecodeError> {
        parse_all(body, |i| {
            let (i, protocol) = protocol(i)?;
            let (i, flags) = wire::byte(i)?;
            let (i, keep_alive) = wire::u16(i)?;
            if flags & RESERVED != 0 {
                return fail(DecodeError::ConnectReservedFlag);
            }
            let will_qos = (flags >> 3) & 0x03;
            let has_will = flags & WILL != 0;
            if !has_will && (will_qos != 0 || flags & WILL_RETAIN != 0) || will_qos == 3 {
                return fail(DecodeError::InvalidWillFlags);
            }
            if !protocol.is_v5() && flags & PASSWORD != 0 && flags & USERNAME == 0 {
                return fail(DecodeError::PasswordWithoutUsername);
            }
            let clean_start = flags & CLEAN != 0;
            let (i, properties) = if protocol.is_v5() {
                property::decode::<ConnectProperties>(i, base)?
            } else {
                (i, ConnectProperties::default())
            };
            if properties.authentication_data.is_some() && properties.authentication_method.is_none() {
                return fail(DecodeError::AuthDataWithoutMethod);
            }
            let (i, client_id) = wire::utf8(i)?;
            let id_ok = match protocol {
                Protocol::V31 => !client_id.is_empty(),
                Protocol::V311 => clean_start || !client_id.is_empty(),
                Protocol::V5 => true,
            };
            if !id_ok {
                return fail(DecodeError::ClientIdRejected);
            }
            let (i, will) = if has_will {
                let (i, wprops) = if protocol.is_v5() {
                    property::decode::<WillProperties>(i, base)?
                } else {
                    (i, WillProperties::default())
                };
                let (i, wtopic) = wire::utf8(i)?;
                let wtopic = wire::str_in(base, wtopic);
                if let Err(e) = topic::validate_name(&wtopic) {
                    return fail(e);
                }
                let (i, payload) = wire::bin(i)?;
                let will = LastWill {
                    topic: wtopic,
                    payload: base.slice_ref(payload),
                    qos: QoS::from_u8(will_qos).unwrap_or_default(),
                    retain: flags & WILL_RETAIN != 0,
                    properties: wprops,
                };
                (i, Some(will))
            } else {
                (i, None)
            };
            let (i, username) = if flags & USERNAME != 0 {
                let (i, u) = wire::utf8(i)?;
                (i, Some(wire::str_in(base, u)))
            } else {
                (i, None)
            };
            let (i, password) = if flags & PASSWORD != 0 {
                let (i, p) = wire::bin(i)?;
                (i, Some(base.slice_ref(p)))
            } else {
                (i, None)
            };
            Ok((
                i,
                Connect {
                    protocol,
                    clean_start,
                    keep_alive,
                    client_id: wire::str_in(base, client_id),
                    will,
                    username,
                    password,
                    properties,
                },
            ))
        })
    }

    /// Appends the packet (its own `protocol` decides the format).
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let v5 = self.protocol.is_v5();
        if !v5 && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::NotInVersion(self.protocol));
        }
        let props_len = property::block_for(&self.properties, self.protocol)?;
        let will_props_len = match &self.will {
            Some(w) => property::block_for(&w.properties, self.protocol)?,
            None => None,
        };
        let mut len = wire::field_len(self.protocol.name().len())? + 1 + 1 + 2;
        len += property::block_len(props_len);
        len += wire::field_len(self.client_id.len())?;
        if let Some(w) = &self.will {
            len += property::block_len(will_props_len);
            len += wire::field_len(w.topic.len())? + wire::field_len(w.payload.len())?;
        }
        if let Some(u) = &self.username {
            len += wire::field_len(u.len())?;
        }
        if let Some(p) = &self.password {
            len += wire::field_len(p.len())?;
        }

        let mut flags = 0u8;
        if self.clean_start {
            flags |= CLEAN;
        }
        if let Some(w) = &self.will {
            flags |= WILL | ((w.qos as u8) << 3);
            if w.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }

        buf.reserve(5 + len);
        wire::put_header(buf, kind::CONNECT << 4, len)?;
        wire::put_bin(buf, self.protocol.name());
        buf.put_u8(self.protocol.level());
        buf.put_u8(flags);
        buf.put_u16(self.keep_alive);
        if let Some(n) = props_len {
            property::put(&self.properties, n, buf);
        }
        wire::put_bin(buf, self.client_id.as_bytes());
        if let Some(w) = &self.will {
            if let Some(n) = will_props_len {
                property::put(&w.properties, n, buf);
            }
            wire::put_bin(buf, w.topic.as_bytes());
            wire::put_bin(buf, &w.payload);
        }
        if let Some(u) = &self.username {
            wire::put_bin(buf, u.as_bytes());
        }
        if let Some(p) = &self.password {
            wire::put_bin(buf, p);
        }
        Ok(())
    }
}
