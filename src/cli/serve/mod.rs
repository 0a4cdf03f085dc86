//! `inference-lab serve`: the web interface. One page (embedded in the binary, see
//! `assets.rs`) sets up a config with a form, runs it on this machine's engine and shows the
//! results as they come; a second tab lists sweep results and shows their reports.
//!
//! The server is small and synchronous (tiny_http): a thread per connection, a fixed pool
//! of run workers behind a bounded queue (`runs.rs`), and server-sent events for live runs.
//! The page speaks a small JSON API:
//!
//! - `GET /api/catalog`: GPU and model catalogs, shipped configs, policies, patterns, limits.
//! - `POST /api/config` `{base, edits}`: the TOML that would run, the expanded config, its
//!   warnings, or the CLI's error with the key it names (`form.rs`).
//! - `POST /api/runs` `{page, base, edits, speed, interval}`: queues a run (`runs.rs`) and
//!   answers `{id, position}` (or 400 with the config's error, 409 when the page has a run,
//!   503 when the queue is full, 413 for a body over 1 MiB).
//! - `GET /api/runs/ID/events`: the run's server-sent events (`events.rs`, `job.rs`):
//!   `queued {position}`, `started {total}`, `progress {now, completed, total, running,
//!   waiting, kv_cache_util, steps, wall_s}` (at most ten a second), `points {rows}` (the time
//!   series' intervals as they close), then one of `result {json, json_text, toml,
//!   timeseries, histograms, warnings, wall_s}`, `error {message}`, `cancelled {now,
//!   completed}`. `POST /api/runs/ID/stop` stops it.
//! - `GET /api/sweeps`, `GET /sweeps/NAME/report.html`: results folders (`sweeps.rs`).
//!
//! Safe by default: it binds loopback unless `--host` says otherwise (with a warning), only
//! answers requests addressed to the host it serves, refuses cross-site POSTs, bounds request
//! bodies, runs and queue, and never reads or writes a path a client names: configs come
//! from the form, an upload or the shipped ones embedded in the binary, and a config that
//! names a file (a dataset, a trace, a tokenizer, a model's config.json) is refused.

mod assets;
mod events;
mod form;
mod http;
mod job;
mod live;
mod runs;
mod shipped;
mod sweeps;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

pub const SERVE_HELP: &str = "\
Examples:
  inference-lab serve
  inference-lab serve --port 9000 --open
  inference-lab serve --results results/

Prints `serving on http://HOST:PORT` on stdout and serves until Ctrl-C. It listens on
127.0.0.1 unless --host says otherwise; any other host lets anyone who can reach this machine
run simulations on it. --port 0 picks a free port.

Exit codes:
  0  stopped with Ctrl-C (or SIGTERM)
  1  the server could not start (port in use, bad --results folder)";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port; the line printed at start names it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on. Anything but loopback exposes the server to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Open the page in the default browser once the server listens.
    #[arg(long)]
    pub open: bool,
    /// A folder of sweep results (`inference-lab sweep -o`) to list in the Sweeps tab: the
    /// folder itself and each folder under it that has the sweep's tables.
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// Simulations run at once; more wait in a queue.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub jobs: usize,
    /// Runs that may wait for a worker, over all pages; more are refused (HTTP 503).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub queue: usize,
}

/// Set by SIGINT/SIGTERM; the accept loop checks it.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// What every handler shares.
pub struct Server {
    pub runs: runs::Runs,
    pub sweeps: Option<sweeps::Sweeps>,
    /// The addresses a request's Host header may name (empty: any, when not on loopback).
    pub hosts: Vec<String>,
    /// Requests being answered (see `http::spawn`).
    pub connections: std::sync::atomic::AtomicUsize,
}

pub fn main(args: &ServeArgs) -> Result<ExitCode> {
    if args.jobs == 0 || args.jobs > 64 {
        bail!(
            "--jobs {} is invalid: give 1 to 64 simulations at once",
            args.jobs
        );
    }
    if args.queue > 1024 {
        bail!(
            "--queue {} is invalid: give 0 to 1024 waiting runs",
            args.queue
        );
    }
    let sweeps = args
        .results
        .as_deref()
        .map(sweeps::Sweeps::open)
        .transpose()?;
    let listen = SocketAddr::new(args.host, args.port);
    let http =
        tiny_http::Server::http(listen).map_err(|e| anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = http
        .server_addr()
        .to_ip()
        .context("the server is not on an IP socket")?;
    if !args.host.is_loopback() {
        super::print_warning(&format!(
            "serving on {addr}, not loopback: anyone who can reach this machine can run \
             simulations on it"
        ));
    }
    let server = Arc::new(Server {
        runs: runs::Runs::start(args.jobs, args.queue),
        sweeps,
        hosts: if args.host.is_loopback() {
            allowed_hosts(addr)
        } else {
            Vec::new()
        },
        connections: Default::default(),
    });
    let url = format!("http://{addr}");
    outln!("serving on {url}");
    std::io::Write::flush(&mut std::io::stdout()).map_err(super::stdout_error)?;
    if args.open {
        open_browser(&url);
    }
    // SAFETY: installs a handler that only stores to an atomic, before the handler threads.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    while !STOP.load(Ordering::SeqCst) {
        match http.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(request)) => http::spawn(&server, request),
            Ok(None) => {}
            Err(e) => bail!("the server stopped: {e}"),
        }
    }
    server.runs.shutdown();
    eprintln!("inference-lab serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// The Host headers a loopback server answers: its address by IP and as localhost (a page
/// of another site that rebinds its own name to 127.0.0.1 sends that name, and is refused).
fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![addr.to_string(), format!("localhost:{port}")];
    if port == 80 {
        hosts.push(addr.ip().to_string());
        hosts.push("localhost".into());
    }
    hosts
}

/// Opens `url` with the desktop's opener; a failure is a warning (the URL is printed).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        super::print_warning(&format!(
            "--open: cannot run {opener}: {e}; open {url} yourself"
        ));
    }
}
