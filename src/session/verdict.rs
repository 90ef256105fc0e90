//! What the session decides about one frame: a [`Verdict`] (forward, replace,
//! answer, drop, end...), which carries the payload [`Rejection`] that led to it
//! when validation refused the message, so the driver logs and counts it with the
//! verdict itself. Pure data.

use super::close::Close;
use crate::schema::{Direction, Invalid};
use bytes::Bytes;

/// What to do with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward the frame's bytes unchanged.
    Forward,
    /// Forward it, then end the session.
    ForwardThenEnd(Close),
    /// Send these bytes instead of the frame.
    Replace(Bytes),
    /// Do not forward it; send these bytes back to its sender.
    Reply(Bytes),
    /// Do not forward it; nothing to answer.
    Drop,
    /// Do not forward it: a 5.0 re-authentication with this token (the relay checks
    /// it with the guard and answers with `Session::reauth_ok` or ends the session).
    Reauthenticate(String),
    /// Do not forward it; end the session.
    End(Close),
    /// Payload validation refused the message: log and count the rejection, then
    /// do what the inner verdict says (answer, drop or end).
    Rejected(Box<Rejection>, Box<Verdict>),
}

impl Verdict {
    /// The verdict to carry out, and the rejection behind it if there was one.
    #[inline]
    pub fn split(self) -> (Verdict, Option<Box<Rejection>>) {
        match self {
            Verdict::Rejected(r, v) => (*v, Some(r)),
            v => (v, None),
        }
    }
}

/// The packet a [`Verdict::Reply`] answers with (tests read answers with it).
#[cfg(test)]
pub(crate) fn replied(v: Verdict, p: crate::mqtt::Protocol) -> crate::mqtt::Packet {
    match v {
        Verdict::Reply(b) => crate::mqtt::decode_bytes(b, p, usize::MAX).expect("valid reply"),
        other => panic!("expected a reply, got {other:?}"),
    }
}

/// A message refused by payload validation (the driver logs and counts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Index of the rule in `Schemas::rules`.
    pub rule: usize,
    /// Which way the message was going.
    pub dir: Direction,
    /// Why.
    pub invalid: Invalid,
    /// Its topic.
    pub topic: String,
}
