//! The background threads a config snapshot needs, off the data path: health
//! probes of its upstreams, its guards' JWKS file watchers, its schema registry
//! refreshes. They run as long as their [`Services`] value lives: a reload starts
//! the new snapshot's before it is published and stops the old one's after.

use crate::config::Config;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The running threads of one snapshot (stopped when it is dropped).
pub struct Services {
    stop: Arc<AtomicBool>,
}

impl Services {
    /// Starts them.
    pub fn start(config: &Config) -> Result<Services, String> {
        let stop = Arc::new(AtomicBool::new(false));
        // Built first: an error below stops what already started.
        let services = Services { stop: stop.clone() };
        for g in &config.guards {
            if let Some((path, every)) = &g.jwks_file {
                let files = vec![(g.verifier.keys.clone(), path.clone())];
                crate::auth::keys::watch(files, *every, stop.clone())
                    .map_err(|e| format!("JWKS watcher: {e}"))?;
            }
        }
        super::health::spawn(&config.upstreams, stop.clone()).map_err(|e| format!("health checks: {e}"))?;
        crate::registry::spawn_refresh(config.schemas.clone(), config.registries.clone(), stop)
            .map_err(|e| format!("registry refresh: {e}"))?;
        Ok(services)
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
