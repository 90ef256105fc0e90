//! The `limits` section validated: each bound checked against its range, with the
//! defaults of config/README.md for what is absent.

use super::raw::RawLimits;
use super::{invalid, rates, ConfigError, Limits, DEFAULT_MAX_PACKET, MAX_PACKET_LIMIT};
use serde_saphyr::Spanned;
use std::time::Duration;

/// The limits of the config.
pub(super) fn validate(lim: &RawLimits) -> Result<Limits, ConfigError> {
    Ok(Limits {
        max_packet_size: bounded(
            &lim.max_packet_size,
            "limits.max_packet_size",
            16,
            MAX_PACKET_LIMIT,
            DEFAULT_MAX_PACKET,
        )? as usize,
        connect_timeout: lim.connect_timeout.map_or(Duration::from_secs(10), |d| d.0),
        keep_alive_max: lim.keep_alive_max,
        read_buffer: bounded(&lim.read_buffer, "limits.read_buffer", 512, 16 << 20, 16 << 10)? as usize,
        max_connections_per_core: bounded(
            &lim.max_connections_per_core,
            "limits.max_connections_per_core",
            1,
            10_000_000,
            100_000,
        )? as usize,
        topic_alias_maximum: bounded(&lim.topic_alias_maximum, "limits.topic_alias_maximum", 0, 65_535, 64)?
            as u16,
        session_expiry_max: lim.session_expiry_max,
        max_connecting: rates::count(&lim.max_connecting, "limits.max_connecting")?,
        max_connections_per_ip: rates::count(&lim.max_connections_per_ip, "limits.max_connections_per_ip")?,
        publish_rate: rates::publish(&lim.publish_rate)?,
        max_subscriptions_per_session: match &lim.max_subscriptions_per_session {
            None => None,
            Some(_) => Some(bounded(
                &lim.max_subscriptions_per_session,
                "limits.max_subscriptions_per_session",
                1,
                10_000_000,
                0,
            )? as usize),
        },
    })
}

fn bounded(
    v: &Option<Spanned<u64>>,
    key: &str,
    min: u64,
    max: u64,
    default: u64,
) -> Result<u64, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) if (min..=max).contains(&s.value) => Ok(s.value),
        Some(s) => Err(invalid(s, key.into(), format!("{} is outside {min}..={max}", s.value))),
    }
}
