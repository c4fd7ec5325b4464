//! Go's four trace profiles against Go's own implementation: for real Go
//! traces (generated here by `benches/go/tracegen`: net/http under load, a
//! channel-heavy pipeline, blocking file and pipe I/O) and the Go fixture,
//! the totals of `spool-trace pprof --kind K` must equal those of
//! `go tool trace -pprof=K` within 1 %, both read back by `go tool pprof
//! -raw` (so the pprof file we write is also checked to open in Go's tool).
//! spool's own traces are checked the same way by the root crate's
//! `tests/trace_profiles.rs`.

#[path = "../../tests/common/go.rs"]
mod go;

use std::path::{Path, PathBuf};
use std::process::Command;

const KINDS: [&str; 4] = ["net", "sync", "syscall", "sched"];

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("profiles");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `benches/go/tracegen -workload W -trace OUT`.
fn go_trace(workload: &str) -> PathBuf {
    let out = out_dir().join(format!("go-{workload}.trace"));
    let generator = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/go");
    let res = Command::new(go::go_binary())
        .current_dir(&generator)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .args(["run", "./tracegen", "-workload", workload, "-trace"])
        .arg(&out)
        .output()
        .expect("running go run ./tracegen");
    assert!(
        res.status.success(),
        "go run ./tracegen -workload {workload} failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// `spool-trace pprof --kind K FILE -o OUT`, read back by `go tool pprof -raw`.
fn ours(trace: &Path, kind: &str) -> (u64, u64) {
    let pb = out_dir().join(format!(
        "{}-{kind}.pb.gz",
        trace.file_stem().unwrap().to_string_lossy()
    ));
    let res = Command::new(env!("CARGO_BIN_EXE_spool-trace"))
        .args(["pprof", "--kind", kind])
        .arg(trace)
        .arg("-o")
        .arg(&pb)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "spool-trace pprof failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    go::pprof_raw_total(&pb)
}

/// Compares every kind; returns Go's totals by kind.
fn compare(trace: &Path) -> Vec<u64> {
    KINDS
        .iter()
        .map(|kind| {
            let (want, _) = go::go_pprof_total(trace, kind);
            let (got, samples) = ours(trace, kind);
            let diff = got.abs_diff(want) as f64;
            assert!(
                diff <= want as f64 * 0.01,
                "{}: {kind} profile total {got} ns ({samples} samples), go tool trace says {want} ns",
                trace.display()
            );
            want
        })
        .collect()
}

#[test]
fn go_fixture_totals_match_go_tool_trace() {
    let t = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/go126.trace");
    let totals = compare(&t);
    assert!(
        totals[1] > 0 && totals[3] > 0,
        "fixture has sync and sched time: {totals:?}"
    );
}

#[test]
fn go_http_under_load_totals_match_go_tool_trace() {
    let totals = compare(&go_trace("http"));
    // Network waits, syscalls and scheduler latency must all be there, or the test proves nothing.
    assert!(
        totals[0] > 0 && totals[2] > 0 && totals[3] > 0,
        "{totals:?}"
    );
}

#[test]
fn go_channel_heavy_totals_match_go_tool_trace() {
    let totals = compare(&go_trace("chan"));
    assert!(totals[1] > 0 && totals[3] > 0, "{totals:?}");
}

#[test]
fn go_syscall_heavy_totals_match_go_tool_trace() {
    let totals = compare(&go_trace("syscall"));
    assert!(totals[2] > 0, "{totals:?}");
}
