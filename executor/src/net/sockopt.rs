//! Socket options std and mio do not expose (`SO_LINGER`), through libc.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// `SO_LINGER` of `fd`.
pub(crate) fn linger(fd: RawFd) -> io::Result<Option<Duration>> {
    let mut l = libc::linger {
        l_onoff: 0,
        l_linger: 0,
    };
    let mut len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: `l` and `len` are valid for writes and sized for SO_LINGER.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw mut l).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger as u64)))
}

/// Sets `SO_LINGER` of `fd` (whole seconds; `None` turns it off).
pub(crate) fn set_linger(fd: RawFd, dur: Option<Duration>) -> io::Result<()> {
    let l = libc::linger {
        l_onoff: dur.is_some() as libc::c_int,
        l_linger: dur.map_or(0, |d| {
            d.as_secs().min(libc::c_int::MAX as u64) as libc::c_int
        }),
    };
    // SAFETY: `l` is a valid SO_LINGER value for the duration of the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const l).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
