//! Field-level reading (nom, complete parsers) and writing of MQTT's data types
//! (spec §1.5): two- and four-byte integers, variable byte integers, binary data,
//! UTF-8 strings, packet identifiers.
//!
//! Parsers run on the exact body slice of one frame, so running out of input is
//! [`DecodeError::Truncated`] (malformed), never "incomplete". They return sub-slices;
//! the packet decoders turn those into `Bytes` that share the frame
//! (`Bytes::slice_ref`), so nothing is copied.

use super::{string, varint, DecodeError, EncodeError};
use bytes::{BufMut, Bytes, BytesMut};
use nom::error::{ErrorKind, ParseError};
use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::Parser;

/// nom result with our error type.
pub type PResult<'a, O> = nom::IResult<&'a [u8], O, DecodeError>;

impl<'a> ParseError<&'a [u8]> for DecodeError {
    fn from_error_kind(_: &'a [u8], _: ErrorKind) -> Self {
        DecodeError::Truncated
    }
    fn append(_: &'a [u8], _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// A parser failure that stops the whole decode.
#[inline]
pub fn fail<T>(e: DecodeError) -> Result<T, nom::Err<DecodeError>> {
    Err(nom::Err::Failure(e))
}

/// Unwraps a top-level nom result into our error.
#[inline]
pub fn finish<T>(r: Result<T, nom::Err<DecodeError>>) -> Result<T, DecodeError> {
    r.map_err(|e| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::Truncated,
    })
}

/// One byte.
#[inline]
pub fn byte(i: &[u8]) -> PResult<'_, u8> {
    be_u8(i)
}

/// Two Byte Integer.
#[inline]
pub fn u16(i: &[u8]) -> PResult<'_, u16> {
    be_u16(i)
}

/// Four Byte Integer.
#[inline]
pub fn u32(i: &[u8]) -> PResult<'_, u32> {
    be_u32(i)
}

/// Variable Byte Integer (strict).
#[inline]
pub fn var(i: &[u8]) -> PResult<'_, u32> {
    match varint::read(i) {
        Ok(Some((v, n))) => Ok((&i[n..], v)),
        Ok(None) => fail(DecodeError::Truncated),
        Err(e) => fail(e),
    }
}

/// Binary Data: two-byte length, then that many bytes.
#[inline]
pub fn bin(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::multi::length_data(be_u16).parse(i)
}

/// UTF-8 Encoded String, checked (UTF-8, no U+0000), as bytes.
#[inline]
pub fn utf8(i: &[u8]) -> PResult<'_, &[u8]> {
    let (rest, s) = utf8_str(i)?;
    Ok((rest, s.as_bytes()))
}

/// UTF-8 Encoded String, checked (UTF-8, no U+0000), as text.
#[inline]
pub fn utf8_str(i: &[u8]) -> PResult<'_, &str> {
    let (rest, s) = bin(i)?;
    match string::validate(s) {
        Ok(s) => Ok((rest, s)),
        Err(e) => fail(e),
    }
}

/// A non-zero packet identifier.
#[inline]
pub fn packet_id(i: &[u8]) -> PResult<'_, u16> {
    let (rest, id) = be_u16(i)?;
    if id == 0 {
        return fail(DecodeError::ZeroPacketId);
    }
    Ok((rest, id))
}

/// Fails unless the input is used up.
#[inline]
pub fn end(i: &[u8]) -> Result<(), DecodeError> {
    if i.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes)
    }
}

/// Turns a validated sub-slice of `base` into a shared string.
#[inline]
pub fn str_in(base: &Bytes, s: &[u8]) -> string::MqttStr {
    string::MqttStr::from_validated(base.slice_ref(s))
}

/// Encoded size of a binary or string field, or an error past 65,535 bytes.
#[inline]
pub fn field_len(n: usize) -> Result<usize, EncodeError> {
    if n > string::MAX_FIELD_LEN {
        return Err(EncodeError::FieldTooLong(n));
    }
    Ok(2 + n)
}

/// Writes a binary or string field (length checked by [`field_len`] beforehand).
#[inline]
pub fn put_bin(buf: &mut BytesMut, b: &[u8]) {
    buf.put_u16(b.len() as u16);
    buf.put_slice(b);
}

/// Writes the fixed header: type and flags, then the remaining length.
#[inline]
pub fn put_header(buf: &mut BytesMut, first: u8, remaining: usize) -> Result<(), EncodeError> {
    if remaining > varint::MAX_VARINT as usize {
        return Err(EncodeError::PacketTooLarge { size: remaining, max: varint::MAX_VARINT as usize });
    }
    buf.put_u8(first);
    varint::write(buf, remaining as u32);
    Ok(())
}
