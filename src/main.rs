//! `mqtt-proxy` command line: parse flags, load the config, run the cores.
//! Everything else lives in the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mqtt_proxy::config::{Config, LogOutput, DEFAULT_CONFIG};
use mqtt_proxy::proxy::{self, Placement};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A thread-per-core MQTT 3.1.1 / 5.0 proxy.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, subcommand_negates_reqs = true)]
struct Cli {
    /// Config file (YAML): a native config (`${VAR}` and `${VAR:-default}` from the
    /// environment) or a Zilla `zilla.yaml` (`${{env.NAME}}`), told apart by its
    /// top-level `bindings:` key.
    #[arg(short, long, value_name = "FILE", required_unless_present = "print_default_config")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,

    /// Number of cores (executors) to run, each pinned to its own CPU. Default: all online CPUs.
    #[arg(long, value_name = "N", conflicts_with = "cpus")]
    cores: Option<usize>,

    /// Exact CPUs to run on, one executor per CPU, e.g. `0-3,6`.
    #[arg(long, value_name = "LIST")]
    cpus: Option<String>,

    /// Do not pin executors to CPUs (for shared machines and containers).
    #[arg(long)]
    no_pin: bool,

    /// Microseconds an idle core keeps polling before it sleeps (0: sleep at once).
    /// Trades CPU for wake-up latency on dedicated cores.
    #[arg(long, value_name = "MICROS", default_value_t = 0)]
    spin: u64,

    /// Validate the config, print a summary, and exit (0: valid, 1: invalid).
    #[arg(long)]
    check_config: bool,

    /// Print a documented default config and exit.
    #[arg(long)]
    print_default_config: bool,

    /// Log filter, e.g. `info` or `mqtt_proxy=debug` (also read from RUST_LOG).
    #[arg(long, value_name = "FILTER", env = "RUST_LOG", default_value = "info")]
    log: String,
}

/// Tools that print and exit.
#[derive(Subcommand, Debug)]
enum Command {
    /// Print the native config a Zilla `zilla.yaml` translates to, with comments
    /// (`${{env.NAME}}` becomes `${NAME}`; save it next to the Zilla file, since
    /// relative paths stay relative to it).
    Convert {
        /// The Zilla config.
        file: PathBuf,
    },
}

fn convert(file: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match Config::convert_zilla(&text) {
        Ok(native) => {
            print!("{native}");
            Ok(())
        }
        Err(e) => {
            eprintln!("mqtt-proxy: cannot convert {}: {e}", file.display());
            std::process::exit(1);
        }
    }
}

/// Log lines go to stderr until the config says otherwise.
static LOG_TO_STDOUT: AtomicBool = AtomicBool::new(false);

fn log_writer() -> Box<dyn Write> {
    if LOG_TO_STDOUT.load(std::sync::atomic::Ordering::Relaxed) {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::stderr())
    }
}

fn parse_cpus(s: &str) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse()?, b.parse()?);
                anyhow::ensure!(a <= b, "bad CPU range `{part}`");
                out.extend(a..=b);
            }
            None => out.push(part.parse()?),
        }
    }
    anyhow::ensure!(!out.is_empty(), "empty CPU list");
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Convert { file }) = &cli.command {
        return convert(file);
    }
    if cli.print_default_config {
        print!("{DEFAULT_CONFIG}");
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).context("bad --log filter")?)
        .with_writer(log_writer)
        .with_ansi(std::io::stderr().is_terminal() && std::io::stdout().is_terminal())
        .init();
    mqtt_proxy::auth::ring_provider::install();
    let path = cli.config.context("--config is required")?;
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqtt-proxy: invalid config {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    if config.log_output == LogOutput::Stdout {
        LOG_TO_STDOUT.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if cli.check_config {
        print!("config OK: {}\n{}", path.display(), config.summary());
        return Ok(());
    }
    let online = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let placement = match (&cli.cpus, cli.cores, cli.no_pin) {
        (Some(list), _, _) => Placement::Cpus(parse_cpus(list).context("bad --cpus")?),
        (None, n, true) => Placement::Unpinned(n.unwrap_or(online)),
        (None, n, false) => Placement::Cores(n.unwrap_or(online)),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handler")?;
    }
    let spin = (cli.spin > 0).then(|| std::time::Duration::from_micros(cli.spin));
    proxy::run(Arc::new(config), &placement, spin, stop, |listeners, metrics| {
        let mut out = std::io::stdout().lock();
        for (name, addr) in listeners {
            let _ = writeln!(out, "ready listener={name} addr={addr}");
        }
        if let Some(addr) = metrics {
            let _ = writeln!(out, "ready metrics addr={addr}");
        }
        let _ = out.flush();
    })?;
    Ok(())
}
