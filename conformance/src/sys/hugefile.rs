//! The hugetlbfs file the manager allocates and punches, addressed in huge pages.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{FallocateFlags, MemfdFlags, Mode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags};
use rustix::thread::UnshareFlags;

use super::process::{fork_child, recv_fd, send_fd};

/// The host's default huge page size in bytes (`Hugepagesize` in /proc/meminfo).
///
/// This is the page size of a `memfd_create(MFD_HUGETLB)` file and of a hugetlbfs mount without a
/// `pagesize=` option. [`HugeFile::page_size`] is the authoritative size of one file.
pub fn huge_page_size() -> io::Result<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("Hugepagesize:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<usize>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("/proc/meminfo has no Hugepagesize line"))
}

/// The open fd of a hugetlbfs file and its huge page size.
///
/// Every method takes huge page indices, not bytes, because the model counts pages. Errors keep
/// their errno (`io::Error::raw_os_error`, named by [`super::errno_name`]) since traces predict
/// syscall errors by name.
///
/// hugetlbfs supports `read(2)` but not `write(2)`: markers are written through a
/// [`super::Mapping`] and read back with [`HugeFile::read_marker`].
#[derive(Debug)]
pub struct HugeFile {
    fd: OwnedFd,
    page_size: usize,
}

impl HugeFile {
    /// A new, empty `memfd_create(name, MFD_HUGETLB | MFD_CLOEXEC)` file: the default backing,
    /// private to this process and its children, gone when the last fd and mapping go.
    pub fn memfd(name: &str) -> io::Result<HugeFile> {
        let fd = rustix::fs::memfd_create(name, MemfdFlags::HUGETLB | MemfdFlags::CLOEXEC)?;
        HugeFile::from_fd(fd)
    }

    /// A new, empty file `name` on a hugetlbfs mount that only exists in a private mount
    /// namespace, so the host's mount table never sees it.
    ///
    /// A short-lived forked child unshares its mount namespace, makes `/` recursively private
    /// (so nothing propagates back to the host), mounts hugetlbfs on a fresh temporary directory,
    /// creates and opens the file, sends the fd back over a socketpair (`SCM_RIGHTS`) and exits.
    /// The mount dies with the namespace; the fd keeps the superblock (and the file) alive until
    /// it is closed. The temporary directory is removed before this returns. Needs
    /// `CAP_SYS_ADMIN`.
    pub fn on_private_mount(name: &str) -> io::Result<HugeFile> {
        if name.is_empty() || name.contains('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("hugetlbfs file name {name:?} must be one non-empty path component"),
            ));
        }
        let dir = TempDir::create()?;
        let mount_point = dir.path().to_path_buf();
        let file_name = name.to_owned();
        // SAFETY: the child mounts, opens and sends an fd over its socket: no lock of the parent's threads.
        let mut child = unsafe {
            fork_child(
                move |stream| match mount_and_open(&mount_point, &file_name) {
                    Ok(fd) => match send_fd(&stream, fd.as_fd()) {
                        Ok(()) => 0,
                        Err(_) => 1,
                    },
                    Err(e) => {
                        let _ = io::Write::write_all(&mut &stream, e.to_string().as_bytes());
                        2
                    }
                },
            )
        }?;
        let received = recv_fd(child.stream());
        let status = child.wait()?;
        drop(dir);
        let fd = received.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("private hugetlbfs mount (child exited with {status}): {e}"),
            )
        })?;
        HugeFile::from_fd(fd)
    }

    /// Adopts an fd of a hugetlbfs file (one received with [`super::recv_fd`], say). Fails if the
    /// file is not on hugetlbfs.
    pub fn from_fd(fd: OwnedFd) -> io::Result<HugeFile> {
        const HUGETLBFS_MAGIC: u64 = 0x9584_58f6;
        let fs = rustix::fs::fstatfs(&fd)?;
        if fs.f_type as u64 != HUGETLBFS_MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a hugetlbfs file (f_type {:#x})", fs.f_type),
            ));
        }
        // On hugetlbfs st_blksize is the huge page size.
        let page_size = rustix::fs::fstat(&fd)?.st_blksize as usize;
        Ok(HugeFile { fd, page_size })
    }

    /// Another fd of the same open file (`dup`), for a thread that outlives the borrow.
    pub fn try_clone(&self) -> io::Result<HugeFile> {
        Ok(HugeFile {
            fd: self.fd.try_clone()?,
            page_size: self.page_size,
        })
    }

    /// The huge page size of this file in bytes (its `st_blksize`).
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    fn bytes(&self, pages: usize) -> u64 {
        (pages as u64) * (self.page_size as u64)
    }

    /// `fallocate(fd, 0, ...)`: allocate pages `[first, first + count)` into the page cache,
    /// extending the file if needed. Fails with ENOSPC when the pool has no free page.
    pub fn allocate(&self, first: usize, count: usize) -> io::Result<()> {
        let (offset, len) = (self.bytes(first), self.bytes(count));
        rustix::fs::fallocate(&self.fd, FallocateFlags::empty(), offset, len)?;
        Ok(())
    }

    /// `fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, ...)` over pages
    /// `[first, first + count)`: unmaps them from every mapping and frees them to the pool.
    pub fn punch_hole(&self, first: usize, count: usize) -> io::Result<()> {
        let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        rustix::fs::fallocate(&self.fd, flags, self.bytes(first), self.bytes(count))?;
        Ok(())
    }

    /// `ftruncate` to `pages` huge pages.
    pub fn set_len_pages(&self, pages: usize) -> io::Result<()> {
        rustix::fs::ftruncate(&self.fd, self.bytes(pages))?;
        Ok(())
    }

    /// The file's inode number (what tracepoints name it by).
    pub fn inode(&self) -> io::Result<u64> {
        Ok(rustix::fs::fstat(&self.fd)?.st_ino)
    }

    /// The file size in whole huge pages (`st_size / page_size`).
    pub fn len_pages(&self) -> io::Result<usize> {
        let stat = rustix::fs::fstat(&self.fd)?;
        Ok(stat.st_size as usize / self.page_size)
    }

    /// How many huge pages the file holds: `st_blocks / (page_size / 512)`.
    ///
    /// Exact on Linux 6.x: hugetlbfs charges `i_blocks` one whole huge page per page in the page
    /// cache, so holes do not count.
    pub fn pages_in_file(&self) -> io::Result<usize> {
        let stat = rustix::fs::fstat(&self.fd)?;
        Ok(stat.st_blocks as usize / (self.page_size / 512))
    }

    /// The first 8 bytes of `page` (native endian), read with `pread`.
    ///
    /// Reading a hole returns zeros without allocating a page, so a nonzero marker written into
    /// every page at allocation tells which pages are present. A page at or past the end of the
    /// file is an `UnexpectedEof` error.
    pub fn read_marker(&self, page: usize) -> io::Result<u64> {
        let mut buf = [0u8; 8];
        let mut filled = 0;
        while filled < buf.len() {
            let offset = self.bytes(page) + filled as u64;
            let n = rustix::io::pread(&self.fd, &mut buf[filled..], offset)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("page {page} is past the end of the hugetlbfs file"),
                ));
            }
            filled += n;
        }
        Ok(u64::from_ne_bytes(buf))
    }
}

impl AsFd for HugeFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// In the forked child: private mount namespace, hugetlbfs on `mount_point`, create `name`.
fn mount_and_open(mount_point: &Path, name: &str) -> io::Result<OwnedFd> {
    let step = |what: &str, e: rustix::io::Errno| {
        let e = io::Error::from(e);
        io::Error::new(e.kind(), format!("{what}: {e}"))
    };
    // SAFETY: unshare(CLONE_NEWNS) only detaches the mount namespace. The unsafety of
    // `unshare_unsafe` concerns CLONE_FILES (fds shared with other threads), which is not used,
    // and this runs in a freshly forked, single-threaded child.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS) }
        .map_err(|e| step("unshare(CLONE_NEWNS)", e))?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| step("mount --make-rprivate /", e))?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let options = CString::new("mode=0700").expect("no NUL");
    rustix::mount::mount(
        "hugepunch",
        mount_point,
        "hugetlbfs",
        flags,
        options.as_c_str(),
    )
    .map_err(|e| step(&format!("mount -t hugetlbfs {}", mount_point.display()), e))?;
    let oflags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
    rustix::fs::open(mount_point.join(name), oflags, Mode::from_raw_mode(0o600))
        .map_err(|e| step(&format!("create {name} on the private hugetlbfs"), e))
}

/// An empty directory in the temp dir, removed on drop (it is only ever a mount point inside a
/// private namespace, so from the host's side it stays empty).
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("hugepunch-mnt-{}-{n}", std::process::id()));
        std::fs::create_dir(&path)?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
