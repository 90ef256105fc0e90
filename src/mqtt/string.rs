//! `MqttStr`: an MQTT UTF-8 string (spec §1.5.4) that shares the frame's memory.
//!
//! Holding a `Bytes` instead of a `String` is what lets a decoded packet point into
//! the received frame without copying. The invariant (checked once, on decode or
//! construction): valid UTF-8, no U+0000, at most 65,535 bytes. This module does not
//! know about topics; `topic` adds the topic rules on top.

use super::DecodeError;
use bytes::Bytes;
use std::fmt;

/// An immutable, cheaply clonable, validated MQTT string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MqttStr(Bytes);

/// Longest string or binary field MQTT can carry (two-byte length prefix).
pub const MAX_FIELD_LEN: usize = u16::MAX as usize;

/// Checks the MQTT string rules on raw bytes.
#[inline]
pub fn validate(b: &[u8]) -> Result<&str, DecodeError> {
    // One pass for the common all-ASCII case; full UTF-8 validation only when needed.
    let mut non_ascii = false;
    for &c in b {
        if c == 0 {
            return Err(DecodeError::NullInString);
        }
        non_ascii |= c >= 0x80;
    }
    if non_ascii {
        return std::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8);
    }
    // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
    Ok(unsafe { std::str::from_utf8_unchecked(b) })
}

impl MqttStr {
    /// Wraps bytes after checking them.
    pub fn from_bytes(b: Bytes) -> Result<Self, DecodeError> {
        if b.len() > MAX_FIELD_LEN {
            return Err(DecodeError::Truncated);
        }
        validate(&b)?;
        Ok(MqttStr(b))
    }

    /// A string known at compile time (panics on U+0000 or > 65,535 bytes: a bug in the
    /// caller, never input).
    pub fn from_static(s: &'static str) -> Self {
        assert!(s.len() <= MAX_FIELD_LEN && !s.contains('\0'), "invalid static MQTT string");
        MqttStr(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes the caller already validated with [`validate`].
    #[inline]
    pub(crate) fn from_validated(b: Bytes) -> Self {
        debug_assert!(validate(&b).is_ok());
        MqttStr(b)
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks UTF-8 (`validate`), and `Bytes` is immutable.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes (shared with the frame it was decoded from).
    #[inline]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<String> for MqttStr {
    type Error = DecodeError;
    fn try_from(s: String) -> Result<Self, DecodeError> {
        MqttStr::from_bytes(Bytes::from(s))
    }
}

impl TryFrom<&str> for MqttStr {
    type Error = DecodeError;
    fn try_from(s: &str) -> Result<Self, DecodeError> {
        MqttStr::from_bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl std::ops::Deref for MqttStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for MqttStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for MqttStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nul_and_bad_utf8() {
        assert_eq!(MqttStr::try_from("a\0b"), Err(DecodeError::NullInString));
        assert_eq!(
            MqttStr::from_bytes(Bytes::from_static(&[0x61, 0xC0, 0xAF])),
            Err(DecodeError::InvalidUtf8)
        );
        // Spec §1.5.4 example: "A𪛔" is U+0041 U+2A6D4.
        let s = MqttStr::from_bytes(Bytes::from_static(&[0x41, 0xF0, 0xAA, 0x9B, 0x94])).unwrap();
        assert_eq!(s.as_str(), "A\u{2A6D4}");
    }

    #[test]
    fn rejects_oversized() {
        let long = "x".repeat(MAX_FIELD_LEN + 1);
        assert!(MqttStr::try_from(long.as_str()).is_err());
    }
}
