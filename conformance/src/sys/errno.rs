//! Errno names, because traces predict errors by name (`"EEXIST"`), not by number.

use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;

/// The symbolic name of a Linux errno: `errno_name(17) == "EEXIST"`.
///
/// Names the errnos the replayer can meet; any other errno is `"E<number>"` (built once per
/// number and kept for the life of the process, so the result can stay `&'static str`).
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        other => unknown_errno_name(other),
    }
}

/// The host errno a model errno stands for: a replay compares return values by number.
pub fn errno_value(e: traces::Errno) -> i32 {
    match e {
        traces::Errno::EEXIST => libc::EEXIST,
        traces::Errno::ENOMEM => libc::ENOMEM,
        traces::Errno::ENOSPC => libc::ENOSPC,
    }
}

/// The errno name of an `io::Error` that came from a syscall, or `None` for a synthetic error.
pub fn error_name(error: &io::Error) -> Option<&'static str> {
    error.raw_os_error().map(errno_name)
}

fn unknown_errno_name(errno: i32) -> &'static str {
    static NAMES: Mutex<BTreeMap<i32, &'static str>> = Mutex::new(BTreeMap::new());
    let mut names = NAMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    names
        .entry(errno)
        .or_insert_with(|| Box::leak(format!("E{errno}").into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(errno_name(libc::EEXIST), "EEXIST");
        assert_eq!(errno_name(libc::EOPNOTSUPP), "EOPNOTSUPP");
        assert_eq!(errno_name(4000), "E4000");
        assert!(std::ptr::eq(errno_name(4000), errno_name(4000)));
        let e = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(error_name(&e), Some("ENOSPC"));
        assert_eq!(error_name(&io::Error::other("x")), None);
    }
}
