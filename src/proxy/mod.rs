//! The runtime: glommio executors (one per core), listeners, connection driver,
//! session relay.
//!
//! Each core owns its listeners (SO_REUSEPORT), the connections it accepts and
//! their upstream sockets; the only thing shared between cores is the read-only
//! `Arc<Config>`. Inside a core everything is `Rc`/`Cell`: no locks, no atomics on
//! the data path. The MQTT decisions live in [`session`] (pure); this module does
//! the I/O around them.

mod close;
mod conn;
mod io;
mod relay;
mod runtime;
mod session;
mod stats;
mod trigger;

pub use close::{Close, Side};
pub use runtime::{run, Placement, RuntimeError};
pub use session::{Session, Verdict};

use crate::config::Config;
use std::cell::Cell;
use std::sync::Arc;
use trigger::Trigger;

/// What one core shares between its tasks.
pub struct Core {
    /// This core's executor id (in logs).
    pub id: usize,
    /// The config snapshot.
    pub config: Arc<Config>,
    /// Fired when this core shuts down.
    shutdown: Trigger,
    /// Open connections on this core.
    live: Cell<usize>,
}

impl Core {
    fn new(config: Arc<Config>) -> Self {
        Core {
            id: glommio::executor().id(),
            config,
            shutdown: Trigger::default(),
            live: Cell::new(0),
        }
    }
}
