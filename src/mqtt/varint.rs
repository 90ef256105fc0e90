//! Variable byte integers (spec §1.5.5): remaining length, property lengths,
//! subscription identifiers.
//!
//! Reading is strict: at most four bytes, and the minimum number of bytes (a
//! continuation followed by a zero byte is not minimal). Reading reports
//! *incomplete* as `Ok(None)` so the framer can use it on a partial buffer.

use super::DecodeError;
use bytes::BufMut;

/// Largest value a variable byte integer can hold.
pub const MAX_VARINT: u32 = 268_435_455;

/// Reads a variable byte integer at the start of `buf`.
///
/// `Ok(Some((value, bytes_used)))`, `Ok(None)` when `buf` ends inside the integer,
/// or an error when it is longer than four bytes or not minimal.
#[inline]
pub fn read(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..4 {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(DecodeError::VarIntNotMinimal);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    Err(DecodeError::VarIntTooLong)
}

/// Number of bytes `value` takes when encoded (1 to 4).
#[inline]
pub const fn len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` (at most [`MAX_VARINT`]).
#[inline]
pub fn write(buf: &mut impl BufMut, mut value: u32) {
    debug_assert!(value <= MAX_VARINT);
    loop {
        let mut b = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            b |= 0x80;
        }
        buf.put_u8(b);
        if value == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_boundaries_round_trip() {
        // Spec table 1.5.5: 1..4 byte boundaries.
        for (v, bytes) in [
            (0u32, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (MAX_VARINT, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut out = Vec::new();
            write(&mut out, v);
            assert_eq!(out, bytes, "encoding {v}");
            assert_eq!(len(v), bytes.len());
            assert_eq!(read(bytes), Ok(Some((v, bytes.len()))));
            for cut in 0..bytes.len() {
                assert_eq!(read(&bytes[..cut]), Ok(None), "prefix {cut} of {v}");
            }
        }
    }

    #[test]
    fn five_bytes_is_malformed() {
        assert_eq!(read(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), Err(DecodeError::VarIntTooLong));
        assert_eq!(read(&[0x80, 0x80, 0x80, 0x80]), Err(DecodeError::VarIntTooLong));
    }

    #[test]
    fn non_minimal_is_malformed() {
        assert_eq!(read(&[0x80, 0x00]), Err(DecodeError::VarIntNotMinimal));
        assert_eq!(read(&[0xFF, 0x80, 0x00]), Err(DecodeError::VarIntNotMinimal));
    }
}
