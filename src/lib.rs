//! spool: an M:N executor of goroutine-like async tasks with Go's execution
//! tracer built in. This crate re-exports the executor and tracer APIs.

pub use spool_tracer as tracer;
