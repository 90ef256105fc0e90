//! `mqtt-loadtest`: the load-test harness (grows in its own issue).
fn main() {
    eprintln!("mqtt-loadtest: scenarios are not built yet");
    std::process::exit(2);
}
