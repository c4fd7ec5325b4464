//! `spool-trace`: view a trace written by spool (or by Go's runtime/trace).
//!
//! ```text
//! spool-trace FILE                         # same as `serve FILE`
//! spool-trace serve FILE [--addr 127.0.0.1:0] [--open]
//! spool-trace html FILE -o out.html        # self-contained page, works from file://
//! spool-trace summary FILE                 # terminal tables
//! spool-trace pprof --kind net|sync|syscall|sched FILE -o out.pb.gz
//! spool-trace export FILE --format chrome-json|perfetto -o out
//! spool-trace check FILE                   # validate; non-zero exit with reason and byte offset
//! ```
//!
//! Every failure is one line on stderr and a non-zero exit code, never a panic.

use std::io::{BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use spool_trace::read::{ErrorKind, TraceReader, order::Orderer};
use spool_trace::{analysis, chrome, perfetto, pprof, profile, server, summary, web};

#[derive(Parser)]
#[command(
    name = "spool-trace",
    version,
    about = "View an execution trace written by spool or Go",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Trace file to serve (shorthand for `serve FILE`).
    file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the web UI on a loopback address and print its URL.
    Serve {
        /// Trace file.
        file: PathBuf,
        /// Address to listen on (loopback only; port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// Open the page in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Write the web UI as one self-contained HTML file.
    Html {
        /// Trace file.
        file: PathBuf,
        /// Output HTML file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print a summary: tasks by spawn site, latencies, STW, user tasks/regions.
    Summary {
        /// Trace file.
        file: PathBuf,
        /// How many tasks the "slowest" lists show.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Write one of Go's trace profiles (time blocked on the network, on
    /// sync primitives, in syscalls, or waiting for a P) as gzipped pprof,
    /// like `go tool trace -pprof=KIND`.
    Pprof {
        /// Which profile.
        #[arg(long, value_enum)]
        kind: Kind,
        /// Trace file.
        file: PathBuf,
        /// Output file (gzip-compressed pprof protobuf).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Export to another format.
    Export {
        /// Trace file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum)]
        format: Format,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Validate the file: decode and order every event; exit 1 on the first problem.
    Check {
        /// Trace file.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// Time blocked on the network (reason "network").
    Net,
    /// Time blocked on channels, select, mutexes and other sync primitives.
    Sync,
    /// Time in system calls / blocking sections.
    Syscall,
    /// Scheduler latency: time runnable, waiting for a P.
    Sched,
}

impl Kind {
    fn profile(self) -> profile::ProfileKind {
        match self {
            Kind::Net => profile::ProfileKind::Net,
            Kind::Sync => profile::ProfileKind::Sync,
            Kind::Syscall => profile::ProfileKind::Syscall,
            Kind::Sched => profile::ProfileKind::Sched,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Chrome Trace Event Format (Perfetto, chrome://tracing).
    ChromeJson,
    /// Perfetto's native protobuf (TrackEvent, flows for wakes): ui.perfetto.dev, trace_processor.
    Perfetto,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cmd = match (cli.cmd, cli.file) {
        (Some(c), _) => c,
        (None, Some(file)) => Cmd::Serve {
            file,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            open: false,
        },
        (None, None) => {
            eprintln!("spool-trace: no trace file given (try `spool-trace --help`)");
            return ExitCode::from(2);
        }
    };
    match run(cmd) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("spool-trace: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn load(file: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}

/// Decodes and analyses, with a progress bar on a terminal; `timeline`:
/// keep every run and wake ([`analysis::Options`]).
fn model(file: &Path, timeline: bool) -> Result<analysis::Model, String> {
    let data = load(file)?;
    let bar = (std::io::stderr().is_terminal() && data.len() > 4 << 20).then(|| {
        let b = indicatif::ProgressBar::new(data.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("reading {bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let opts = analysis::Options { timeline };
    let m = analysis::analyze_with(&data, opts, |done, _| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    })
    .map_err(|e| format!("{}: {e}", file.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(stop) = m
        .stop
        .as_ref()
        .filter(|s| s.error.kind == ErrorKind::EmptyTrace)
    {
        // Nothing to show (and Go's tools refuse it too).
        return Err(format!("{}: {}", file.display(), stop.error));
    }
    if let Some(stop) = &m.stop {
        eprintln!(
            "spool-trace: warning: {:.1}% of {} could not be read: {}",
            m.unread_fraction() * 100.0,
            file.display(),
            stop.error
        );
    }
    Ok(m)
}

fn display_name(file: &Path) -> String {
    file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn write_file(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let out = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut w = BufWriter::new(out);
    f(&mut w)
        .and_then(|()| w.flush())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn run(cmd: Cmd) -> Result<ExitCode, String> {
    match cmd {
        Cmd::Serve { file, addr, open } => {
            let m = model(&file, true)?;
            let (mut page, mut bins) = (Vec::new(), [Vec::new(), Vec::new()]);
            web::write_served(&m, &display_name(&file), &mut page, &mut bins)
                .map_err(|e| format!("cannot build the page: {e}"))?;
            drop(m);
            let data = web::DATA_PATHS
                .iter()
                .zip(bins)
                .map(|(path, body)| server::Resource {
                    path: format!("/{path}"),
                    content_type: "application/octet-stream",
                    body,
                })
                .collect();
            let config = server::Config::default();
            server::serve_resources(addr, page, data, config, |bound| {
                let url = format!("http://{bound}/");
                println!(
                    "spool-trace: serving {} at {url}  (Ctrl-C to stop)",
                    file.display()
                );
                let _ = std::io::stdout().flush();
                if open {
                    // Best effort: a missing opener only means the user clicks the URL.
                    let _ = std::process::Command::new("xdg-open").arg(&url).spawn();
                }
            })
            .map_err(|e| format!("cannot serve on {addr}: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Html { file, output } => {
            let m = model(&file, true)?;
            write_file(&output, |w| web::write_html(&m, &display_name(&file), w))?;
            eprintln!("spool-trace: wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Summary { file, top } => {
            let m = model(&file, false)?;
            let s = summary::Summary::new(&m, top);
            print!("{}", summary::render(&m, &s));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Pprof { kind, file, output } => {
            let m = model(&file, false)?;
            let kind = kind.profile();
            write_file(&output, |w| pprof::write(&m, kind, w))?;
            let (time, count) = m.profile_total(kind);
            eprintln!(
                "spool-trace: wrote {} ({} profile: {count} samples, {:.6} s total)",
                output.display(),
                kind.name(),
                time as f64 / 1e9
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Export {
            file,
            format,
            output,
        } => {
            let m = model(&file, true)?;
            let name = display_name(&file);
            write_file(&output, |w| match format {
                Format::ChromeJson => chrome::write(&m, &mut BufWriter::new(w)),
                Format::Perfetto => perfetto::write(&m, &name, w),
            })?;
            eprintln!("spool-trace: wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { file } => check(&file),
    }
}

fn check(file: &Path) -> Result<ExitCode, String> {
    let data = load(file)?;
    let name = file.display();
    let mut r = TraceReader::new(&data).map_err(|e| format!("{name}: {e}"))?;
    let mut o = Orderer::new();
    let (mut gens, mut events, mut warnings) = (0u64, 0u64, 0u64);
    while let Some(g) = r.next_generation_lazy() {
        gens += 1;
        for p in &g.problems {
            if p.is_warning() {
                warnings += 1;
                eprintln!("{name}: warning: {p}");
            } else {
                println!("{name}: invalid: {p}");
                return Ok(ExitCode::FAILURE);
            }
        }
        if let Err(e) = o.push_generation_lazy(&g, &data, |_| events += 1) {
            println!("{name}: invalid: {e}");
            return Ok(ExitCode::FAILURE);
        }
    }
    if let Some(stop) = r.stop() {
        if stop.unread_bytes == 0 {
            // Nothing was left unread: the file itself is the problem (empty).
            println!("{name}: invalid: {}", stop.error);
        } else {
            println!(
                "{name}: invalid: {} ({} of {} bytes could not be read)",
                stop.error,
                stop.unread_bytes,
                data.len()
            );
        }
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{name}: ok: go 1.{} trace, {gens} generation(s), {events} events{}",
        r.version().minor(),
        if warnings > 0 {
            format!(", {warnings} warning(s)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
