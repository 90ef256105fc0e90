//! Per-connection counters, kept on the connection's core (plain `Cell`s, no atomics)
//! and reported in its close log line.

use std::cell::Cell;

/// Bytes and packets moved in one direction.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes written to the destination.
    pub bytes: Cell<u64>,
    /// Frames read from the source.
    pub packets: Cell<u64>,
}
