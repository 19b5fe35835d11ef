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

fn command(b: &Boot) -> Command {
    let mut c = Command::new(QEMU);
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
        Accel::Tcg => c.args(["-accel", "tcg,thread=multi", "-cpu", "max"]),
    };
    c.args(["-smp", "2", "-m"])
        .arg(b.memory_mib.to_string())
        .arg("-kernel")
        .arg(&b.kernel)
        .arg("-initrd")
        .arg(&b.initrd)
        .arg("-append")
        .arg(&b.append)
        .args(["-serial", "stdio", "-serial"])
        .arg(format!("file:{}", b.data.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Boots the guest and reads its console until it powers off, panics, or prints nothing for
/// `silence`. `each` sees every line as it comes (progress on stderr).
pub fn run(b: &Boot, silence: Duration, mut each: impl FnMut(&str)) -> Result<Run, String> {
    let started = Instant::now();
    let mut guest = Guarded::spawn(&mut command(b)).map_err(|e| format!("{QEMU}: {e}"))?;
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
    loop {
        match rx.recv_timeout(silence) {
            Ok(line) => {
                each(&line);
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
            Err(mpsc::RecvTimeoutError::Timeout) => {
                stopped = Some(format!(
                    "the guest printed nothing for {} s",
                    silence.as_secs()
                ));
                break;
            }
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
    })
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
