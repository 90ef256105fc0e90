//! The `pubsub` payload: send time (ns since the run started), publisher index and
//! sequence number, as 20 binary bytes padded to the size asked for, or, with
//! `--json-payload`, as a JSON object with the same three fields in fixed-width
//! digit strings (so they are rewritten in place) and a padding string:
//! `{"t":"…20 digits…","p":"…10…","s":"…20…","pad":"xxx"}` (81 bytes at least).
//! The JSON form is what a schema-validating proxy can check (see
//! `loadtest/README` and `scripts/bench.sh schema`).

/// Bytes of the binary header.
pub const BINARY: usize = 20;
/// Bytes of the smallest JSON payload.
pub const JSON_MIN: usize = 81;

const T: usize = 6;
const P: usize = 33;
const S: usize = 50;

/// A payload buffer, rewritten for each message.
pub struct Payload {
    buf: Vec<u8>,
    json: bool,
}

fn digits(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn parse(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |acc, &d| d.is_ascii_digit().then(|| acc.wrapping_mul(10) + u64::from(d - b'0')))
}

impl Payload {
    /// A payload of `size` bytes (raised to the format's minimum) for `publisher`.
    pub fn new(size: usize, publisher: u32, json: bool) -> Payload {
        let buf = if json {
            let pad = size.max(JSON_MIN) - JSON_MIN;
            let b = format!(
                "{{\"t\":\"{:020}\",\"p\":\"{:010}\",\"s\":\"{:020}\",\"pad\":\"{}\"}}",
                0,
                publisher,
                0,
                "x".repeat(pad)
            )
            .into_bytes();
            debug_assert_eq!(b.len(), size.max(JSON_MIN));
            b
        } else {
            let mut b = vec![0u8; size.max(BINARY)];
            b[8..12].copy_from_slice(&publisher.to_be_bytes());
            b
        };
        Payload { buf, json }
    }

    /// Stamps send time and sequence number; the bytes to send.
    pub fn stamp(&mut self, sent_ns: u64, seq: u64) -> &[u8] {
        if self.json {
            digits(&mut self.buf[T..T + 20], sent_ns);
            digits(&mut self.buf[S..S + 20], seq);
        } else {
            self.buf[..8].copy_from_slice(&sent_ns.to_be_bytes());
            self.buf[12..20].copy_from_slice(&seq.to_be_bytes());
        }
        &self.buf
    }
}

/// (send time, publisher, sequence) from a received payload of either form.
pub fn read(b: &[u8]) -> Option<(u64, u32, u64)> {
    if b.len() >= JSON_MIN && b.starts_with(b"{\"t\":\"") {
        let p = u32::try_from(parse(&b[P..P + 10])?).ok()?;
        return Some((parse(&b[T..T + 20])?, p, parse(&b[S..S + 20])?));
    }
    if b.len() < BINARY {
        return None;
    }
    let u64_at = |i: usize| b.get(i..i + 8).and_then(|s| s.try_into().ok()).map(u64::from_be_bytes);
    let p = b.get(8..12).and_then(|s| s.try_into().ok()).map(u32::from_be_bytes)?;
    Some((u64_at(0)?, p, u64_at(12)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_round_trip() {
        for (json, size) in [(false, 64), (true, 81), (true, 200), (true, 10)] {
            let mut p = Payload::new(size, 7, json);
            let b = p.stamp(123_456_789, 42).to_vec();
            assert_eq!(read(&b), Some((123_456_789, 7, 42)), "json={json} size={size}");
            if json {
                assert_eq!(b.len(), size.max(JSON_MIN));
                let v: serde_json::Value = serde_json::from_slice(&b).expect("valid JSON");
                assert_eq!(v["s"], "00000000000000000042");
            }
        }
    }
}
