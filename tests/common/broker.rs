//! A real Mosquitto broker per test, on a free loopback port, stopped on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running mosquitto.
pub struct Mosquitto {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// A free TCP port on 127.0.0.1 (bound and released; the OS does not hand it out
/// again right away).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind :0").local_addr().expect("addr").port()
}

impl Mosquitto {
    /// Starts a broker and returns once it says it is running.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts a broker on `port` (e.g. again after [`Mosquitto::kill`]).
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, "")
    }

    /// Starts a broker on `port` with extra configuration lines.
    pub fn start_with(port: u16, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n{extra}"),
        )
        .expect("write conf");
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto is installed (scripts/test.sh installs it)");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains(" running") => break,
                Some(Ok(_)) => continue,
                _ => panic!("mosquitto on port {port} exited before running"),
            }
        }
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Mosquitto { child, port, _dir: dir }
    }

    /// Starts a broker on `port` that lets in only `user` with `password` (the
    /// returned folder holds its password file; keep it while the broker runs).
    pub fn start_with_password(port: u16, user: &str, password: &str) -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let pw = dir.path().join("passwd");
        let ok = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&pw)
            .args([user, password])
            .status()
            .expect("mosquitto_passwd is installed (mosquitto)");
        assert!(ok.success(), "mosquitto_passwd failed");
        (Self::start_with(port, &format!("password_file {}\n", pw.display())), dir)
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Freezes the broker (SIGSTOP): its connections stay open, nothing is answered.
    pub fn freeze(&self) {
        let _ = Command::new("kill").arg("-STOP").arg(self.child.id().to_string()).status();
    }

    /// Kills the broker (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}
