//! What every driver of a session (the single-broker relay and the multi-broker
//! driver) takes from its connection: the pure session, the frame and read limits,
//! the writer to the client, the core's counters, the keep-alive watchdog, and the
//! two callbacks that reach outside the session (a payload rejection is logged and
//! counted; a 5.0 re-authentication token is checked by the guard). Built once per
//! connection in `conn.rs`; nothing here does I/O by itself.

use super::keepalive::Watchdog;
use super::writer::Writer;
use crate::auth::AuthError;
use crate::metrics::CoreMetrics;
use crate::session::{Rejection, Session};

/// A session's connection, as its driver sees it.
pub struct SessionIo<'a> {
    /// The pure session (ACL, validation, mount point, CONNACK rewrite).
    pub session: &'a Session,
    /// Largest frame accepted from either side.
    pub max_packet_size: usize,
    /// Largest read.
    pub read_buffer: usize,
    /// The core's read scratch (reads into an empty buffer land there first).
    pub scratch: &'a super::io::Scratch,
    /// Writes to the client (several tasks may: forwards and the proxy's answers).
    pub client: &'a Writer,
    /// The core's counters.
    pub metrics: &'a CoreMetrics,
    /// Stamped by each read from the client (the keep-alive watchdog reads it).
    pub watchdog: &'a Watchdog,
    /// Logs and counts a message refused by payload validation.
    pub rejected: &'a dyn Fn(&Rejection),
    /// Checks a 5.0 re-authentication token (and moves the session's deadline).
    pub reauth: &'a dyn Fn(&str) -> Result<(), AuthError>,
    /// `limits.publish_rate`, when configured.
    pub pace: Option<&'a super::pace::Pace>,
}

impl SessionIo<'_> {
    /// Counts what the session refused or dropped since the last report.
    pub fn report_drops(&self) {
        let d = self.session.take_drops();
        if d != Default::default() {
            self.metrics.session_drops(d);
        }
    }
}
