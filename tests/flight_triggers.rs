//! The flight recorder's dumps to files and their triggers, each in a fresh
//! process (the recorder, its signal handler and `SPOOL_FLIGHT_RECORDER` are
//! process-wide): one dump per event, named `spool-<pid>-<n>-<cause>.trace`,
//! one stderr line each, valid traces; the SLO hook's rate limit; the
//! environment variables and their errors; a full disk during a dump.

#![cfg(target_os = "linux")] // setrlimit(RLIMIT_FSIZE), SIGUSR2

mod trace_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use spool::trace::flight::{self, Cause};
use spool::trace::{FlightRecorder, FlightRecorderConfig, Triggers};
use trace_support::go_parse;

/// Names the scenario a child process runs.
const CHILD: &str = "SPOOL_FLIGHT_TRIGGERS_CHILD";
/// The child's dump directory.
const DIR: &str = "SPOOL_FLIGHT_TRIGGERS_DIR";

/// A fresh directory for one scenario's dumps.
fn fresh_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("flight-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs scenario `name` in a child process with `env`; returns (success,
/// stdout, stderr).
fn run_child(name: &str, dir: &Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env(DIR, dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The text after `key` on the child's stdout line that has it (libtest
/// may print `test child ... ` before it on the same line).
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines().find_map(|l| l.split_once(key).map(|(_, v)| v))
}

/// The dumps in `dir`, sorted by name.
fn dumps_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    v.sort();
    v
}

/// Checks that `dir` holds exactly `n` dumps for `cause`, each named
/// `spool-<pid>-<k>-<cause>.trace` and valid, and that stderr names each
/// once with its cause.
fn expect_dumps(dir: &Path, stderr: &str, cause: &str, n: usize) {
    let dumps = dumps_in(dir);
    assert_eq!(
        dumps.len(),
        n,
        "dumps in {}: {dumps:?}\nstderr:\n{stderr}",
        dir.display()
    );
    for d in &dumps {
        let name = d.file_name().unwrap().to_str().unwrap();
        let parts: Vec<&str> = name.trim_end_matches(".trace").splitn(4, '-').collect();
        assert_eq!(parts.len(), 4, "{name}");
        assert_eq!(parts[0], "spool", "{name}");
        assert!(
            parts[1].parse::<u32>().is_ok() && parts[2].parse::<u64>().is_ok(),
            "{name}"
        );
        assert_eq!(parts[3], cause, "{name}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("spool: flight recorder: wrote") && l.contains(name))
            .collect();
        assert_eq!(lines.len(), 1, "stderr lines naming {name}:\n{stderr}");
        assert!(lines[0].contains(&format!("cause {cause}")), "{}", lines[0]);
        go_parse(d);
    }
}

// --- the child's side -------------------------------------------------------

/// Entry point of the child processes (does nothing in the parent's run:
/// it only acts with [`CHILD`] set).
#[test]
fn child() {
    let Ok(scenario) = std::env::var(CHILD) else {
        return;
    };
    let dir = PathBuf::from(std::env::var_os(DIR).unwrap());
    match scenario.as_str() {
        "explicit" => explicit(dir),
        "panic" => panics(dir),
        "slo" => slo(dir),
        "signal" => signal(dir),
        "no-signal" => no_signal(dir),
        "reports" => reports(dir),
        "deadlock" => deadlock(dir),
        "long-poll" => long_polls(dir),
        "env" => env_recorder(),
        "env-bad" => env_bad(),
        "full-disk" => full_disk(dir),
        other => panic!("unknown scenario {other}"),
    }
}

fn recorder(dir: PathBuf, triggers: Triggers, min_age: Duration) -> FlightRecorder {
    FlightRecorder::new(FlightRecorderConfig {
        min_age,
        max_bytes: 0,
        dump_dir: Some(dir),
        triggers,
    })
}

async fn work() {
    let hs: Vec<_> = (0..100)
        .map(|k| {
            spool::spawn(async move {
                spool::yield_now().await;
                k
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
}

/// Waits (at most 30 s) until `fr` finished `n` dumps and none is queued.
fn wait_dumps(fr: &FlightRecorder, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while fr.dumps() < n || fr.dumps_pending() > 0 {
        assert!(
            Instant::now() < deadline,
            "waited 30 s for {n} dumps ({} done)",
            fr.dumps()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn explicit(dir: PathBuf) {
    let rt = spool::Runtime::new().unwrap();
    let fr = recorder(dir, Triggers::default(), Duration::from_secs(1));
    rt.block_on(async {
        fr.start().unwrap();
        work().await;
        let path = fr.dump(Cause::Explicit).unwrap();
        println!("PATH {}", path.display());
        // Triggers not asked for write nothing.
        for c in [
            Cause::Panic,
            Cause::LongPoll,
            Cause::Deadlock,
            Cause::Signal,
            Cause::Slo,
        ] {
            assert!(!flight::trigger(c), "{c} triggered without being enabled");
        }
        assert!(!flight::dump_if(true));
    });
    fr.stop();
    assert_eq!(fr.dumps(), 1);
}

fn panics(dir: PathBuf) {
    let rt = spool::Runtime::new().unwrap();
    let fr = recorder(
        dir,
        Triggers {
            panic: true,
            ..Default::default()
        },
        Duration::from_secs(1),
    );
    rt.block_on(async {
        fr.start().unwrap();
        for i in 0..3 {
            work().await;
            let r = spool::spawn(async move {
                if i < 10 {
                    panic!("task {i} panics on purpose");
                }
            })
            .await;
            assert!(r.is_err());
            // One dump per panic: wait for this one before the next panic.
            wait_dumps(&fr, i + 1);
        }
    });
    fr.stop();
    assert_eq!(fr.dumps(), 3);
}

fn slo(dir: PathBuf) {
    let rt = spool::Runtime::new().unwrap();
    let fr = recorder(
        dir,
        Triggers {
            slo: true,
            ..Default::default()
        },
        Duration::from_secs(30),
    );
    rt.block_on(async {
        fr.start().unwrap();
        work().await;
        for _ in 0..3 {
            assert!(!flight::dump_if(false));
        }
        let queued = (0..5).filter(|_| flight::dump_if(true)).count();
        // One per min_age: the other misses fall in the same window.
        assert_eq!(queued, 1);
        wait_dumps(&fr, 1);
        assert!(!flight::dump_if(true));
    });
    fr.stop();
    assert_eq!(fr.dumps(), 1);
}

fn signal(dir: PathBuf) {
    let rt = spool::Runtime::new().unwrap();
    let fr = recorder(
        dir,
        Triggers {
            signal: true,
            ..Default::default()
        },
        Duration::from_secs(1),
    );
    rt.block_on(async {
        fr.start().unwrap();
        for i in 0..2 {
            work().await;
            // SAFETY: raise is async-signal-safe; the handler is installed.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
            wait_dumps(&fr, i + 1);
        }
    });
    fr.stop();
    assert_eq!(fr.dumps(), 2);
}

/// SIGUSR2's disposition, from sigaction.
fn sigusr2_handler() -> libc::sighandler_t {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new
    // action only reads the current one.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, std::ptr::null(), &mut old),
            0
        );
        old.sa_sigaction
    }
}

fn no_signal(dir: PathBuf) {
    let rt = spool::Runtime::new().unwrap();
    let fr = recorder(dir, Triggers::default(), Duration::from_secs(1));
    rt.block_on(async { fr.start().unwrap() });
    // Not asked for: no handler.
    assert_eq!(sigusr2_handler(), libc::SIG_DFL);
    fr.stop();
    let fr = recorder(
        std::env::temp_dir(),
        Triggers {
            signal: true,
            ..Default::default()
        },
        Duration::from_secs(1),
    );
    fr.start().unwrap();
    assert_ne!(sigusr2_handler(), libc::SIG_DFL);
    fr.stop();
}

fn reports(dir: PathBuf) {
    // sysmon's own long-poll reports (`long_polls`) would add dumps here.
    let rt = spool::Builder::new()
        .long_poll_threshold(Duration::from_secs(3600))
        .build()
        .unwrap();
    let fr = recorder(
        dir,
        Triggers {
            long_poll: true,
            deadlock: true,
            ..Default::default()
        },
        Duration::from_secs(1),
    );
    rt.block_on(async {
        fr.start().unwrap();
        work().await;
        assert!(flight::trigger(Cause::LongPoll));
        wait_dumps(&fr, 1);
        work().await;
        assert!(flight::trigger(Cause::Deadlock));
        wait_dumps(&fr, 2);
    });
    fr.stop();
    assert_eq!(fr.dumps(), 2);
}

/// A possible deadlock found by the runtime's detector: one dump, and no
/// more while the deadlock lasts.
fn deadlock(dir: PathBuf) {
    let rt = spool::Builder::new()
        .procs(2)
        .detect_deadlock(true)
        .on_deadlock(|_| {})
        .build()
        .unwrap();
    let fr = recorder(
        dir,
        Triggers {
            deadlock: true,
            ..Default::default()
        },
        Duration::from_secs(1),
    );
    fr.start().unwrap();
    rt.block_on(work());
    let (tx, rx) = spool::sync::chan::<u32>(0);
    let h = rt.spawn(async move { rx.recv().await });
    wait_dumps(&fr, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rt.handle().sched_stats().deadlock_reports, 1);
    drop(tx);
    assert_eq!(rt.block_on(h).unwrap(), None);
    fr.stop();
    assert_eq!(fr.dumps(), 1);
}

/// Two long polls reported by sysmon: one dump each, and no more.
fn long_polls(dir: PathBuf) {
    let rt = spool::Builder::new()
        .procs(2)
        .long_poll_threshold(Duration::from_millis(10))
        .build()
        .unwrap();
    let fr = recorder(
        dir,
        Triggers {
            long_poll: true,
            ..Default::default()
        },
        Duration::from_secs(1),
    );
    rt.block_on(async {
        fr.start().unwrap();
        for i in 1..=2 {
            work().await;
            // One poll that spins until sysmon has reported it (at least
            // 50 ms): a single long poll, however loaded the machine.
            let h = rt.handle().clone();
            spool::spawn(async move {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(50) || h.metrics().long_polls < i {
                    assert!(t.elapsed() < Duration::from_secs(20), "no report in 20 s");
                    std::hint::spin_loop();
                }
            })
            .await
            .unwrap();
            wait_dumps(&fr, i);
        }
    });
    // sysmon reported each poll once: no dump is on its way. (On a loaded
    // machine an M descheduled for 10 ms inside one of `work`'s polls is a
    // long poll too, so the count is "one dump per report", not "two".)
    std::thread::sleep(Duration::from_millis(100));
    let reports = rt.handle().metrics().long_polls;
    wait_dumps(&fr, reports);
    fr.stop();
    assert!(reports >= 2, "{reports} reports");
    assert_eq!(fr.dumps(), reports);
    println!("REPORTS {reports}");
}

fn env_recorder() {
    let rt = spool::Runtime::new().unwrap();
    let fr = flight::active().expect("SPOOL_FLIGHT_RECORDER started no recorder");
    assert_eq!(fr.config().max_bytes, 8 << 20);
    rt.block_on(async {
        work().await;
        assert!(flight::dump_if(true));
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while fr.dumps() < 1 {
        assert!(Instant::now() < deadline, "no dump in 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(rt);
    // The runtime that started it stopped it at shutdown.
    assert!(flight::active().is_none());
}

fn env_bad() {
    match spool::Runtime::new() {
        Ok(_) => panic!("built a runtime with a bad SPOOL_FLIGHT_RECORDER configuration"),
        Err(e) => println!("ERROR {e}"),
    }
}

fn full_disk(dir: PathBuf) {
    let rt = spool::Runtime::new().unwrap();
    let fr = recorder(dir, Triggers::default(), Duration::from_secs(30));
    let full = rt.block_on(async {
        fr.start().unwrap();
        for _ in 0..8 {
            work().await;
            spool::trace::flush().unwrap();
        }
        let mut v = Vec::new();
        fr.write_to(&mut v).unwrap();
        v.len() as u64
    });
    let limit = full / 2;
    // SAFETY: plain libc calls with valid arguments; ignoring SIGXFSZ makes
    // writes past the limit fail with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: limit as libc::rlim_t,
            rlim_max: limit as libc::rlim_t,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    let err = fr.dump(Cause::Explicit).unwrap_err();
    println!("ERROR {err}");
    println!("FULL {full}");
    // The recorder keeps running.
    assert!(fr.enabled());
    let mut v = Vec::new();
    rt.block_on(async {
        work().await;
        fr.write_to(&mut v).unwrap();
    });
    assert!(v.len() as u64 > 16);
    fr.stop();
}

// --- the parent's side ------------------------------------------------------

#[test]
fn an_explicit_dump_writes_one_named_file() {
    let dir = fresh_dir("explicit");
    let (ok, out, err) = run_child("explicit", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
    expect_dumps(&dir, &err, "explicit", 1);
    let path = field(&out, "PATH ").unwrap();
    assert_eq!(Path::new(path), dumps_in(&dir)[0]);
}

#[test]
fn each_task_panic_dumps_once() {
    let dir = fresh_dir("panic");
    let (ok, out, err) = run_child("panic", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
    expect_dumps(&dir, &err, "panic", 3);
}

#[test]
fn the_slo_hook_dumps_once_per_min_age() {
    let dir = fresh_dir("slo");
    let (ok, out, err) = run_child("slo", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
    expect_dumps(&dir, &err, "slo", 1);
}

#[test]
fn each_sigusr2_dumps_once() {
    let dir = fresh_dir("signal");
    let (ok, out, err) = run_child("signal", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
    expect_dumps(&dir, &err, "signal", 2);
}

#[test]
fn the_signal_handler_is_installed_only_when_asked() {
    let dir = fresh_dir("no-signal");
    let (ok, out, err) = run_child("no-signal", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
}

#[test]
fn the_deadlock_detector_dumps_once_per_report() {
    let dir = fresh_dir("deadlock");
    let (ok, out, err) = run_child("deadlock", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
    expect_dumps(&dir, &err, "deadlock", 1);
}

#[test]
fn long_poll_and_deadlock_reports_dump_once_each() {
    let dir = fresh_dir("reports");
    let (ok, out, err) = run_child("reports", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
    let dumps = dumps_in(&dir);
    assert_eq!(dumps.len(), 2, "{dumps:?}");
    let names: Vec<String> = dumps
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("-long-poll.trace")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.ends_with("-deadlock.trace")),
        "{names:?}"
    );
    for d in &dumps {
        go_parse(d);
    }
}

#[test]
fn each_long_poll_sysmon_reports_dumps_once() {
    let dir = fresh_dir("long-poll");
    let (ok, out, err) = run_child("long-poll", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
    let reports: usize = field(&out, "REPORTS ").unwrap().trim().parse().unwrap();
    expect_dumps(&dir, &err, "long-poll", reports);
}

#[test]
fn spool_flight_recorder_starts_one_at_runtime_start() {
    let dir = fresh_dir("env");
    let d = dir.to_str().unwrap();
    let (ok, out, err) = run_child(
        "env",
        &dir,
        &[
            (flight::ENV_DIR, d),
            (flight::ENV_BYTES, "8M"),
            (flight::ENV_TRIGGERS, "slo"),
        ],
    );
    assert!(ok, "child failed:\n{out}\n{err}");
    expect_dumps(&dir, &err, "slo", 1);
}

#[test]
fn bad_flight_recorder_variables_fail_the_runtime_build() {
    let dir = fresh_dir("env-bad");
    let d = dir.to_str().unwrap();
    /// The variables a child gets, and what its error must mention.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case<'_>; 4] = [
        (
            &[(flight::ENV_DIR, "/nonexistent/spool-flight")],
            &[
                "SPOOL_FLIGHT_RECORDER",
                "/nonexistent/spool-flight",
                "not writable",
            ],
        ),
        (
            &[(flight::ENV_DIR, d), (flight::ENV_BYTES, "1M")],
            &["below one generation"],
        ),
        (
            &[(flight::ENV_DIR, d), (flight::ENV_BYTES, "lots")],
            &["SPOOL_FLIGHT_RECORDER_BYTES", "lots"],
        ),
        (
            &[(flight::ENV_DIR, d), (flight::ENV_TRIGGERS, "panic,bogus")],
            &["SPOOL_FLIGHT_RECORDER_TRIGGERS", "bogus"],
        ),
    ];
    for (env, want) in cases {
        let (ok, out, err) = run_child("env-bad", &dir, env);
        assert!(ok, "child failed:\n{out}\n{err}");
        assert!(!err.contains("panicked at"), "{err}");
        let line = field(&out, "ERROR ").unwrap_or_default();
        for w in want {
            assert!(
                line.contains(w),
                "{env:?}: {line:?} lacks {w:?}\n{out}\n{err}"
            );
        }
    }
}

#[test]
fn a_full_disk_leaves_a_shorter_valid_dump_and_the_recorder_running() {
    let dir = fresh_dir("full-disk");
    let (ok, out, err) = run_child("full-disk", &dir, &[]);
    assert!(ok, "child failed:\n{out}\n{err}");
    let full: u64 = field(&out, "FULL ").unwrap().parse().unwrap();
    let dumps = dumps_in(&dir);
    assert_eq!(dumps.len(), 1, "{dumps:?}\n{err}");
    let len = std::fs::metadata(&dumps[0]).unwrap().len();
    assert!(
        len > 16 && len <= full / 2,
        "dump of {len} bytes (window {full})"
    );
    go_parse(&dumps[0]);
    let name = dumps[0].file_name().unwrap().to_string_lossy().into_owned();
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(&name)).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("failed") && lines[0].contains("keeps"),
        "{}",
        lines[0]
    );
}
