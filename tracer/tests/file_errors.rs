//! A trace file that cannot grow (a full disk, simulated with a file-size
//! limit in a child process): tracing stops with one message, `stop()`
//! reports the error, and the file is cut back to its last complete
//! generation, which Go's parser accepts.

#![cfg(target_os = "linux")] // setrlimit(RLIMIT_FSIZE) and SIGXFSZ

mod sim;

use std::process::Command;

use sim::{SimTask, go_parse, trace_path};
use spool_tracer::control::{self, TraceError};
use spool_tracer::hooks::{self, ProcTraceState, StopReason};

const CHILD_VAR: &str = "SPOOL_FILE_ERRORS_CHILD";
/// The child's file-size limit, in bytes (default [`LIMIT`]).
const LIMIT_VAR: &str = "SPOOL_FILE_ERRORS_LIMIT";
/// File-size limit for the child, in bytes: room for some generations.
const LIMIT: u64 = 40_000;
/// A limit that fits the 16-byte header and no generation.
const TINY_LIMIT: u64 = 64;

/// The child: limits its file size, traces into the file until writes fail.
fn child(path: &str) {
    let limit: u64 = std::env::var(LIMIT_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LIMIT);
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
    control::start_file(path).unwrap();
    let p = ProcTraceState::new();
    hooks::proc_start(0, &p);
    for _ in 0..200 {
        for _ in 0..50 {
            let t = SimTask::new("app::task");
            hooks::go_create(t.id, &t.trace, t.site);
            hooks::go_start(t.id, &t.trace, t.site);
            hooks::go_stop(StopReason::Yield);
            hooks::go_start(t.id, &t.trace, t.site);
            hooks::go_destroy();
        }
        let _ = control::flush();
    }
    hooks::proc_stop();
    match control::stop() {
        Err(e @ TraceError::Write { .. }) => {
            let TraceError::Write {
                complete_bytes,
                generations,
                ..
            } = e
            else {
                unreachable!()
            };
            println!("RESULT {complete_bytes} {generations}");
            println!("MESSAGE {e}");
        }
        other => panic!("expected a write error, got {other:?}"),
    }
}

/// Runs the test `name` as a child with `CHILD_VAR` set to `path` and the
/// given file-size limit; returns its stdout and stderr.
fn run_child(name: &str, path: &std::path::Path, limit: u64) -> (String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(CHILD_VAR, path)
        .env(LIMIT_VAR, limit.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed: {stderr}\n{stdout}");
    (stdout, stderr)
}

/// The disk fills before the first generation is complete: the file is
/// cut back to the bare header, and both the message on stderr and the
/// error `stop()` returns say plainly that nothing usable was written
/// (which Go's parser confirms: it rejects the file).
#[test]
fn full_file_before_the_first_generation_says_nothing_usable() {
    if let Ok(path) = std::env::var(CHILD_VAR) {
        child(&path);
        return;
    }
    let path = trace_path("file-limit-tiny");
    let (stdout, stderr) = run_child(
        "full_file_before_the_first_generation_says_nothing_usable",
        &path,
        TINY_LIMIT,
    );
    assert!(stdout.contains("RESULT 16 0"), "{stdout}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
    let msg = stderr
        .lines()
        .find(|l| l.contains("spool: tracing stopped"))
        .unwrap_or_else(|| panic!("no message in {stderr}"));
    assert!(msg.contains("nothing usable was written"), "{msg}");
    let err = stdout
        .lines()
        .find_map(|l| l.strip_prefix("MESSAGE "))
        .unwrap_or_else(|| panic!("no error in {stdout}"));
    assert!(err.contains("nothing usable was written"), "{err}");
    assert!(!err.contains("0 complete generation"), "{err}");
    let go = Command::new(sim::go_binary())
        .args(["tool", "trace", "-d=parsed"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!go.status.success(), "Go accepted a header-only trace");
}

#[test]
fn full_file_is_cut_back_to_complete_generations() {
    if let Ok(path) = std::env::var(CHILD_VAR) {
        child(&path);
        return;
    }
    let path = trace_path("file-limit");
    let (stdout, stderr) = run_child(
        "full_file_is_cut_back_to_complete_generations",
        &path,
        LIMIT,
    );
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no result line in: {stdout}"));
    let mut it = result.split(' ').map(|v| v.parse::<u64>().unwrap());
    let (complete, generations) = (it.next().unwrap(), it.next().unwrap());
    assert!(generations >= 1, "some generations fit in {LIMIT} bytes");
    assert!(complete <= LIMIT);
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(
        len, complete,
        "the file is cut back to its complete generations"
    );
    // Exactly one message about the failure.
    let msgs = stderr.matches("spool: tracing stopped").count();
    assert_eq!(msgs, 1, "{stderr}");
    let dump = go_parse(&path);
    // Go's parser reports a Sync at each generation's start and one at the end.
    assert_eq!(dump.matches(" Sync ").count() as u64, generations + 1);
}
