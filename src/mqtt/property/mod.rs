//! MQTT 5.0 properties (spec §2.2.2): identifiers, wire types, value rules, and one
//! typed property set per packet kind.
//!
//! Each packet kind gets a struct listing exactly the properties it may carry, so a
//! property in the wrong packet is a decode error ([`DecodeError::PropertyNotAllowed`])
//! and cannot even be built for encoding. Repeats are rejected except for User
//! Property (kept in order) and Subscription Identifier in PUBLISH. String and
//! binary values share the frame's memory. Empty sets allocate nothing, which keeps
//! PUBLISH decoding allocation-free. MQTT 3.1.1 packets have no properties: their
//! decoders never call into this module.

use super::string::MqttStr;
use super::wire::{self, fail, PResult};
use super::{varint, DecodeError, EncodeError};
use bytes::{BufMut, Bytes, BytesMut};

/// Property identifiers.
#[allow(missing_docs)]
pub mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// Wire type of a property value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Byte.
    Byte,
    /// Two Byte Integer.
    U16,
    /// Four Byte Integer.
    U32,
    /// Variable Byte Integer.
    Var,
    /// UTF-8 Encoded String.
    Str,
    /// Binary Data.
    Bin,
    /// UTF-8 String Pair.
    Pair,
}

/// The wire type of property `pid`, or `None` if the spec does not define it.
pub fn kind(pid: u8) -> Option<Kind> {
    use id::*;
    Some(match pid {
        PAYLOAD_FORMAT_INDICATOR
        | REQUEST_PROBLEM_INFORMATION
        | REQUEST_RESPONSE_INFORMATION
        | MAXIMUM_QOS
        | RETAIN_AVAILABLE
        | WILDCARD_SUBSCRIPTION_AVAILABLE
        | SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | SHARED_SUBSCRIPTION_AVAILABLE => Kind::Byte,
        SERVER_KEEP_ALIVE | RECEIVE_MAXIMUM | TOPIC_ALIAS_MAXIMUM | TOPIC_ALIAS => Kind::U16,
        MESSAGE_EXPIRY_INTERVAL | SESSION_EXPIRY_INTERVAL | WILL_DELAY_INTERVAL | MAXIMUM_PACKET_SIZE => {
            Kind::U32
        }
        SUBSCRIPTION_IDENTIFIER => Kind::Var,
        CONTENT_TYPE
        | RESPONSE_TOPIC
        | ASSIGNED_CLIENT_IDENTIFIER
        | AUTHENTICATION_METHOD
        | RESPONSE_INFORMATION
        | SERVER_REFERENCE
        | REASON_STRING => Kind::Str,
        CORRELATION_DATA | AUTHENTICATION_DATA => Kind::Bin,
        USER_PROPERTY => Kind::Pair,
        _ => return None,
    })
}

/// A property value as read, still pointing into the frame.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Byte.
    Byte(u8),
    /// Two Byte Integer.
    U16(u16),
    /// Four Byte Integer or Variable Byte Integer.
    U32(u32),
    /// String (validated) or binary data.
    Bytes(&'a [u8]),
    /// String pair (both validated).
    Pair(&'a [u8], &'a [u8]),
}

/// Range rules of the spec on property values (a violation is a Protocol Error).
/// Every Byte property of MQTT 5.0 is a 0/1 flag (Maximum QoS included).
fn value_ok(pid: u8, v: &Value<'_>) -> bool {
    use id::*;
    match (pid, v) {
        (_, Value::Byte(b)) => *b <= 1,
        (RECEIVE_MAXIMUM | TOPIC_ALIAS, Value::U16(n)) => *n != 0,
        (MAXIMUM_PACKET_SIZE | SUBSCRIPTION_IDENTIFIER, Value::U32(n)) => *n != 0,
        _ => true,
    }
}

fn value(i: &[u8], k: Kind) -> PResult<'_, Value<'_>> {
    Ok(match k {
        Kind::Byte => {
            let (i, b) = wire::byte(i)?;
            (i, Value::Byte(b))
        }
        Kind::U16 => {
            let (i, n) = wire::u16(i)?;
            (i, Value::U16(n))
        }
        Kind::U32 => {
            let (i, n) = wire::u32(i)?;
            (i, Value::U32(n))
        }
        Kind::Var => {
            let (i, n) = wire::var(i)?;
            (i, Value::U32(n))
        }
        Kind::Str => {
            let (i, s) = wire::utf8(i)?;
            (i, Value::Bytes(s))
        }
        Kind::Bin => {
            let (i, s) = wire::bin(i)?;
            (i, Value::Bytes(s))
        }
        Kind::Pair => {
            let (i, k) = wire::utf8(i)?;
            let (i, v) = wire::utf8(i)?;
            (i, Value::Pair(k, v))
        }
    })
}

/// A value type a property field can hold.
pub trait Field: Sized {
    /// Converts a read value (the kind is fixed by the identifier, so a mismatch is
    /// reported, never trusted).
    fn from_value(v: Value<'_>, base: &Bytes) -> Option<Self>;
    /// Encoded size of the value.
    fn len(&self, k: Kind) -> usize;
    /// Writes the value.
    fn put(&self, k: Kind, buf: &mut BytesMut);
    /// Byte length of a string/binary value, for the 65,535 check.
    fn field_bytes(&self) -> usize {
        0
    }
}

/// `Field` for a fixed-size integer read as one `Value` variant.
macro_rules! int_field {
    ($t:ty, $variant:ident, $put:ident) => {
        impl Field for $t {
            fn from_value(v: Value<'_>, _: &Bytes) -> Option<Self> {
                match v {
                    Value::$variant(n) => Some(n),
                    _ => None,
                }
            }
            fn len(&self, _: Kind) -> usize {
                std::mem::size_of::<$t>()
            }
            fn put(&self, _: Kind, buf: &mut BytesMut) {
                buf.$put(*self)
            }
        }
    };
}

int_field!(u8, Byte, put_u8);
int_field!(u16, U16, put_u16);

impl Field for u32 {
    fn from_value(v: Value<'_>, _: &Bytes) -> Option<Self> {
        match v {
            Value::U32(n) => Some(n),
            _ => None,
        }
    }
    fn len(&self, k: Kind) -> usize {
        if k == Kind::Var {
            varint::len(*self)
        } else {
            4
        }
    }
    fn put(&self, k: Kind, buf: &mut BytesMut) {
        if k == Kind::Var {
            varint::write(buf, *self)
        } else {
            buf.put_u32(*self)
        }
    }
}

impl Field for MqttStr {
    fn from_value(v: Value<'_>, base: &Bytes) -> Option<Self> {
        match v {
            Value::Bytes(s) => Some(wire::str_in(base, s)),
            _ => None,
        }
    }
    fn len(&self, _: Kind) -> usize {
        2 + self.len()
    }
    fn put(&self, _: Kind, buf: &mut BytesMut) {
        wire::put_bin(buf, self.as_bytes())
    }
    fn field_bytes(&self) -> usize {
        MqttStr::len(self)
    }
}

impl Field for Bytes {
    fn from_value(v: Value<'_>, base: &Bytes) -> Option<Self> {
        match v {
            Value::Bytes(s) => Some(base.slice_ref(s)),
            _ => None,
        }
    }
    fn len(&self, _: Kind) -> usize {
        2 + Bytes::len(self)
    }
    fn put(&self, _: Kind, buf: &mut BytesMut) {
        wire::put_bin(buf, self)
    }
    fn field_bytes(&self) -> usize {
        Bytes::len(self)
    }
}

impl Field for (MqttStr, MqttStr) {
    fn from_value(v: Value<'_>, base: &Bytes) -> Option<Self> {
        match v {
            Value::Pair(k, v) => Some((wire::str_in(base, k), wire::str_in(base, v))),
            _ => None,
        }
    }
    fn len(&self, _: Kind) -> usize {
        4 + self.0.len() + self.1.len()
    }
    fn put(&self, _: Kind, buf: &mut BytesMut) {
        wire::put_bin(buf, self.0.as_bytes());
        wire::put_bin(buf, self.1.as_bytes());
    }
}

/// The properties of one packet kind.
pub trait PropertySet: Default {
    /// Stores one property read from the wire.
    fn set(&mut self, pid: u8, v: Value<'_>, base: &Bytes) -> Result<(), DecodeError>;
    /// Calls `f(id, kind-checked field)` for every property present, in write order.
    fn each(&self, f: &mut dyn FnMut(u8, &dyn DynField));

    /// True when no property is set.
    fn is_empty(&self) -> bool {
        let mut empty = true;
        self.each(&mut |_, _| empty = false);
        empty
    }
}

/// Object-safe view of a [`Field`] for length computation and writing.
pub trait DynField {
    /// See [`Field::len`].
    fn dyn_len(&self, k: Kind) -> usize;
    /// See [`Field::put`].
    fn dyn_put(&self, k: Kind, buf: &mut BytesMut);
    /// See [`Field::field_bytes`].
    fn dyn_field_bytes(&self) -> usize;
}

impl<T: Field> DynField for T {
    fn dyn_len(&self, k: Kind) -> usize {
        self.len(k)
    }
    fn dyn_put(&self, k: Kind, buf: &mut BytesMut) {
        self.put(k, buf)
    }
    fn dyn_field_bytes(&self) -> usize {
        self.field_bytes()
    }
}

/// Stores a property that may appear at most once.
pub fn set_once<T: Field>(
    slot: &mut Option<T>,
    pid: u8,
    v: Value<'_>,
    base: &Bytes,
) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty(pid));
    }
    *slot = Some(T::from_value(v, base).ok_or(DecodeError::PropertyNotAllowed(pid))?);
    Ok(())
}

/// Appends a property that may repeat.
pub fn push<T: Field>(list: &mut Vec<T>, pid: u8, v: Value<'_>, base: &Bytes) -> Result<(), DecodeError> {
    list.push(T::from_value(v, base).ok_or(DecodeError::PropertyNotAllowed(pid))?);
    Ok(())
}

/// Reads a property length and the properties of set `S` from `i`.
pub fn decode<'a, S: PropertySet>(i: &'a [u8], base: &Bytes) -> PResult<'a, S> {
    let (i, len) = wire::var(i)?;
    let len = len as usize;
    if i.len() < len {
        return fail(DecodeError::Truncated);
    }
    let (mut p, rest) = i.split_at(len);
    let mut set = S::default();
    while !p.is_empty() {
        let (r, pid) = wire::var(p)?;
        let pid = u8::try_from(pid).map_err(|_| nom::Err::Failure(DecodeError::UnknownProperty(0xFF)))?;
        let Some(k) = kind(pid) else {
            return fail(DecodeError::UnknownProperty(pid));
        };
        let (r, v) = value(r, k)?;
        if !value_ok(pid, &v) {
            return fail(DecodeError::InvalidPropertyValue(pid));
        }
        if let Err(e) = set.set(pid, v, base) {
            return fail(e);
        }
        p = r;
    }
    Ok((rest, set))
}

/// Size of the properties of `set` without the length prefix, checking field limits.
pub fn body_len<S: PropertySet>(set: &S) -> Result<usize, EncodeError> {
    let mut n = 0usize;
    let mut too_long = None;
    set.each(&mut |pid, f| {
        let k = kind(pid).unwrap_or(Kind::Byte);
        if f.dyn_field_bytes() > super::string::MAX_FIELD_LEN {
            too_long = Some(f.dyn_field_bytes());
        }
        n += 1 + f.dyn_len(k);
    });
    match too_long {
        Some(l) => Err(EncodeError::FieldTooLong(l)),
        None => Ok(n),
    }
}

/// Size of the properties with their length prefix.
pub fn encoded_len<S: PropertySet>(set: &S) -> Result<usize, EncodeError> {
    let n = body_len(set)?;
    if n > varint::MAX_VARINT as usize {
        return Err(EncodeError::PacketTooLarge { size: n, max: varint::MAX_VARINT as usize });
    }
    Ok(varint::len(n as u32) + n)
}

/// The body length of the property block a packet carries in `protocol`: `None`
/// before 5.0 (where a non-empty set cannot be written).
pub fn block_for<S: PropertySet>(
    set: &S,
    protocol: crate::mqtt::Protocol,
) -> Result<Option<usize>, EncodeError> {
    if protocol.is_v5() {
        Ok(Some(body_len(set)?))
    } else if set.is_empty() {
        Ok(None)
    } else {
        Err(EncodeError::NotInVersion(protocol))
    }
}

/// Encoded size of a block measured by [`block_for`], length prefix included.
pub fn block_len(body: Option<usize>) -> usize {
    body.map_or(0, |n| varint::len(n as u32) + n)
}

/// Writes the length prefix and the properties (sizes checked by [`encoded_len`]).
pub fn put<S: PropertySet>(set: &S, body_len: usize, buf: &mut BytesMut) {
    varint::write(buf, body_len as u32);
    set.each(&mut |pid, f| {
        buf.put_u8(pid);
        f.dyn_put(kind(pid).unwrap_or(Kind::Byte), buf);
    });
}

mod sets;
pub use sets::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn dec<S: PropertySet>(b: &'static [u8]) -> Result<S, DecodeError> {
        let base = Bytes::from_static(b);
        wire::finish(decode::<S>(&base, &base)).map(|(_, s)| s)
    }

    #[test]
    fn publish_properties_annotated() {
        let p: PublishProperties = dec(&[
            15, // property length
            0x01, 1, // payload format indicator = 1
            0x23, 0, 7, // topic alias 7
            0x0B, 0x80, 0x01, // subscription identifier 128 (varint)
            0x26, 0, 1, b'k', 0, 1, b'v', // user property k=v
        ])
        .expect("decodes");
        assert_eq!(p.payload_format_indicator, Some(1));
        assert_eq!(p.topic_alias, Some(7));
        assert_eq!(p.subscription_identifiers, vec![128]);
        assert_eq!(p.user.len(), 1);
    }

    #[test]
    fn rules() {
        assert_eq!(dec::<PublishProperties>(&[2, 0x23, 0]).unwrap_err(), DecodeError::Truncated);
        assert_eq!(
            dec::<PublishProperties>(&[3, 0x23, 0, 0]).unwrap_err(),
            DecodeError::InvalidPropertyValue(0x23)
        );
        assert_eq!(
            dec::<PublishProperties>(&[4, 0x01, 1, 0x01, 0]).unwrap_err(),
            DecodeError::DuplicateProperty(0x01)
        );
        assert_eq!(
            dec::<PublishProperties>(&[5, 0x11, 0, 0, 0, 1]).unwrap_err(),
            DecodeError::PropertyNotAllowed(0x11)
        );
        assert_eq!(dec::<AckProperties>(&[2, 0x7F, 0]).unwrap_err(), DecodeError::UnknownProperty(0x7F));
        assert_eq!(
            dec::<ConnAckProperties>(&[2, 0x24, 2]).unwrap_err(),
            DecodeError::InvalidPropertyValue(0x24)
        );
    }

    #[test]
    fn encode_in_declaration_order_then_user() {
        let mut p = DisconnectProperties::default();
        p.user.push((MqttStr::from_static("a"), MqttStr::from_static("b")));
        p.reason_string = Some(MqttStr::from_static("r"));
        let n = body_len(&p).unwrap();
        let mut buf = BytesMut::new();
        put(&p, n, &mut buf);
        assert_eq!(&buf[..], &[11, 0x1F, 0, 1, b'r', 0x26, 0, 1, b'a', 0, 1, b'b']);
        assert!(!p.is_empty());
        assert!(DisconnectProperties::default().is_empty());
    }
}
