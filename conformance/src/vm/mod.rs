//! `hugepunch vm`: replays the corpus in a qemu guest running any kernel: a bzImage, a Debian
//! kernel, or a mutant built from Debian's `linux-source-6.1` with the 4.5 fix taken out.
//!
//! The guest boots an initramfs hugepunch writes itself ([`initramfs`]) whose init replays
//! each trace with `hugepunch replay --json`, one process per trace, so that a kernel that
//! oopses, BUGs or hangs on one trace is a verdict for that trace ([`console`]) and the others
//! still run. Kernels are downloaded ([`debian`]) or built ([`build`]) into `<work>/kernels/`;
//! the guest's files live in `<work>/vm/`, removed afterwards unless `keep`.

pub mod build;
pub mod console;
pub mod debian;
pub mod hitrate;
pub mod initramfs;
pub mod kernels;
pub mod qemu;
pub mod report;
pub mod stacks;

use crate::aim::Padding;
use crate::host;
use crate::replay::Options;
use console::parse_data;
use kernels::Kernel;
use qemu::{Accel, Boot};
use report::{conclude, trace_entry, GuestInfo, VmReport};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why `hugepunch vm` could not give a report.
#[derive(Debug)]
pub enum VmError {
    /// Bad input or a missing tool or download: exit 2.
    Input(String),
    /// The guest could not be run: exit 1.
    Guest(String),
}

/// How to run the guest.
#[derive(Clone, Debug)]
pub struct VmOptions {
    /// `target/` by default: kernels, apt state and guest files all go below it.
    pub work: PathBuf,
    pub corpus: PathBuf,
    pub attempts: u32,
    /// A replay not finished after this long is a hang.
    pub hang_secs: u64,
    /// `None`: KVM if a probe boot works, else TCG.
    pub accel: Option<Accel>,
    /// Keep the initramfs, the data channel and the console log under `<work>/vm/`.
    pub keep: bool,
    /// Copy each console line to stderr as it comes.
    pub stream: bool,
    /// NUMA nodes of the guest (1 or 2); `None`: 2 when the corpus has a trace with a migrator
    /// (its `move_pages` needs a node to move the page to), else 1.
    pub numa_nodes: Option<u8>,
    /// A fixed window delay for the guest's replays instead of the measured aim.
    pub window_delay_us: Option<u64>,
    /// The guests' race window in time: their padding sized from their own punch speed
    /// ([`Padding::Window`], at most [`guest_padding_max`] pages); `None`: the replay's
    /// default fixed padding.
    pub window_us: Option<u64>,
}

/// The most padding pages a guest's replay may use: the pool holds the file twice
/// ([`crate::replay::pages_needed`]) and the guest's memory the pool on each node, so one node
/// with 2048 has about 10 GiB, and two nodes get half each for about the same.
pub fn guest_padding_max(numa_nodes: u8) -> usize {
    if numa_nodes > 1 {
        1024
    } else {
        2048
    }
}

/// Downloads or builds the kernel if needed, boots it and replays the corpus.
pub fn run(kernel_arg: &str, o: &VmOptions) -> Result<VmReport, VmError> {
    // apt reads relative Dir:: paths against `/`
    let work = std::path::absolute(&o.work)
        .map_err(|e| VmError::Input(format!("{}: {e}", o.work.display())))?;
    let o = &VmOptions { work, ..o.clone() };
    let kernel = Kernel::parse(kernel_arg).map_err(VmError::Input)?;
    qemu::check_installed().map_err(VmError::Input)?;
    let files = host::corpus_files(&o.corpus).map_err(|e| VmError::Input(e.to_string()))?;
    let all = host::load_all(&files).map_err(|e| VmError::Input(e.to_string()))?;
    // A guest replays hang traces (a hang there is a result); what the guest cannot drive (a
    // migrator in a one-node guest) is listed as refused, and its variant is not claimed.
    let guest_opts = Options {
        allow_hang: true,
        ..Options::default()
    };
    let numa_nodes =
        o.numa_nodes
            .unwrap_or(if all.iter().any(|(_, t)| t.meta.config.migrators > 0) {
                2
            } else {
                1
            });
    if !(1..=2).contains(&numa_nodes) {
        return Err(VmError::Input(format!(
            "--numa {numa_nodes}: a guest has 1 or 2 NUMA nodes (2 vCPUs, one a node)"
        )));
    }
    // What the guest's nodes will hold: each node the whole pool (below), free at the start.
    let guest_pools = Ok((0..numa_nodes)
        .map(|node| crate::sys::numa::NodePool {
            node: u32::from(node),
            total: 1,
            free: 1,
        })
        .collect::<Vec<_>>());
    let refusal = |t: &traces::Trace| crate::replay::refusal_on(t, &guest_opts, &guest_pools);
    let (loaded, refused): (Vec<_>, Vec<_>) =
        all.iter().cloned().partition(|(_, t)| refusal(t).is_none());
    // Traces that predict a deadlock run last: a kernel that deadlocks keeps the stuck
    // threads' locks (a fault-mutex slot every file shares), the init stops there, and every
    // other trace has had its verdict.
    let (hang, rest): (Vec<_>, Vec<_>) = loaded.iter().partition(|(_, t)| t.meta.predicts_hang());
    let files: Vec<PathBuf> = rest.iter().chain(&hang).map(|(p, _)| p.clone()).collect();
    let refused: Vec<String> = refused
        .iter()
        .filter_map(|(p, t)| {
            let why = refusal(t)?;
            Some(format!("{}: {why}", p.file_name()?.to_string_lossy()))
        })
        .collect();
    let image = kernel.image(&o.work).map_err(VmError::Input)?;
    let padding = match o.window_us {
        Some(window_us) => Padding::Window {
            window_us,
            max: guest_padding_max(numa_nodes),
        },
        None => Options::default().padding,
    };
    let replay_opts = Options {
        attempts: o.attempts,
        padding,
        ..Options::default()
    };
    let pool = host::pages_for(&loaded, &replay_opts) + 8;
    let hugepunch = std::env::current_exe()
        .map_err(|e| VmError::Guest(format!("the hugepunch binary: {e}")))?;
    let dir = o.work.join("vm").join(sanitize(&kernel.name()));
    std::fs::create_dir_all(&dir).map_err(|e| VmError::Guest(format!("{}: {e}", dir.display())))?;
    let cleanup = Cleanup {
        dir: dir.clone(),
        keep: o.keep,
    };
    let initrd = dir.join("initramfs.cpio");
    let init = initramfs::InitParams {
        attempts: o.attempts,
        hang_secs: o.hang_secs,
        node_pages: if numa_nodes > 1 { pool } else { 0 },
        window_delay_us: o.window_delay_us,
        padding,
    };
    initramfs::Initramfs::for_guest(Path::new(initramfs::BUSYBOX), &hugepunch, &files, &init)
        .map_err(VmError::Input)?
        .write(std::io::BufWriter::new(
            std::fs::File::create(&initrd).map_err(|e| VmError::Guest(e.to_string()))?,
        ))
        .map_err(|e| VmError::Guest(format!("{}: {e}", initrd.display())))?;
    let accel = o
        .accel
        .unwrap_or_else(|| qemu::pick_accel(&image, &initrd, &dir));
    let hung_task = (o.hang_secs / 3).max(5);
    let boot = Boot {
        kernel: image.clone(),
        initrd: initrd.clone(),
        append: format!(
            "console=ttyS0 panic=-1 {} sysrq_always_enabled=1 \
             sysctl.kernel.hung_task_timeout_secs={hung_task}",
            qemu::hugepages_param(numa_nodes, pool)
        ),
        // The pool, and 2 GiB for the initramfs (a tmpfs), the replays and the trace buffers;
        // with two nodes, each node has the whole pool and 1 GiB besides.
        memory_mib: if numa_nodes > 1 {
            u64::from(numa_nodes) * (pool * 2 + 1024)
        } else {
            pool * 2 + 2048
        },
        numa_nodes,
        accel,
        data: dir.join("data"),
    };
    eprintln!(
        "hugepunch vm: booting {} ({}) under {}, {} MiB, {} NUMA node(s) with {pool} huge pages \
         each, {} traces",
        kernel.name(),
        image.display(),
        accel.name(),
        boot.memory_mib,
        numa_nodes,
        files.len()
    );
    let silence = Duration::from_secs(o.hang_secs + 240);
    let stream = o.stream;
    let run = qemu::run(&boot, silence, |l| {
        if stream {
            eprintln!("guest| {l}");
        }
    })
    .map_err(VmError::Guest)?;
    let data = std::fs::read_to_string(&boot.data).unwrap_or_default();
    let outputs = parse_data(&data);
    let mut console_log = None;
    if o.keep {
        let p = dir.join("console.log");
        let _ = std::fs::write(&p, run.console.join("\n") + "\n");
        console_log = Some(p.display().to_string());
    }
    drop(cleanup);
    let t = &run.transcript;
    if t.start.is_none() {
        let tail: Vec<&str> = run
            .console
            .iter()
            .rev()
            .take(5)
            .map(String::as_str)
            .collect();
        return Err(VmError::Guest(format!(
            "the guest never reached its init ({}); last console lines: {}",
            run.stopped.as_deref().unwrap_or("qemu exited"),
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let mut traces = Vec::new();
    let mut not_run = Vec::new();
    let mut corpus = Vec::new();
    for (path, trace) in &all {
        let name = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        corpus.push((name.clone(), trace));
        if !files.contains(path) {
            continue;
        }
        match t.traces.iter().find(|l| l.name == name) {
            Some(log) => {
                let out = outputs.iter().find(|(n, _)| *n == name).map(|(_, o)| o);
                traces.push(trace_entry(&name, trace, log, out));
            }
            None => not_run.push(name),
        }
    }
    let (separation, summary) = conclude(&corpus, &traces);
    let report = VmReport {
        kernel: t.fact("kernel").unwrap_or("?").to_string(),
        separation,
        traces,
        refused,
        guest: GuestInfo {
            kernel_name: kernel.name(),
            kernel_image: image.display().to_string(),
            accel: accel.name().into(),
            boot_s: run.boot_s,
            replay_s: run.replay_s,
            cpus: t.fact("cpus").and_then(|v| v.parse().ok()),
            hugepages: t.fact("hugepages").and_then(|v| v.parse().ok()),
            numa_nodes: t.fact("nodes").map(str::to_string),
            node_hugepages: t.fact("node_hugepages").map(str::to_string),
            not_run,
            stopped: run.stopped.clone().or_else(|| {
                t.died_in
                    .as_ref()
                    .map(|n| {
                        format!("the kernel oopsed during {n}; the rest of the corpus was not run")
                    })
                    .or_else(|| {
                        t.wedged_in.as_ref().map(|n| {
                            format!(
                                "the kernel deadlocked during {n}: its blocked threads keep \
                                 locks later replays need (a fault-mutex slot every file \
                                 shares); the rest of the corpus was not run"
                            )
                        })
                    })
            }),
            console_log,
            frozen: run.frozen,
        },
        summary,
    };
    if o.keep {
        let p = dir.join("report.json");
        let _ = std::fs::write(
            &p,
            serde_json::to_string_pretty(&report).expect("serializes"),
        );
    }
    Ok(report)
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Removes the guest's files unless asked to keep them.
struct Cleanup {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
