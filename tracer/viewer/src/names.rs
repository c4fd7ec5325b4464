//! Display names: what a person reads for a task, a spawn site, a stack
//! frame and a P, shared by the web page, the summary and the exports.
//!
//! Rules:
//! - A spawn site reads "function file:line": the function without its
//!   crate/package path, generic arguments folded to `<…>`, Rust closure
//!   segments folded into a `{…}` mark after the enclosing function (so an
//!   `async` block spawned in `main` reads `main{…} demo.rs:83`, never a
//!   bare closure name); the file keeps its last two path components. A
//!   name longer than [`MAX_NAME`] characters is trimmed from the left.
//! - spool's runtime pseudo-task is "runtime"; the runtime pseudo-P is
//!   "runtime (no P)" and a foreign pseudo-P "thread N (no P)", N being the
//!   thread (M) that holds it ([`spool_trace_wire::ids`]).

use spool_trace_wire::ids::{FOREIGN_PROC_ID, RUNTIME_PROC_ID, RUNTIME_TASK_ID};

use crate::analysis::{Model, ProcRow};
use crate::read::NONE;

/// Longest name (in characters) before trimming from the left.
pub const MAX_NAME: usize = 56;

/// A function name without its path: `app::net::serve::{{closure}}` ->
/// `serve{…}`, `net/http.(*conn).serve` -> `http.(*conn).serve`,
/// `Vec<u8>::push` -> `Vec<…>::push`.
///
/// ```
/// use spool_trace::names::short_func;
/// assert_eq!(short_func("trace_demo::main::{{closure}}::{{closure}}"), "main{…}");
/// assert_eq!(short_func("app::Server::run::{{closure}}"), "Server::run{…}");
/// assert_eq!(short_func("net/http.(*conn).serve"), "http.(*conn).serve");
/// assert_eq!(short_func("main.worker"), "main.worker");
/// ```
pub fn short_func(func: &str) -> String {
    // Fold generic arguments: everything between the outermost < and its >.
    let mut folded = String::with_capacity(func.len());
    let mut depth = 0usize;
    for c in func.chars() {
        match c {
            '<' => {
                if depth == 0 {
                    folded.push_str("<…>");
                }
                depth += 1;
            }
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => folded.push(c),
            _ => {}
        }
    }
    if !folded.contains("::") {
        // Go: drop the import path before the last '/'.
        return folded.rsplit('/').next().unwrap_or(&folded).to_string();
    }
    let parts: Vec<&str> = folded.split("::").collect();
    let closure = parts
        .iter()
        .any(|p| p.starts_with("{{closure") || *p == "{closure#0}");
    let named: Vec<&str> = parts
        .into_iter()
        .filter(|p| !p.starts_with('{') && !p.is_empty())
        .collect();
    let keep = match named.as_slice() {
        [] => String::from("{closure}"),
        [one] => one.to_string(),
        // Keep a type before a method (`Server::run`), not a module (`app::run`).
        [.., ty, f] if ty.starts_with(|c: char| c.is_ascii_uppercase()) => format!("{ty}::{f}"),
        [.., f] => f.to_string(),
    };
    if closure { keep + "{…}" } else { keep }
}

/// The last two components of a path: `/src/app/net/server.rs` -> `net/server.rs`.
///
/// ```
/// assert_eq!(spool_trace::names::short_file("/a/b/c/main.go"), "c/main.go");
/// assert_eq!(spool_trace::names::short_file("main.rs"), "main.rs");
/// ```
pub fn short_file(file: &str) -> String {
    let parts: Vec<&str> = file.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [.., a, b] => format!("{a}/{b}"),
    }
}

/// Trims `s` from the left to at most `max` characters (marked with `…`).
///
/// ```
/// assert_eq!(spool_trace::names::trim_left("abcdef", 4), "…def");
/// assert_eq!(spool_trace::names::trim_left("abc", 4), "abc");
/// ```
pub fn trim_left(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let skip = n - max + 1;
    std::iter::once('…').chain(s.chars().skip(skip)).collect()
}

/// "function file:line" for a spawn-site label as the analysis stores it
/// (`func (file:line)` or `func`).
///
/// ```
/// use spool_trace::names::site_name;
/// assert_eq!(
///     site_name("trace_demo::main::{{closure}} (examples/trace_demo.rs:83)"),
///     "main{…} examples/trace_demo.rs:83"
/// );
/// assert_eq!(site_name("main.worker (/src/x/main.go:24)"), "main.worker x/main.go:24");
/// assert_eq!(site_name("runtime.spool"), "runtime.spool");
/// ```
pub fn site_name(label: &str) -> String {
    let (func, loc) = match label.rfind(" (") {
        Some(i) if label.ends_with(')') => (&label[..i], Some(&label[i + 2..label.len() - 1])),
        _ => (label, None),
    };
    let f = short_func(func);
    let name = match loc {
        Some(loc) => {
            let (file, line) = loc.rsplit_once(':').unwrap_or((loc, ""));
            let file = short_file(file);
            if line.is_empty() {
                format!("{f} {file}")
            } else {
                format!("{f} {file}:{line}")
            }
        }
        None => f,
    };
    trim_left(&name, MAX_NAME)
}

/// A site name with its file's directories dropped, for narrow labels:
/// `worker{…} examples/demo.rs:85` -> `worker{…} demo.rs:85`.
///
/// ```
/// assert_eq!(spool_trace::names::compact("worker{…} examples/demo.rs:85"), "worker{…} demo.rs:85");
/// assert_eq!(spool_trace::names::compact("runtime"), "runtime");
/// ```
pub fn compact(name: &str) -> String {
    match name.rsplit_once(' ') {
        Some((f, loc)) if loc.contains(':') => {
            format!("{f} {}", loc.rsplit('/').next().unwrap_or(loc))
        }
        _ => name.to_string(),
    }
}

/// Whether task id `id` is spool's runtime pseudo-task.
pub fn is_runtime_task(id: u64) -> bool {
    id == RUNTIME_TASK_ID
}

/// A task's name: "runtime" for the runtime pseudo-task, else `G<id>`
/// followed by its spawn site's name.
pub fn task_name(m: &Model, t: u32) -> String {
    let Some(task) = m.tasks.get(t as usize) else {
        return String::from("(no task)");
    };
    if is_runtime_task(task.id) {
        return String::from("runtime");
    }
    format!("G{} {}", task.id, site_name(m.str(task.site)))
}

/// A P row's name: `P3`, "runtime (no P)", or "thread N (no P)".
pub fn proc_name(p: &ProcRow) -> String {
    if p.id == RUNTIME_PROC_ID {
        String::from("runtime (no P)")
    } else if p.id >= FOREIGN_PROC_ID && p.id != NONE {
        let n = if p.m != NONE {
            p.m
        } else {
            p.id - FOREIGN_PROC_ID + 1
        };
        format!("thread {n} (no P)")
    } else {
        format!("P{}", p.id)
    }
}
