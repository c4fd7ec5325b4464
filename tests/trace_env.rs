//! `SPOOL_TRACE` and bad writers: the trace file is complete at runtime
//! shutdown, also when `main` panics out of `block_on`; a failing writer
//! stops tracing with one message, `stop()` reports it, and the bytes up to
//! the last complete generation form a valid trace.
//!
//! The `SPOOL_TRACE` cases run this test binary again as a child process
//! (selected by `CHILD_VAR`), because the variable is read when a runtime is
//! built and the panic case must end the child's test.

mod trace_support;

use std::io::{self, Write};
use std::process::Command;
use std::sync::{Arc, Mutex};

use trace_support::{go_parse, read_timeline, serial, trace_path};

const CHILD_VAR: &str = "SPOOL_TRACE_TEST_CHILD";
const TASKS: usize = 500;

/// The child's workload: a runtime built with `SPOOL_TRACE` set, `TASKS`
/// spawned tasks, then a normal return or a panic out of `block_on`.
fn child(mode: &str) {
    let rt = spool::Builder::new().procs(2).build().unwrap();
    rt.block_on(async {
        let hs: Vec<_> = (0..TASKS).map(|i| spool::spawn(async move { i })).collect();
        for h in hs {
            h.await.unwrap();
        }
        if mode == "panic" {
            panic!("main panics out of block_on (expected by the test)");
        }
    });
}

fn run_child(mode: &str, trace: &std::path::Path) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "spool_trace_env_var",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SPOOL_TRACE", trace)
        .env(CHILD_VAR, mode)
        .output()
        .unwrap()
}

#[test]
fn spool_trace_env_var() {
    if let Ok(mode) = std::env::var(CHILD_VAR) {
        child(&mode);
        return;
    }
    for mode in ["clean", "panic"] {
        let path = trace_path(&format!("env-{mode}"));
        let out = run_child(mode, &path);
        assert_eq!(
            out.status.success(),
            mode == "clean",
            "child ({mode}) status {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let t = read_timeline(&path);
        let c = t.check();
        // The spawned tasks and the block_on main task, all created and
        // destroyed (the panicking main task unwinds out of its poll).
        assert_eq!(c.creates, TASKS + 1, "{mode}: {c:?}");
        assert!(c.destroys >= TASKS, "{mode}: {c:?}");
        go_parse(&path);
    }
    // An unusable path: one message naming the variable, the program runs on.
    let bad = std::path::Path::new("/nonexistent-spool-dir/x.trace");
    let out = run_child("clean", bad);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let msgs: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("SPOOL_TRACE="))
        .collect();
    assert_eq!(msgs.len(), 1, "{stderr}");
    assert!(
        msgs[0].contains("/nonexistent-spool-dir/x.trace"),
        "{stderr}"
    );
}

/// Accepts `limit` bytes, then fails every write (like a full disk).
struct FailAfter {
    buf: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl Write for FailAfter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut buf = self.buf.lock().unwrap();
        let room = self.limit.saturating_sub(buf.len());
        if room == 0 {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "disk full (test)",
            ));
        }
        let n = room.min(data.len());
        buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn failing_writer_stops_tracing_and_keeps_complete_generations() {
    let _s = serial();
    let rt = spool::Builder::new().procs(2).build().unwrap();
    let buf = Arc::new(Mutex::new(Vec::new()));
    let w = FailAfter {
        buf: buf.clone(),
        limit: 20_000,
    };
    let err = rt.block_on(async {
        spool::trace::start(w).unwrap();
        // Generations of a few KB each until the writer fails; the program
        // keeps running after tracing stopped.
        for _ in 0..40 {
            let hs: Vec<_> = (0..100).map(|i| spool::spawn(async move { i })).collect();
            for h in hs {
                h.await.unwrap();
            }
            let _ = spool::trace::flush();
        }
        assert!(
            !spool::trace::is_tracing(),
            "tracing stops after a write error"
        );
        spool::trace::stop().unwrap_err()
    });
    let spool::trace::TraceError::Write {
        source,
        complete_bytes,
        generations,
    } = err
    else {
        panic!("expected a write error, got {err:?}");
    };
    assert_eq!(source.kind(), io::ErrorKind::StorageFull);
    assert!(generations >= 1, "some generations fit in 20 KB");
    let bytes = buf.lock().unwrap().clone();
    assert!(complete_bytes as usize <= bytes.len());
    let path = trace_path("failing-writer");
    std::fs::write(&path, &bytes[..complete_bytes as usize]).unwrap();
    let t = read_timeline(&path);
    assert_eq!(t.generations as u64, generations);
    t.check();
    go_parse(&path);
    // Tracing can start again afterwards.
    spool::trace::start(io::sink()).unwrap();
    spool::trace::stop().unwrap();
}
