//! The multi-broker session state machine against arbitrary input: bytes from the
//! client and from each of three broker links, link failures and time passing, in
//! an order the input chooses ([`mqtt_proxy::session::multi::replay`] says how).
//! Never a panic; the machine's invariants hold after every event.
//! Run: `scripts/fuzz.sh 60 session`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_proxy::session::multi::replay::replay(data));
