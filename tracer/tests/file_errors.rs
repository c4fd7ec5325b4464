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
/// File-size limit for the child, in bytes.
const LIMIT: u64 = 40_000;

/// The child: limits its file size, traces into the file until writes fail.
fn child(path: &str) {
    // SAFETY: plain libc calls with valid arguments; ignoring SIGXFSZ makes
    // writes past the limit fail with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: LIMIT as libc::rlim_t,
            rlim_max: LIMIT as libc::rlim_t,
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
        Err(TraceError::Write {
            complete_bytes,
            generations,
            ..
        }) => println!("RESULT {complete_bytes} {generations}"),
        other => panic!("expected a write error, got {other:?}"),
    }
}

#[test]
fn full_file_is_cut_back_to_complete_generations() {
    if let Ok(path) = std::env::var(CHILD_VAR) {
        child(&path);
        return;
    }
    let path = trace_path("file-limit");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "full_file_is_cut_back_to_complete_generations",
            "--nocapture",
        ])
        .env(CHILD_VAR, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}\n{stdout}");
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
