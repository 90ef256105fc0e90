//! Payload framing shared by the binary models: the Confluent wire format (magic
//! byte 0, a 4-byte big-endian schema id, and for Protobuf the message-index list)
//! and base-128 varints. Reads only; never allocates.

use super::{Invalid, Reason};

/// How a binary payload is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wire {
    /// The bare datum / message.
    #[default]
    Raw,
    /// Confluent: `0x00`, schema id (u32 BE), then the datum.
    Confluent,
}

/// Reads an unsigned LEB128 varint of at most 10 bytes.
pub(crate) fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // The 10th byte may only carry the top bit of a u64.
            if i == 9 && b > 1 {
                return None;
            }
            *buf = &buf[i + 1..];
            return Some(v);
        }
    }
    None
}

/// Reads a zigzag-encoded varint (Avro `long`, Protobuf `sint64`).
pub(crate) fn zigzag(buf: &mut &[u8]) -> Option<i64> {
    varint(buf).map(|v| ((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Takes `n` bytes off the front.
pub(crate) fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Some(head)
}

/// Strips the Confluent header, checking the schema id against `expected`.
pub(crate) fn confluent(payload: &[u8], expected: Option<u32>) -> Result<&[u8], Invalid> {
    let [magic, a, b, c, d, rest @ ..] = payload else {
        return Err(Invalid::new(Reason::WireFormat, "shorter than the 5-byte Confluent header"));
    };
    if *magic != 0 {
        return Err(Invalid::new(Reason::WireFormat, format!("magic byte {magic:#04x}, expected 0x00")));
    }
    let id = u32::from_be_bytes([*a, *b, *c, *d]);
    match expected {
        Some(e) if e != id => Err(Invalid::new(Reason::WireFormat, format!("schema id {id}, expected {e}"))),
        _ => Ok(rest),
    }
}

/// Strips the Protobuf message-index list that follows a Confluent header; only the
/// first message of the schema (`[0]`, written as a single 0) or an explicit
/// one-element list naming `index` is accepted.
pub(crate) fn message_indexes(mut buf: &[u8], index: u64) -> Result<&[u8], Invalid> {
    let bad = |m: &str| Invalid::new(Reason::WireFormat, m.to_string());
    let count = zigzag(&mut buf).ok_or_else(|| bad("truncated message-index list"))?;
    match count {
        0 if index == 0 => Ok(buf),
        1 => match zigzag(&mut buf) {
            Some(i) if i >= 0 && i as u64 == index => Ok(buf),
            Some(i) => Err(bad(&format!("message index {i}, expected {index}"))),
            None => Err(bad("truncated message-index list")),
        },
        _ => Err(bad(&format!("message-index list of {count} entries is not the configured message"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag() {
        let mut b: &[u8] = &[0x96, 0x01, 0xff];
        assert_eq!(varint(&mut b), Some(150));
        assert_eq!(b, &[0xff]);
        assert_eq!(varint(&mut b), None, "unterminated");
        let mut b: &[u8] = &[0x03];
        assert_eq!(zigzag(&mut b), Some(-2));
        let mut b: &[u8] = &[0xff; 10];
        assert_eq!(varint(&mut b), None, "11th byte needed");
        let mut b: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&mut b), Some(u64::MAX));
    }

    #[test]
    fn confluent_header() {
        assert_eq!(confluent(&[0, 0, 0, 0, 7, 9], Some(7)), Ok(&[9u8][..]));
        assert_eq!(confluent(&[0, 0, 0, 0, 8, 9], Some(7)).map_err(|e| e.reason), Err(Reason::WireFormat));
        assert_eq!(confluent(&[1, 0, 0, 0, 7], Some(7)).map_err(|e| e.reason), Err(Reason::WireFormat));
        assert_eq!(confluent(&[0, 0, 0], None).map_err(|e| e.reason), Err(Reason::WireFormat));
        assert_eq!(message_indexes(&[0, 5], 0), Ok(&[5u8][..]));
        assert_eq!(message_indexes(&[2, 2, 5], 1), Ok(&[5u8][..]));
        assert!(message_indexes(&[2, 4, 5], 1).is_err());
    }
}
