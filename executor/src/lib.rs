//! spool's work-stealing M:N scheduler of async tasks over Ps.
