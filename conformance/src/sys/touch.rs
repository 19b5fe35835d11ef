//! A load or store that survives SIGBUS, the way the kernel's exception tables survive faults.
//!
//! A mapper touching a hole registered with userfaultfd and `UFFD_FEATURE_SIGBUS` gets SIGBUS
//! instead of a MISSING event; the replayer must record that and carry on. So the touch is two
//! tiny assembly functions whose faulting instruction and fixup address are known symbols, and a
//! process-wide SIGBUS handler that, when the faulting RIP is one of those instructions, moves RIP
//! to the fixup and puts "caught, at si_addr" in the return registers. Any other SIGBUS restores
//! the default action and re-raises, so real bugs still crash.

use std::fmt;
use std::io;
use std::sync::Once;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("sys::touch has fixup assembly for x86_64 only");

/// A touch raised SIGBUS; `addr` is the signal's `si_addr`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sigbus {
    /// The faulting address the kernel reported (`si_addr`).
    pub addr: usize,
}

impl fmt::Debug for Sigbus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sigbus {{ addr: {:#x} }}", self.addr)
    }
}

impl fmt::Display for Sigbus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIGBUS at {:#x}", self.addr)
    }
}

impl std::error::Error for Sigbus {}

// The sysv64 ABI returns a two-u64 struct in rax:rdx. Normal path: rdx = 0 ("no fault").
// After a caught SIGBUS the handler resumes at the fixup (the `ret`) with the result registers
// set: read returns (si_addr, 1); write returns (1, si_addr).
std::arch::global_asm!(
    ".pushsection .text.hugepunch_touch,\"ax\",@progbits",
    ".p2align 4",
    ".globl hugepunch_touch_read",
    ".hidden hugepunch_touch_read",
    ".type hugepunch_touch_read,@function",
    "hugepunch_touch_read:",
    "    xor edx, edx",
    ".globl hugepunch_touch_read_insn",
    ".hidden hugepunch_touch_read_insn",
    "hugepunch_touch_read_insn:",
    "    mov rax, qword ptr [rdi]",
    ".globl hugepunch_touch_read_fixup",
    ".hidden hugepunch_touch_read_fixup",
    "hugepunch_touch_read_fixup:",
    "    ret",
    ".size hugepunch_touch_read, .-hugepunch_touch_read",
    "",
    ".p2align 4",
    ".globl hugepunch_touch_write",
    ".hidden hugepunch_touch_write",
    ".type hugepunch_touch_write,@function",
    "hugepunch_touch_write:",
    "    xor eax, eax",
    "    xor edx, edx",
    ".globl hugepunch_touch_write_insn",
    ".hidden hugepunch_touch_write_insn",
    "hugepunch_touch_write_insn:",
    "    mov qword ptr [rdi], rsi",
    ".globl hugepunch_touch_write_fixup",
    ".hidden hugepunch_touch_write_fixup",
    "hugepunch_touch_write_fixup:",
    "    ret",
    ".size hugepunch_touch_write, .-hugepunch_touch_write",
    ".popsection",
);

#[repr(C)]
struct Pair {
    rax: u64,
    rdx: u64,
}

extern "sysv64" {
    fn hugepunch_touch_read(addr: usize) -> Pair;
    fn hugepunch_touch_write(addr: usize, value: u64) -> Pair;
    // Labels, not functions: only their addresses are used.
    fn hugepunch_touch_read_insn();
    fn hugepunch_touch_read_fixup();
    fn hugepunch_touch_write_insn();
    fn hugepunch_touch_write_fixup();
}

/// The address of an assembly label declared as a function.
fn label(f: unsafe extern "sysv64" fn()) -> usize {
    f as usize
}

/// Reads the u64 at `addr`; `Err(Sigbus)` if the load raised SIGBUS.
///
/// Installs the SIGBUS fixup handler on first use. A fault on a userfaultfd MISSING range blocks
/// here until the handler resolves it (UFFDIO_COPY or UFFDIO_WAKE). Other signals (SIGSEGV for an
/// unmapped address) are not caught.
///
/// # Safety
/// `addr` must be 8-byte aligned and lie in memory mapped for reading (it may fault: that is
/// the point) that no Rust reference points to, e.g. inside a live [`super::Mapping`].
pub unsafe fn read(addr: usize) -> Result<u64, Sigbus> {
    install_sigbus_fixup();
    // SAFETY: the caller guarantees `addr` is a readable aligned u64 outside Rust's aliasing
    // model; the assembly follows the sysv64 ABI and touches no other memory.
    let r = unsafe { hugepunch_touch_read(addr) };
    match r.rdx {
        0 => Ok(r.rax),
        _ => Err(Sigbus {
            addr: r.rax as usize,
        }),
    }
}

/// Writes `value` at `addr`; `Err(Sigbus)` if the store raised SIGBUS (nothing was written).
///
/// # Safety
/// `addr` must be 8-byte aligned and lie in memory mapped for writing that no Rust reference
/// points to, e.g. inside a live [`super::Mapping`].
pub unsafe fn write(addr: usize, value: u64) -> Result<(), Sigbus> {
    install_sigbus_fixup();
    // SAFETY: the caller guarantees `addr` is a writable aligned u64 outside Rust's aliasing
    // model; the assembly follows the sysv64 ABI and touches no other memory.
    let r = unsafe { hugepunch_touch_write(addr, value) };
    match r.rax {
        0 => Ok(()),
        _ => Err(Sigbus {
            addr: r.rdx as usize,
        }),
    }
}

/// Installs the process-wide SIGBUS handler that turns a SIGBUS on a touch instruction into an
/// `Err(Sigbus)`. Idempotent and cheap after the first call; touches call it themselves. Forked
/// children inherit it.
///
/// Replaces the previous SIGBUS disposition (Rust's std installs one for stack-overflow
/// reporting; on Linux stack overflow is SIGSEGV, so nothing is lost).
pub fn install_sigbus_fixup() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if let Err(e) = set_sigbus_action(
            sigbus_handler as *const () as usize,
            libc::SA_SIGINFO | libc::SA_ONSTACK,
        ) {
            panic!("sigaction(SIGBUS) failed: {e}");
        }
    });
}

fn set_sigbus_action(handler: usize, flags: i32) -> io::Result<()> {
    // SAFETY: sigaction is plain old data; all-zero is a valid value (empty mask, no flags).
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler;
    action.sa_flags = flags;
    // SAFETY: `action` is a valid sigaction whose handler is SIG_DFL or `sigbus_handler`, an
    // `extern "C"` function with the SA_SIGINFO signature that is async-signal-safe.
    let rc = unsafe { libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The SIGBUS handler. Async-signal-safe: it only reads the siginfo and edits the interrupted
/// context's registers, or calls sigaction and raise.
extern "C" fn sigbus_handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid siginfo and a valid ucontext
    // of the interrupted thread, which we may modify to change where it resumes.
    let (code, addr, uc) = unsafe {
        (
            (*info).si_code,
            (*info).si_addr() as usize,
            &mut *(ctx as *mut libc::ucontext_t),
        )
    };
    let gregs = &mut uc.uc_mcontext.gregs;
    let rip = gregs[libc::REG_RIP as usize] as usize;
    // si_code > 0: raised by the kernel for a fault, not sent with kill()/raise().
    if sig == libc::SIGBUS && code > 0 {
        let read_insn = label(hugepunch_touch_read_insn);
        let write_insn = label(hugepunch_touch_write_insn);
        if rip == read_insn {
            gregs[libc::REG_RIP as usize] = label(hugepunch_touch_read_fixup) as i64;
            gregs[libc::REG_RAX as usize] = addr as i64;
            gregs[libc::REG_RDX as usize] = 1;
            return;
        }
        if rip == write_insn {
            gregs[libc::REG_RIP as usize] = label(hugepunch_touch_write_fixup) as i64;
            gregs[libc::REG_RAX as usize] = 1;
            gregs[libc::REG_RDX as usize] = addr as i64;
            return;
        }
    }
    // Not ours: die of it as if no handler were installed. SIGBUS is blocked while we run, so the
    // raised signal is delivered (with the default action) as soon as the handler returns.
    let _ = set_sigbus_action(libc::SIG_DFL, 0);
    // SAFETY: raise is async-signal-safe.
    unsafe { libc::raise(libc::SIGBUS) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{fork_child, HugeFile, Mapping};

    /// A SIGBUS that is not on a touch instruction still kills the process (here a forked child,
    /// with core dumps off).
    /// A child about to die of SIGBUS on purpose leaves no core file.
    fn no_core_dump() {
        let _ = rustix::process::setrlimit(
            rustix::process::Resource::Core,
            rustix::process::Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        );
    }

    #[test]
    fn foreign_sigbus_still_kills() {
        if let Err(msg) = crate::sys::require_free_huge_pages(1) {
            panic!("{msg}");
        }
        let file = HugeFile::memfd("foreign_sigbus").unwrap();
        file.set_len_pages(1).unwrap();
        let map = Mapping::new(&file, 1).unwrap();
        file.set_len_pages(0).unwrap(); // the page is now past EOF: any access is SIGBUS
        assert!(map.touch_read(0).is_err(), "touch past EOF must be caught");
        let addr = map.page_addr(0);
        let past_eof = move |_| {
            no_core_dump();
            install_sigbus_fixup();
            // SAFETY: a deliberate access past EOF of a live shared mapping in this child, to
            // check that a SIGBUS outside the touch functions kills the process.
            let v = unsafe { std::ptr::read_volatile(addr as *const u64) };
            v as i32
        };
        // SAFETY: the child touches memory and exits: no stdio, env or shared Mutex.
        let mut child = unsafe { fork_child(past_eof) }.unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGBUS), "child status {status}");

        // SAFETY: the child touches memory and exits: no stdio, env or shared Mutex.
        let mut child = unsafe {
            fork_child(|_| {
                no_core_dump();
                install_sigbus_fixup();
                let me = rustix::process::getpid();
                let _ = rustix::process::kill_process(me, rustix::process::Signal::BUS);
                0
            })
        }
        .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGBUS),
            "kill(SIGBUS) status {status}"
        );
    }
}
