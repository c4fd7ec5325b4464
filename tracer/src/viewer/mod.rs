//! The `spool-trace` viewer's library half (feature `viewer`): trace
//! analysis ([`analysis`]), the terminal summary ([`summary`]), the Chrome
//! Trace Event export ([`chrome`]) and the web UI ([`web`]: self-contained
//! HTML and the loopback server).
//!
//! Invariant: everything here reads traces only through
//! [`crate::read`], and never panics on a bad file.

pub mod analysis;
pub mod chrome;
pub mod summary;
pub mod web;
