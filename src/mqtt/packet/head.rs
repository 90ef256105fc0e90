//! The start shared by SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK: a packet
//! identifier, then on MQTT 5.0 a property block. Reading and writing it lives here
//! once; each packet adds its own list after it.

use crate::mqtt::property::{self, PropertySet};
use crate::mqtt::wire::{self, PResult};
use crate::mqtt::{EncodeError, Protocol};
use bytes::{BufMut, Bytes, BytesMut};

/// Reads the packet identifier and (5.0) the properties of set `S`.
pub(super) fn read<'a, S: PropertySet>(
    i: &'a [u8],
    base: &Bytes,
    protocol: Protocol,
) -> PResult<'a, (u16, S)> {
    let (i, pkid) = wire::packet_id(i)?;
    if !protocol.is_v5() {
        return Ok((i, (pkid, S::default())));
    }
    let (i, props) = property::decode::<S>(i, base)?;
    Ok((i, (pkid, props)))
}

/// A measured head, ready to be written before `payload_len` bytes of payload.
pub(super) struct Head<'a, S> {
    first: u8,
    pkid: u16,
    props: &'a S,
    /// Property block body length; `None` on 3.x.
    props_len: Option<usize>,
}

impl<'a, S: PropertySet> Head<'a, S> {
    /// Checks what the version allows (non-zero id; no properties before 5.0).
    pub(super) fn new(first: u8, pkid: u16, props: &'a S, protocol: Protocol) -> Result<Self, EncodeError> {
        if pkid == 0 {
            return Err(EncodeError::ZeroPacketId);
        }
        let props_len = property::block_for(props, protocol)?;
        Ok(Head { first, pkid, props, props_len })
    }

    /// Encoded size of the head without the fixed header.
    fn len(&self) -> usize {
        2 + property::block_len(self.props_len)
    }

    /// Writes the fixed header (remaining length = head + payload) and the head.
    pub(super) fn put(&self, buf: &mut BytesMut, payload_len: usize) -> Result<(), EncodeError> {
        let remaining = self.len() + payload_len;
        buf.reserve(5 + remaining);
        wire::put_header(buf, self.first, remaining)?;
        buf.put_u16(self.pkid);
        if let Some(n) = self.props_len {
            property::put(self.props, n, buf);
        }
        Ok(())
    }
}
