//! The `spool-trace` binary end to end: exit codes and one-line errors of
//! `check`, `summary`, `html`, `export` on good, truncated and non-trace files.
#![cfg(feature = "cli")]

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_spool-trace");

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/go126.trace")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spool-trace-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_a_go_trace() {
    let f = fixture();
    let (code, out, _) = run(&["check".as_ref(), f.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok: go 1.26 trace, 1 generation(s), 655 events"),
        "{out}"
    );
}

#[test]
fn check_rejects_truncated_with_offset() {
    let data = std::fs::read(fixture()).unwrap();
    let p = tmp("cut.trace");
    std::fs::write(&p, &data[..5000]).unwrap();
    let (code, out, _) = run(&["check".as_ref(), p.as_os_str()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("invalid: at byte ") && out.contains("could not be read"),
        "{out}"
    );
}

#[path = "../../tests/common/go.rs"]
mod go;

/// `go tool trace -d=parsed FILE`: (success, stderr).
fn go_verdict(path: &std::path::Path) -> (bool, String) {
    let out = Command::new(go::go_binary())
        .args(["tool", "trace", "-d=parsed"])
        .arg(path)
        .output()
        .expect("running go tool trace");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A file holding only the 16-byte header (a trace whose writes failed
/// before its first generation was complete): `check` agrees with Go's
/// parser on every version, an error saying the trace is empty for
/// 1.22-1.25 (Go: "no frequency event found"), an empty but valid trace for
/// 1.26; the viewing commands refuse the empty one the same way.
#[test]
fn a_header_only_file_is_judged_as_go_judges_it() {
    for (minor, go_accepts) in [(22, false), (23, false), (25, false), (26, true)] {
        let p = tmp(&format!("header-only-{minor}.trace"));
        std::fs::write(&p, format!("go 1.{minor} trace\0\0\0")).unwrap();
        let (go_ok, go_err) = go_verdict(&p);
        assert_eq!(go_ok, go_accepts, "go 1.{minor}: Go said {go_err}");
        let (code, out, _) = run(&["check".as_ref(), p.as_os_str()]);
        if go_accepts {
            assert_eq!(code, 0, "go 1.{minor}: {out}");
            assert!(out.contains("ok: go 1.26 trace, 0 generation(s)"), "{out}");
            continue;
        }
        assert!(go_err.contains("no frequency event found"), "{go_err}");
        assert_eq!(code, 1, "go 1.{minor}: {out}");
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.contains("invalid: at byte 16: the trace is empty")
                && out.contains("wrote nothing usable"),
            "{out}"
        );
        let (code, out, err) = run(&["summary".as_ref(), p.as_os_str()]);
        assert_eq!(code, 1, "summary of an empty trace: {out}");
        assert!(err.contains("the trace is empty"), "{err}");
    }
}

#[test]
fn non_trace_is_a_one_line_error() {
    let p = tmp("not.trace");
    std::fs::write(&p, b"PK\x03\x04 this is a zip file, not a trace").unwrap();
    for cmd in ["check", "summary"] {
        let (code, out, err) = run(&[cmd.as_ref(), p.as_os_str()]);
        assert_eq!(code, 1, "{cmd}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("not a Go execution trace"), "{err}");
    }
    let (code, _, err) = run(&["summary".as_ref(), tmp("missing.trace").as_os_str()]);
    assert_eq!(code, 1);
    assert!(err.starts_with("spool-trace: cannot read"), "{err}");
}

#[test]
fn summary_html_and_export_write_outputs() {
    let f = fixture();
    let (code, out, _) = run(&["summary".as_ref(), f.as_os_str()]);
    assert_eq!(code, 0);
    for want in [
        "Tasks by spawn site",
        "main.worker",
        "Stop-the-world",
        "User tasks",
        "sleeper",
        "work",
    ] {
        assert!(out.contains(want), "summary lacks {want}");
    }
    let html = tmp("out.html");
    let (code, _, err) = run(&[
        "html".as_ref(),
        f.as_os_str(),
        "-o".as_ref(),
        html.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("id=\"trace-data\"")
    );
    let json = tmp("out.json");
    let args = [
        "export".as_ref(),
        f.as_os_str(),
        "--format".as_ref(),
        "chrome-json".as_ref(),
        "-o".as_ref(),
        json.as_os_str(),
    ];
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v["traceEvents"].as_array().unwrap().len() > 100);
}

#[test]
fn serve_refuses_non_loopback() {
    let f = fixture();
    let (code, _, err) = run(&[
        "serve".as_ref(),
        f.as_os_str(),
        "--addr".as_ref(),
        "0.0.0.0:0".as_ref(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("only loopback"), "{err}");
}

/// Sends `GET path` to `addr` and returns the whole response.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn serve_prints_a_loopback_url_and_serves_the_page() {
    use std::io::BufRead;
    let f = fixture();
    let mut child = Command::new(BIN)
        .args(["serve".as_ref(), f.as_os_str()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let page = http_get(addr, "/");
    let missing = http_get(addr, "/etc/passwd");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        page.starts_with("HTTP/1.1 200"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("id=\"trace-data\"") && page.contains("go126.trace"));
    assert!(page.contains("Content-Security-Policy: default-src 'none'"));
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}
