//! Primitive models: a string (UTF-8, length in characters, regex pattern), a
//! number (`int32`, `int64`, `float`, `double`, as decimal text or big-endian
//! binary, with a range) and a boolean (`true`/`false` as text, or one byte 0/1 in
//! binary). No allocation on the valid path.

use super::{Invalid, Reason};

/// A string payload's constraints.
#[derive(Debug, Clone, Default)]
pub struct StringRule {
    /// At least this many characters.
    pub min_length: Option<usize>,
    /// At most this many characters.
    pub max_length: Option<usize>,
    /// Must match somewhere (anchor with `^…$` for the whole payload).
    pub pattern: Option<regex::Regex>,
}

/// The numeric types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// IEEE 754 single precision.
    Float,
    /// IEEE 754 double precision.
    Double,
}

/// How a number (or boolean) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberFormat {
    /// Decimal ASCII text (`-12`, `3.5`).
    #[default]
    Text,
    /// Big-endian binary of the type's exact width.
    Binary,
}

/// A number payload's constraints.
#[derive(Debug, Clone)]
pub struct NumberRule {
    /// Type.
    pub kind: NumberKind,
    /// Encoding.
    pub format: NumberFormat,
    /// Smallest allowed value.
    pub min: Option<f64>,
    /// Largest allowed value.
    pub max: Option<f64>,
}

fn utf8(payload: &[u8]) -> Result<&str, Invalid> {
    std::str::from_utf8(payload)
        .map_err(|e| Invalid::new(Reason::Encoding, format!("not UTF-8 after byte {}", e.valid_up_to())))
}

impl StringRule {
    /// Checks a string payload.
    pub fn check(&self, payload: &[u8]) -> Result<(), Invalid> {
        let s = utf8(payload)?;
        if self.min_length.is_some() || self.max_length.is_some() {
            let n = s.chars().count();
            if self.min_length.is_some_and(|m| n < m) || self.max_length.is_some_and(|m| n > m) {
                return Err(Invalid::new(
                    Reason::Constraint,
                    format!("{n} characters is outside the allowed length"),
                ));
            }
        }
        match &self.pattern {
            Some(p) if !p.is_match(s) => {
                Err(Invalid::new(Reason::Constraint, format!("does not match /{}/", p.as_str())))
            }
            _ => Ok(()),
        }
    }
}

impl NumberRule {
    /// Checks a number payload.
    pub fn check(&self, payload: &[u8]) -> Result<(), Invalid> {
        let value = match self.format {
            NumberFormat::Binary => self.binary(payload)?,
            NumberFormat::Text => self.text(payload)?,
        };
        if self.min.is_some_and(|m| value < m) || self.max.is_some_and(|m| value > m) {
            return Err(Invalid::new(Reason::Constraint, format!("{value} is out of range")));
        }
        Ok(())
    }

    fn binary(&self, p: &[u8]) -> Result<f64, Invalid> {
        let width = |n: usize| Invalid::new(Reason::Syntax, format!("{} bytes, expected {n}", p.len()));
        Ok(match self.kind {
            NumberKind::Int32 => i32::from_be_bytes(p.try_into().map_err(|_| width(4))?) as f64,
            NumberKind::Int64 => i64::from_be_bytes(p.try_into().map_err(|_| width(8))?) as f64,
            NumberKind::Float => f32::from_be_bytes(p.try_into().map_err(|_| width(4))?) as f64,
            NumberKind::Double => f64::from_be_bytes(p.try_into().map_err(|_| width(8))?),
        })
    }

    fn text(&self, p: &[u8]) -> Result<f64, Invalid> {
        let s = utf8(p)?;
        let bad = || {
            let shown: String = s.chars().take(32).collect();
            Invalid::new(Reason::Syntax, format!("`{shown}` is not a {:?}", self.kind))
        };
        Ok(match self.kind {
            NumberKind::Int32 => s.parse::<i32>().map_err(|_| bad())? as f64,
            NumberKind::Int64 => s.parse::<i64>().map_err(|_| bad())? as f64,
            NumberKind::Float => {
                let v = s.parse::<f32>().map_err(|_| bad())?;
                if !v.is_finite() {
                    return Err(bad());
                }
                v as f64
            }
            NumberKind::Double => {
                let v = s.parse::<f64>().map_err(|_| bad())?;
                if !v.is_finite() {
                    return Err(bad());
                }
                v
            }
        })
    }
}

/// Checks a boolean payload.
pub fn boolean(payload: &[u8], format: NumberFormat) -> Result<(), Invalid> {
    let ok = match format {
        NumberFormat::Text => payload == b"true" || payload == b"false",
        NumberFormat::Binary => payload == [0] || payload == [1],
    };
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(Reason::Syntax, "not a boolean"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason<T>(r: Result<T, Invalid>) -> Option<Reason> {
        r.err().map(|e| e.reason)
    }

    #[test]
    fn strings() {
        let r = StringRule {
            min_length: Some(1),
            max_length: Some(3),
            pattern: Some(regex::Regex::new("^[a-zé]+$").expect("regex")),
        };
        assert_eq!(reason(r.check(b"abc")), None);
        assert_eq!(reason(r.check("éé".as_bytes())), None, "length counts characters");
        assert_eq!(reason(r.check(b"")), Some(Reason::Constraint), "empty payload");
        assert_eq!(reason(r.check(b"abcd")), Some(Reason::Constraint));
        assert_eq!(reason(r.check(b"AB")), Some(Reason::Constraint));
        assert_eq!(reason(r.check(&[0x61, 0xff])), Some(Reason::Encoding));
        assert_eq!(reason(StringRule::default().check(b"")), None);
    }

    #[test]
    fn numbers_as_text_and_binary() {
        let n = |kind, format| NumberRule { kind, format, min: Some(-10.0), max: Some(100.0) };
        let t = n(NumberKind::Int32, NumberFormat::Text);
        assert_eq!(reason(t.check(b"42")), None);
        assert_eq!(reason(t.check(b"-11")), Some(Reason::Constraint));
        assert_eq!(reason(t.check(b"4.5")), Some(Reason::Syntax));
        assert_eq!(reason(t.check(b"")), Some(Reason::Syntax));
        assert_eq!(reason(t.check(b"99999999999")), Some(Reason::Syntax), "beyond int32");
        let d = n(NumberKind::Double, NumberFormat::Text);
        assert_eq!(reason(d.check(b"99.5")), None);
        assert_eq!(reason(d.check(b"NaN")), Some(Reason::Syntax));
        assert_eq!(reason(d.check(b"1e300")), Some(Reason::Constraint));
        let b = n(NumberKind::Int64, NumberFormat::Binary);
        assert_eq!(reason(b.check(&7i64.to_be_bytes())), None);
        assert_eq!(reason(b.check(&7i32.to_be_bytes())), Some(Reason::Syntax), "wrong width");
        assert_eq!(reason(b.check(&(-70i64).to_be_bytes())), Some(Reason::Constraint));
        let f = n(NumberKind::Float, NumberFormat::Binary);
        assert_eq!(reason(f.check(&1.5f32.to_be_bytes())), None);
    }

    #[test]
    fn booleans() {
        assert!(boolean(b"true", NumberFormat::Text).is_ok());
        assert!(boolean(b"True", NumberFormat::Text).is_err());
        assert!(boolean(&[1], NumberFormat::Binary).is_ok());
        assert!(boolean(&[2], NumberFormat::Binary).is_err());
        assert!(boolean(b"", NumberFormat::Text).is_err());
    }
}
