//! One qemu guest: started, its console streamed line by line, killed at the end whatever
//! happens (process group, parent-death signal, and on drop).

use super::console::{Marker, Transcript};
use crate::sys::guest::Guarded;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The qemu binary (Debian package qemu-system-x86).
pub const QEMU: &str = "qemu-system-x86_64";

/// How the guest's CPUs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    /// TCG with one host thread per vCPU.
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg,thread=multi",
        }
    }
}

/// A guest to boot.
#[derive(Clone, Debug)]
pub struct Boot {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub append: String,
    pub memory_mib: u64,
    /// NUMA nodes: 1, or 2 (one vCPU and half the memory each).
    pub numa_nodes: u8,
    pub accel: Accel,
    /// Where the guest's second serial port (the data channel) is written.
    pub data: PathBuf,
}

/// What came out of a guest.
#[derive(Debug)]
pub struct Run {
    pub transcript: Transcript,
    /// Every console line, for `--keep` and fixtures.
    pub console: Vec<String>,
    /// From qemu's start to the init's `start` marker.
    pub boot_s: Option<f64>,
    /// From the init's `start` marker to its `done` (or the end).
    pub replay_s: Option<f64>,
    /// Why the run ended early, if it did (guest silent too long, qemu's own error).
    pub stopped: Option<String>,
    /// The guest stopped printing and did not answer the sysrq keys either: the emulator or
    /// every vCPU is stuck, so the run shows nothing about the traces it did not finish.
    pub frozen: bool,
}

/// Checks qemu is installed: one clear line if not.
pub fn check_installed() -> Result<(), String> {
    match Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{QEMU} --version failed ({s})")),
        Err(e) => Err(format!("{QEMU}: {e} (apt-get install qemu-system-x86)")),
    }
}

/// qemu's niceness on the host, for its session's autogroup ([`Guarded::set_autogroup_nice`])
/// and its threads (`nice`; root only, otherwise qemu runs at 0 with a warning). A race
/// attempt needs the window touch's vCPU to run while the punch removes the padding, a few
/// ms. Measured with `hugepunch vm --bench` (README, "Race-window hit rates"): on a busy host
/// that vCPU was kept off its CPU for 3 to 23 ms (the touch's own spin clock,
/// `WindowMissed::stall_us`) in 14 of 80 attempts at load 5 and at nice 0; with the autogroup
/// at -20, 1 to 2 of 80 at load 12-13. (The threads' niceness alone did nothing there: with
/// `kernel.sched_autogroup_enabled` the host shares its CPUs between sessions first.) The
/// guest idles between replays, so it takes the host's CPUs only while it replays.
pub const NICE: i32 = -20;

/// The guest's CPU under TCG. `-erms`: without "enhanced rep movsb/stosb" the guest kernel
/// zeroes pages with `rep stosq` instead of `rep stosb`, which TCG runs about 8 times fewer
/// iterations of: zeroing a replay's file (2048 padding pages) took a race attempt about 7 s
/// longer with it. Nothing the replay observes depends on how a page is zeroed.
const TCG_CPU: &str = "max,-erms";

fn command(b: &Boot) -> Command {
    let mut c = Command::new("nice");
    c.args(["-n", &NICE.to_string(), QEMU]);
    c.args([
        "-nodefaults",
        "-no-reboot",
        "-display",
        "none",
        "-monitor",
        "none",
    ]);
    match b.accel {
        Accel::Kvm => c.args(["-accel", "kvm", "-cpu", "host"]),
        Accel::Tcg => c.args(["-accel", "tcg,thread=multi", "-cpu", TCG_CPU]),
    };
    c.args(["-smp", "2", "-m"])
        .arg(b.memory_mib.to_string())
        .args(numa_args(b.numa_nodes, b.memory_mib))
        .arg("-kernel")
        .arg(&b.kernel)
        .arg("-initrd")
        .arg(&b.initrd)
        .arg("-append")
        .arg(&b.append)
        // The console multiplexed on stdio: `C-a b` on stdin sends a break on the serial line,
        // which the guest's kernel reads as magic sysrq (see `SYSRQ_ON_SILENCE`).
        .args([
            "-chardev",
            "stdio,id=console,mux=on,signal=off",
            "-serial",
            "chardev:console",
            "-serial",
        ])
        .arg(format!("file:{}", b.data.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// qemu's arguments for `nodes` NUMA nodes sharing `memory_mib` and the 2 vCPUs: a RAM backend
/// and a `-numa node` each, vCPU `n` on node `n`. One node: none (qemu's default topology).
pub fn numa_args(nodes: u8, memory_mib: u64) -> Vec<String> {
    if nodes <= 1 {
        return Vec::new();
    }
    assert_eq!(nodes, 2, "2 vCPUs: one node each");
    let each = memory_mib / u64::from(nodes);
    let mut a = Vec::new();
    for n in 0..nodes {
        a.push("-object".to_string());
        a.push(format!("memory-backend-ram,id=ram{n},size={each}M"));
        a.push("-numa".to_string());
        a.push(format!("node,nodeid={n},cpus={n},memdev=ram{n}"));
    }
    a
}

/// The kernel parameter that fills the pool at boot: `hugepages=N`, or with several nodes
/// `hugepages=0:N,1:N` (Linux 5.16+, b5389086ad7b; an older kernel reads it as 0 pages, and the
/// init then fills each node's pool through sysfs).
pub fn hugepages_param(nodes: u8, pages_per_node: u64) -> String {
    if nodes <= 1 {
        return format!("hugepages={pages_per_node}");
    }
    let each: Vec<String> = (0..nodes)
        .map(|n| format!("{n}:{pages_per_node}"))
        .collect();
    format!("hugepages={}", each.join(","))
}

/// What a guest that has printed nothing for the silence time is sent before it is given up
/// on: a break on the serial line and a sysrq key, each (`C-a b` is qemu's mux escape for a
/// break): the backtraces of the CPUs that are running (`l`), the blocked tasks (`w`) and
/// every task (`t`). A kernel that is alive prints them; a guest that is frozen (qemu, or every
/// vCPU stuck with interrupts off) prints nothing, and the report says which.
const SYSRQ_ON_SILENCE: &[u8] = b"\x01bl\x01bw\x01bt";

/// How long a silent guest has, after the sysrq keys, to print their dumps.
const SYSRQ_GRACE: Duration = Duration::from_secs(60);

/// Boots the guest and reads its console until it powers off, panics, or prints nothing for
/// `silence` (then the sysrq keys above, and it is stopped). `each` sees every line as it
/// comes (progress on stderr).
pub fn run(b: &Boot, silence: Duration, mut each: impl FnMut(&str)) -> Result<Run, String> {
    let started = Instant::now();
    let mut guest = Guarded::spawn(&mut command(b)).map_err(|e| format!("{QEMU}: {e}"))?;
    if let Err(e) = guest.set_autogroup_nice(NICE) {
        eprintln!("hugepunch vm: qemu's autogroup stays at nice 0 ({e}): race windows will be missed more often on a busy host");
    }
    let mut keys = guest.child().stdin.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = guest.child().stdout.take().expect("piped");
    let stderr = guest.child().stderr.take().expect("piped");
    let tx2 = tx.clone();
    let readers = [
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
                let _ = tx.send(
                    String::from_utf8_lossy(&l)
                        .trim_end_matches('\r')
                        .to_string(),
                );
            }
        }),
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("qemu: {l}"));
            }
        }),
    ];
    let mut t = Transcript::default();
    let mut console = Vec::new();
    let (mut booted, mut done) = (None, None);
    let mut stopped = None;
    let mut frozen = false;
    // Set once the silent guest was sent the sysrq keys: when, and the console lines by then.
    let mut poked: Option<(Instant, usize)> = None;
    loop {
        let wait = match poked {
            None => silence,
            Some((at, _)) => SYSRQ_GRACE.saturating_sub(at.elapsed()),
        };
        match rx.recv_timeout(wait) {
            Ok(line) => {
                each(&line);
                // The init speaking again: the guest was slow, not stuck.
                if line.starts_with("@@hugepunch-vm ") {
                    poked = None;
                }
                match t.feed(&line) {
                    Some(Marker::Start(_)) => booted = Some(started.elapsed()),
                    Some(Marker::Done) => done = Some(started.elapsed()),
                    _ => {}
                }
                if line.starts_with("qemu: ") && line.contains("KVM internal error") {
                    stopped = Some(line.clone());
                    console.push(line);
                    break;
                }
                console.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => match poked {
                None => {
                    use std::io::Write as _;
                    let sent = keys.write_all(SYSRQ_ON_SILENCE).and_then(|()| keys.flush());
                    if let Err(e) = sent {
                        stopped = Some(format!(
                            "the guest printed nothing for {} s (the sysrq keys could not be \
                             sent: {e})",
                            silence.as_secs()
                        ));
                        break;
                    }
                    poked = Some((Instant::now(), console.len()));
                }
                Some((_, before)) => {
                    let dumped = console.len() - before;
                    frozen = dumped == 0;
                    stopped = Some(silent_guest(silence, dumped));
                    break;
                }
            },
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    guest.kill();
    for r in readers {
        let _ = r.join();
    }
    t.finish();
    let end = done.unwrap_or_else(|| started.elapsed());
    Ok(Run {
        transcript: t,
        console,
        boot_s: booted.map(|d| d.as_secs_f64()),
        replay_s: booted.map(|d| (end - d).as_secs_f64()),
        stopped,
        frozen,
    })
}

/// Why a silent guest was stopped, and what the sysrq keys it was sent made it print.
fn silent_guest(silence: Duration, dumped: usize) -> String {
    let s = silence.as_secs();
    if dumped == 0 {
        format!(
            "the guest printed nothing for {s} s, nor for {} s after a sysrq break (l, w, t): \
             the guest as a whole is stuck (every vCPU, or qemu), not a task",
            SYSRQ_GRACE.as_secs()
        )
    } else {
        format!(
            "the guest printed nothing for {s} s; a sysrq break (l, w, t) then printed {dumped} \
             console lines (its kernel was alive: the CPUs' backtraces and the tasks are in the \
             console, `--keep`)"
        )
    }
}

/// KVM when `/dev/kvm` is there and a short probe boot reaches the init, else TCG.
pub fn pick_accel(kernel: &Path, initrd: &Path, work: &Path) -> Accel {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return Accel::Tcg;
    }
    let probe = Boot {
        kernel: kernel.into(),
        initrd: initrd.into(),
        append: "console=ttyS0 panic=-1 -- probe".into(),
        memory_mib: 512,
        numa_nodes: 1,
        accel: Accel::Kvm,
        data: work.join("probe.data"),
    };
    let ok = run(&probe, Duration::from_secs(30), |_| {})
        .map(|r| r.transcript.probe_ok)
        .unwrap_or(false);
    let _ = std::fs::remove_file(work.join("probe.data"));
    if ok {
        Accel::Kvm
    } else {
        eprintln!("hugepunch vm: a KVM probe boot did not reach the init; using TCG");
        Accel::Tcg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_nodes_split_memory_and_cpus() {
        assert_eq!(
            numa_args(2, 6144),
            [
                "-object",
                "memory-backend-ram,id=ram0,size=3072M",
                "-numa",
                "node,nodeid=0,cpus=0,memdev=ram0",
                "-object",
                "memory-backend-ram,id=ram1,size=3072M",
                "-numa",
                "node,nodeid=1,cpus=1,memdev=ram1",
            ]
        );
        assert!(numa_args(1, 6144).is_empty());
    }

    #[test]
    fn hugepages_per_node() {
        assert_eq!(hugepages_param(1, 1040), "hugepages=1040");
        assert_eq!(hugepages_param(2, 1040), "hugepages=0:1040,1:1040");
    }

    /// The NUMA arguments reach qemu's command line, after `-m`.
    #[test]
    fn command_has_the_nodes() {
        let b = Boot {
            kernel: "k".into(),
            initrd: "i".into(),
            append: hugepages_param(2, 10),
            memory_mib: 4096,
            numa_nodes: 2,
            accel: Accel::Tcg,
            data: "d".into(),
        };
        let args: Vec<String> = command(&b)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&args[..3], ["-n", "-20", QEMU]);
        let cpu = args.iter().position(|a| a == "-cpu").unwrap();
        assert_eq!(args[cpu + 1], "max,-erms");
        let m = args.iter().position(|a| a == "-m").unwrap();
        assert_eq!(args[m + 1], "4096");
        assert_eq!(args[m + 2], "-object");
        assert_eq!(args[m + 3], "memory-backend-ram,id=ram0,size=2048M");
        assert_eq!(args.iter().filter(|a| *a == "-numa").count(), 2);
        assert!(args.contains(&"hugepages=0:10,1:10".to_string()));
    }
}
