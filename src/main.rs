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
    #[arg(
        short,
        long,
        value_name = "FILE",
        required_unless_present_any = ["print_default_config", "asyncapi"],
        conflicts_with = "asyncapi"
    )]
    config: Option<PathBuf>,

    /// Configure the proxy from an AsyncAPI 2.6 / 3.0 document alone: its MQTT
    /// servers become listeners, its channels the topics clients may use, its
    /// payloads validators. Needs `--upstream`.
    #[arg(long, value_name = "FILE", requires = "upstream")]
    asyncapi: Option<PathBuf>,

    /// With `--asyncapi`: the brokers, `NAME=HOST:PORT[,HOST:PORT...]`.
    #[arg(long, value_name = "NAME=ADDR")]
    upstream: Option<String>,

    /// With `--asyncapi`: a document warning (something read but not applied) is an error.
    #[arg(long)]
    strict: bool,

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

    /// Reload the config when it or a file it names (keys, certificates, schemas)
    /// changes, looking every MILLIS (default 1000). SIGHUP always reloads.
    #[arg(long, value_name = "MILLIS", num_args = 0..=1, default_missing_value = "1000")]
    watch: Option<u64>,

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
    /// AsyncAPI documents: `check` prints what the proxy derives from one (listeners,
    /// topics per direction, validators, warnings); `render` prints the native config.
    Asyncapi {
        #[command(subcommand)]
        what: AsyncApiCommand,
    },
}

/// `mqtt-proxy asyncapi ...`.
#[derive(Subcommand, Debug)]
enum AsyncApiCommand {
    /// Validate a document and print the derived listeners, ACLs and validators.
    Check {
        /// The document (YAML or JSON).
        file: PathBuf,
        /// Warnings are errors.
        #[arg(long)]
        strict: bool,
    },
    /// Print the equivalent native config.
    Render {
        /// The document (YAML or JSON).
        file: PathBuf,
        /// The brokers, `NAME=HOST:PORT[,...]` (default `broker=${MQTT_BROKER:-127.0.0.1:1884}`).
        #[arg(long, value_name = "NAME=ADDR")]
        upstream: Option<String>,
    },
}

fn asyncapi_command(what: &AsyncApiCommand) -> anyhow::Result<()> {
    use mqtt_proxy::config::asyncapi as doc;
    let fail = |file: &std::path::Path, e: &dyn std::fmt::Display| -> ! {
        eprintln!("mqtt-proxy: {}: {e}", file.display());
        std::process::exit(1);
    };
    match what {
        AsyncApiCommand::Check { file, strict } => {
            let api = doc::read(file, false, *strict).unwrap_or_else(|e| fail(file, &e));
            let upstream = mqtt_proxy::asyncapi::Upstream {
                name: "broker".into(),
                servers: vec!["127.0.0.1:1884".into()],
            };
            let text = mqtt_proxy::asyncapi::render(&api, &file.display().to_string(), &upstream, None);
            if let Err(e) = Config::parse_in(&text, |_| None, file.parent()) {
                fail(file, &format!("the derived config is invalid: {e}"));
            }
            print!("{}", mqtt_proxy::asyncapi::table(&api));
        }
        AsyncApiCommand::Render { file, upstream } => {
            let api = doc::read(file, false, false).unwrap_or_else(|e| fail(file, &e));
            let upstream = match upstream {
                Some(u) => doc::parse_upstream(u).unwrap_or_else(|e| fail(file, &format!("--upstream: {e}"))),
                None => mqtt_proxy::asyncapi::Upstream {
                    name: "broker".into(),
                    servers: vec!["${MQTT_BROKER:-127.0.0.1:1884}".into()],
                },
            };
            print!("{}", mqtt_proxy::asyncapi::render(&api, &file.display().to_string(), &upstream, None));
            for w in &api.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    Ok(())
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
    // Before the allocator maps much: every arena after this uses small pages.
    let small_pages = proxy::memory::small_pages();
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Convert { file }) => return convert(file),
        Some(Command::Asyncapi { what }) => return asyncapi_command(what),
        None => {}
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
    match small_pages {
        Ok(off) => tracing::debug!(huge_pages_off = off, "memory settings applied"),
        // A sandbox may forbid it: the proxy runs, with more memory per connection.
        Err(e) => tracing::warn!(error = %e, "cannot turn transparent huge pages off"),
    }
    // The same loader at start and on every reload; its error is what
    // `--check-config` prints.
    let source: proxy::Source = match (&cli.config, &cli.asyncapi) {
        (Some(p), _) => {
            let p = p.clone();
            Box::new(move || Config::load(&p).map_err(|e| format!("invalid config {}: {e}", p.display())))
        }
        (None, Some(doc)) => {
            let upstream = cli.upstream.as_deref().context("--asyncapi needs --upstream NAME=HOST:PORT")?;
            let upstream = mqtt_proxy::config::asyncapi::parse_upstream(upstream)
                .map_err(|e| anyhow::anyhow!("--upstream: {e}"))?;
            let (doc, strict) = (doc.clone(), cli.strict);
            Box::new(move || {
                let (c, api) = Config::from_asyncapi(&doc, &upstream, strict)
                    .map_err(|e| format!("invalid config {}: {e}", doc.display()))?;
                for w in &api.warnings {
                    tracing::warn!(document = %doc.display(), "{w}");
                }
                Ok(c)
            })
        }
        (None, None) => anyhow::bail!("--config or --asyncapi is required"),
    };
    let path = cli.config.as_ref().or(cli.asyncapi.as_ref()).cloned().unwrap_or_default();
    let config = match source() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqtt-proxy: {e}");
            std::process::exit(1);
        }
    };
    if config.log_output == LogOutput::Stdout {
        LOG_TO_STDOUT.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    for w in &config.warnings {
        tracing::warn!("asyncapi: {w}");
    }
    if cli.check_config {
        print!("config OK: {}\n{}", path.display(), config.summary());
        for w in &config.warnings {
            println!("warning: {w}");
        }
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
    let hangup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hangup.clone())
        .context("cannot install signal handler")?;
    let reload = proxy::Reload { source, hangup, watch: cli.watch.map(std::time::Duration::from_millis) };
    let spin = (cli.spin > 0).then(|| std::time::Duration::from_micros(cli.spin));
    let ready: proxy::Announce = Arc::new(|listeners, metrics| {
        let mut out = std::io::stdout().lock();
        for (name, addr) in listeners {
            let _ = writeln!(out, "ready listener={name} addr={addr}");
        }
        if let Some(addr) = metrics {
            let _ = writeln!(out, "ready metrics addr={addr}");
        }
        let _ = out.flush();
    });
    proxy::run(config, &placement, spin, stop, ready, Some(reload))?;
    Ok(())
}
