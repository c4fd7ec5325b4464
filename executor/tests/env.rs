//! `SPOOL_PROCS`: valid values set the number of Ps; invalid ones make
//! `build()` fail with a message naming the variable and the value.
//!
//! One test per file: the environment is process-wide.

use spool_executor::Builder;

#[test]
fn spool_procs_env() {
    // SAFETY: `set_var` is sound while no other thread reads or writes the
    // environment: this binary runs this single test, no other thread
    // reads the environment meanwhile.
    let set = |v: &str| unsafe { std::env::set_var("SPOOL_PROCS", v) };
    set("3");
    assert_eq!(Builder::new().build().unwrap().handle().procs(), 3);
    // An explicit `procs` wins over a valid variable.
    assert_eq!(Builder::new().procs(1).build().unwrap().handle().procs(), 1);
    for bad in ["0", "abc", "-2", "1025", "99999999999999999999999", ""] {
        set(bad);
        let err = Builder::new()
            .build()
            .err()
            .unwrap_or_else(|| panic!("SPOOL_PROCS={bad:?} accepted"));
        let msg = err.to_string();
        assert!(msg.contains("SPOOL_PROCS"), "{msg}");
        assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        // Also when `procs` is given: a typo in the variable is never ignored.
        assert!(Builder::new().procs(2).build().is_err());
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var("SPOOL_PROCS") };
    assert!(
        Builder::new()
            .procs(0)
            .build()
            .unwrap_err()
            .to_string()
            .contains("procs(0)")
    );
    assert!(Builder::new().procs(5000).build().is_err());
    assert!(Builder::new().build().unwrap().handle().procs() >= 1);
}
