//! The rate and count limits of the config, validated: a listener's
//! `connect_rate`, and `limits.max_connecting`, `limits.max_connections_per_ip`,
//! `limits.publish_rate`. Each error names its key and line.

use super::raw::{RawPublishRate, RawRate};
use super::{invalid, ConfigError};
use crate::ratelimit::Rate;
use serde_saphyr::Spanned;
use std::time::Duration;

/// What one client may publish, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRate {
    /// PUBLISH packets.
    pub messages: Option<Rate>,
    /// Bytes of PUBLISH packets.
    pub bytes: Option<Rate>,
    /// Beyond the rate: DISCONNECT 0x96 (true) or stop reading until it allows (false).
    pub disconnect: bool,
}

/// A rate at `key`.
pub fn rate(r: &RawRate, key: &str) -> Result<Rate, ConfigError> {
    if r.rate.value == 0 {
        return Err(invalid(&r.rate, format!("{key}.rate"), "must be at least 1"));
    }
    let per = r.per.map_or(Duration::from_secs(1), |d| d.0);
    if per.is_zero() {
        return Err(invalid(&r.rate, format!("{key}.per"), "must be longer than 0"));
    }
    let burst = match &r.burst {
        None => r.rate.value,
        Some(b) if b.value >= 1 => b.value,
        Some(b) => return Err(invalid(b, format!("{key}.burst"), "must be at least 1")),
    };
    Ok(Rate { count: r.rate.value, per, burst })
}

/// A count limit at `key` (at least 1).
pub fn count(v: &Option<Spanned<u64>>, key: &str) -> Result<Option<usize>, ConfigError> {
    match v {
        None => Ok(None),
        Some(s) if s.value >= 1 => Ok(Some(s.value as usize)),
        Some(s) => Err(invalid(s, key.into(), "must be at least 1")),
    }
}

/// `limits.publish_rate`.
pub fn publish(p: &Option<RawPublishRate>) -> Result<Option<PublishRate>, ConfigError> {
    let Some(p) = p else { return Ok(None) };
    let key = "limits.publish_rate";
    let disconnect = match &p.action {
        None => false,
        Some(a) if a.value == "throttle" => false,
        Some(a) if a.value == "disconnect" => true,
        Some(a) => {
            return Err(invalid(
                a,
                format!("{key}.action"),
                format!("`{}`: use throttle or disconnect", a.value),
            ))
        }
    };
    let messages = p.messages.as_ref().map(|r| rate(r, &format!("{key}.messages"))).transpose()?;
    let bytes = p.bytes.as_ref().map(|r| rate(r, &format!("{key}.bytes"))).transpose()?;
    if messages.is_none() && bytes.is_none() {
        return Err(ConfigError::Invalid {
            line: p.action.as_ref().map_or(0, |a| a.referenced.line()),
            key: key.into(),
            message: "needs `messages` or `bytes`".into(),
        });
    }
    Ok(Some(PublishRate { messages, bytes, disconnect }))
}
