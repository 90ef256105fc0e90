//! Test-only npm packages (MQTT.js, playwright-core, the AsyncAPI parser), installed
//! from a folder's lock file with `npm ci`, once per test process: tests of one
//! file run in parallel, and two `npm ci` in one folder at once corrupt each other's
//! files (seen: a half-written playwright bundle failing to parse).

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

static INSTALL: Mutex<()> = Mutex::new(());

/// Runs `npm ci` in `dir` unless every path in `markers` (relative to it) exists.
pub fn install(dir: &Path, markers: &[&str]) {
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if markers.iter().all(|m| dir.join(m).exists()) {
        return;
    }
    let ok = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .expect("npm is installed (Debian package npm)");
    assert!(ok.success(), "npm ci in {}", dir.display());
}
