//! mosquitto_pub / mosquitto_sub as real clients.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

/// A running mosquitto_sub that has received its SUBACK.
pub struct Sub {
    child: Child,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl Sub {
    /// Starts `mosquitto_sub -p port -v -d <args>` and returns after its SUBACK.
    /// (`stdbuf -oL`: its stdout is a pipe, which libc would otherwise buffer.)
    pub fn start(port: u16, args: &[&str]) -> Sub {
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", &port.to_string(), "-v", "-d"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub is installed");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("Subscribed") => break,
                Some(Ok(_)) => {}
                _ => panic!("mosquitto_sub ended before its SUBACK"),
            }
        }
        Sub { child, lines }
    }

    /// The next delivered message as `topic payload`, or `None` when it ended.
    pub fn next_message(&mut self) -> Option<String> {
        for l in self.lines.by_ref() {
            let l = l.ok()?;
            if l.starts_with("Client ") || l.starts_with("Subscribed") {
                continue;
            }
            return Some(l);
        }
        None
    }

    /// Waits for the process to end.
    pub fn wait(mut self) -> bool {
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs mosquitto_pub to completion.
pub fn publish(port: u16, args: &[&str]) -> Output {
    let out = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("mosquitto_pub is installed");
    assert!(out.status.success(), "mosquitto_pub {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}
