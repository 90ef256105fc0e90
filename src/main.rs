//! `mqtt-proxy` command line entry point.
fn main() {
    eprintln!("mqtt-proxy: the runtime is not built yet");
    std::process::exit(2);
}
