//! A TCP relay between the proxy and a real broker whose proxy → broker direction
//! can be held (bytes wait in the gate, nothing is lost): it orders what a broker
//! sees against what the test does, where a broker would otherwise answer at once.
//! Not a broker: every byte still comes from and goes to Mosquitto.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};

/// A running relay to one broker.
pub struct Gate {
    /// `127.0.0.1:port` to give the proxy instead of the broker's address.
    pub addr: String,
    held: Arc<(Mutex<bool>, Condvar)>,
}

impl Gate {
    /// Relays every connection made to [`Gate::addr`] to `target`.
    pub fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind gate");
        let addr = listener.local_addr().expect("addr").to_string();
        let held = Arc::new((Mutex::new(false), Condvar::new()));
        let h = held.clone();
        std::thread::spawn(move || {
            for down in listener.incoming().flatten() {
                let Ok(up) = TcpStream::connect(&target) else { continue };
                let (down2, up2) = (down.try_clone().expect("clone"), up.try_clone().expect("clone"));
                let h = h.clone();
                std::thread::spawn(move || copy(down, up, Some(h)));
                std::thread::spawn(move || copy(up2, down2, None));
            }
        });
        Gate { addr, held }
    }

    /// From now on, bytes from the proxy wait in the gate.
    pub fn hold(&self) {
        *self.held.0.lock().expect("gate") = true;
    }

    /// Lets held and later bytes through.
    pub fn release(&self) {
        *self.held.0.lock().expect("gate") = false;
        self.held.1.notify_all();
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream, held: Option<Arc<(Mutex<bool>, Condvar)>>) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some(h) = &held {
            let mut g = h.0.lock().expect("gate");
            while *g {
                g = h.1.wait(g).expect("gate");
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
