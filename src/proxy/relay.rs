//! The two relay directions of one session: read, cut frames, ask the session what
//! to do with each, write the accepted bytes on, read again.
//!
//! Zero-copy: a read's complete frames are split off the connection buffer as one
//! `Bytes`; frames are checked as slices of it, and runs of unchanged frames are
//! written with one `write_all` of that same memory. Backpressure: the next read
//! starts only after the previous write finished, so a slow peer stops reads on the
//! side that feeds it, and a buffer never holds more than one maximum-size packet
//! plus one read chunk.

use super::io::{read_into, ReadSize, Shared};
use super::session_io::SessionIo;
use super::stats::Counters;
use super::writer::Writer;
use crate::metrics::Counter;
use crate::mqtt::{self, FrameCheck};
use crate::session::close::Close;
use crate::session::Verdict;
use bytes::{Bytes, BytesMut};

/// The PUBLISH packets among the whole frames of `frames`: how many, how many bytes.
fn publishes(frames: &[u8]) -> (u64, u64) {
    let (mut count, mut bytes, mut at) = (0, 0, 0);
    while let Ok(FrameCheck::Complete { len, .. }) = mqtt::frame::check(&frames[at..], usize::MAX) {
        if frames[at] >> 4 == mqtt::kind::PUBLISH {
            count += 1;
            bytes += len as u64;
        }
        at += len;
    }
    (count, bytes)
}

/// Which way a pump moves bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to broker.
    Up,
    /// Broker to client.
    Down,
}

/// What a pump needs besides its sockets.
pub struct Pump<'a> {
    /// Direction.
    pub dir: Dir,
    /// The session and what its connection offers.
    pub io: &'a SessionIo<'a>,
    /// Keep alive the client's CONNECT asked for.
    pub client_keep_alive: u16,
    /// Read size, adapted to the traffic (at most the configured read buffer).
    pub read_size: ReadSize,
    /// Counters of this direction.
    pub counters: &'a Counters,
    /// Writes to the broker (forwards, and the proxy's answers to dropped deliveries).
    pub upstream: &'a Writer,
}

impl Pump<'_> {
    fn gone(&self, why: String) -> Close {
        match self.dir {
            Dir::Up => Close::ClientGone(why),
            Dir::Down => Close::UpstreamGone(why),
        }
    }

    fn malformed(&self, e: mqtt::DecodeError) -> Close {
        match self.dir {
            Dir::Up => Close::ClientProtocol(e),
            Dir::Down => Close::UpstreamProtocol(e),
        }
    }

    fn verdict(&self, f: &mqtt::Frame) -> Verdict {
        match self.dir {
            Dir::Up => self.io.session.from_client(f),
            Dir::Down => self.io.session.from_upstream(f, self.client_keep_alive),
        }
    }

    /// The core's bytes counter for this direction.
    fn core_bytes(&self) -> &Counter {
        match self.dir {
            Dir::Up => &self.io.metrics.bytes_up,
            Dir::Down => &self.io.metrics.bytes_down,
        }
    }

    /// Writes to the client or the broker.
    async fn write_to(&self, to_client: bool, b: &[u8]) -> Result<(), Close> {
        let (w, gone): (_, fn(String) -> Close) = if to_client {
            (self.io.client, Close::ClientGone)
        } else {
            (self.upstream, Close::UpstreamGone)
        };
        w.write(b).await.map_err(|e| gone(e.to_string()))
    }

    /// Forwards bytes to this direction's destination, counting them.
    async fn write(&self, b: &[u8]) -> Result<(), Close> {
        self.write_to(self.dir == Dir::Down, b).await?;
        self.counters.bytes.set(self.counters.bytes.get() + b.len() as u64);
        self.core_bytes().add(b.len() as u64);
        Ok(())
    }

    /// Handles the complete frames at the front of `buf`; `Some` when the session ends.
    async fn drain(&self, buf: &mut BytesMut) -> Result<(), Close> {
        let mut end = 0;
        let mut bad = None;
        loop {
            match mqtt::frame::check(&buf[end..], self.io.max_packet_size) {
                Ok(FrameCheck::Complete { len, .. }) => end += len,
                Ok(FrameCheck::Incomplete { .. }) => break,
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            }
        }
        if end > 0 {
            let chunk: Bytes = buf.split_to(end).freeze();
            let (mut off, mut start) = (0, 0);
            let mut outcome = None;
            while off < end {
                let frame = mqtt::Frame::at(&chunk, off).map_err(|e| self.malformed(e))?;
                let len = frame.len();
                self.counters.packets.set(self.counters.packets.get() + 1);
                self.io.metrics.packets.add(self.dir == Dir::Up, chunk[off], len);
                let (mut verdict, rejection) = self.verdict(&frame).split();
                if let Some(r) = rejection {
                    (self.io.rejected)(&r);
                }
                if let Verdict::Reauthenticate(token) = &verdict {
                    verdict = match (self.io.reauth)(token) {
                        Ok(()) => self.io.session.reauth_ok(),
                        Err(_) => Verdict::End(Close::ReauthFailed),
                    };
                }
                match verdict {
                    Verdict::Forward => off += len,
                    Verdict::ForwardThenEnd(c) => {
                        off += len;
                        outcome = Some(c);
                        break;
                    }
                    Verdict::Replace(b) => {
                        self.write(&chunk[start..off]).await?;
                        self.write(&b).await?;
                        off += len;
                        start = off;
                    }
                    Verdict::End(c) => {
                        outcome = Some(c);
                        break;
                    }
                    Verdict::Reply(b) => {
                        // Back to the sender: the client (Up) or the broker (Down).
                        self.write(&chunk[start..off]).await?;
                        self.write_to(self.dir == Dir::Up, &b).await?;
                        off += len;
                        start = off;
                    }
                    Verdict::Drop | Verdict::Reauthenticate(_) | Verdict::Rejected(..) => {
                        self.write(&chunk[start..off]).await?;
                        off += len;
                        start = off;
                    }
                }
            }
            self.write(&chunk[start..off]).await?;
            if let Some(c) = outcome {
                return Err(c);
            }
            // Forwarded; the next read waits until `limits.publish_rate` allows it.
            if let Some(p) = self.io.pace.filter(|_| self.dir == Dir::Up) {
                let (count, bytes) = publishes(&chunk[..off]);
                p.after(count, bytes, self.io.metrics, self.io.watchdog).await?;
            }
        }
        match bad {
            Some(e) => Err(self.malformed(e)),
            None => Ok(()),
        }
    }

    /// Runs until the session ends; returns why.
    pub async fn run(&self, src: &mut Shared, buf: &mut BytesMut) -> Close {
        loop {
            if let Err(c) = self.drain(buf).await {
                self.io.report_drops();
                return c;
            }
            self.io.report_drops();
            match read_into(src, buf, self.read_size.get(), self.io.scratch).await {
                Ok(0) => return self.gone("end of stream".into()),
                Ok(n) => {
                    if self.dir == Dir::Up {
                        self.io.watchdog.touch();
                    }
                    self.read_size.after(n)
                }
                Err(e) => return self.gone(e.to_string()),
            }
        }
    }
}
