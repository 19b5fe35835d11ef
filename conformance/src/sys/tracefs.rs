//! Tracepoints through tracefs, for the actor processes only: a private trace instance
//! (`instances/hugepunch-<pid>-<slot>`) with its own ring buffer, event set and pid filter, so
//! nothing else on the host is traced or disturbed, removed again afterwards.
//!
//! Removing an instance disables every event enabled in it and frees its buffer. If tracefs
//! was not mounted, it is mounted on `/sys/kernel/tracing` and unmounted with the last
//! instance. `Drop` does both; if the process dies first (SIGKILL), a janitor process does
//! ([`Chore::RemoveTraceInstance`], [`Chore::UnmountTracefs`]), which learns each instance's
//! name before the instance exists.
//!
//! Timestamps are `CLOCK_MONOTONIC` (`trace_clock` `mono`), the clock of [`super::now_ns`], so
//! kernel events and the actors' own timestamps can be put side by side.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::mount::{MountFlags, UnmountFlags};

use super::janitor::{Chore, Janitor};

/// Where tracefs is mounted on current kernels.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Per-CPU ring buffer of an instance, in KiB: a replay records a few thousand events (one
/// fault and one page-cache add per pre-allocated page, one delete per punched page).
const BUFFER_KB: u64 = 4096;

/// Whether tracefs is mounted at [`TRACEFS`].
fn mounted() -> io::Result<bool> {
    Ok(super::host::mounts_of_type("tracefs")?
        .iter()
        .any(|m| m == TRACEFS))
}

/// What this process holds in tracefs: instances alive, name slots in use, whether it mounted
/// tracefs, and the janitor that cleans up if the process dies.
struct State {
    holders: usize,
    slots: Vec<bool>,
    mounted_by_us: bool,
    janitor: Option<Janitor>,
}

static STATE: Mutex<State> = Mutex::new(State {
    holders: 0,
    slots: Vec::new(),
    mounted_by_us: false,
    janitor: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A private trace instance; removed on drop (and tracefs unmounted with the last one, if this
/// process mounted it).
#[derive(Debug)]
pub struct TraceInstance {
    dir: PathBuf,
    slot: usize,
    /// Events enabled, as `system/name`.
    enabled: Vec<String>,
    removed: bool,
}

impl TraceInstance {
    /// Mounts tracefs if needed and creates a fresh instance, with the `mono` clock, thread
    /// group ids in the records, and the pid filter following forks (threads a followed process
    /// starts later are followed too). Nothing is enabled yet. Needs root.
    ///
    /// Instance names are `hugepunch-<pid>-<slot>`, the slot the lowest one free, so the
    /// janitor learns each name once however many instances a run makes.
    pub fn create() -> io::Result<TraceInstance> {
        let root = Path::new(TRACEFS);
        let mut st = state();
        if st.holders == 0 {
            st.mounted_by_us = false;
            if !mounted()? {
                rustix::mount::mount("nodev", root, "tracefs", MountFlags::empty(), None)
                    .map_err(|e| ctx(e.into(), &format!("mount -t tracefs nodev {TRACEFS}")))?;
                st.mounted_by_us = true;
            }
            let janitor = Janitor::spawn().and_then(|j| {
                if st.mounted_by_us {
                    j.register(&Chore::UnmountTracefs(root.to_path_buf()))?;
                }
                Ok(j)
            });
            match janitor {
                Ok(j) => st.janitor = Some(j),
                Err(e) => {
                    release(&mut st);
                    return Err(e);
                }
            }
        }
        let slot = match st.slots.iter().position(|used| !used) {
            Some(s) => s,
            None => {
                st.slots.push(false);
                st.slots.len() - 1
            }
        };
        let dir = root
            .join("instances")
            .join(format!("hugepunch-{}-{slot}", std::process::id()));
        // Registered before it exists: from here on a SIGKILL leaves nothing behind.
        let janitor = st.janitor.as_ref().expect("spawned with the first holder");
        let made = janitor
            .register(&Chore::RemoveTraceInstance(dir.clone()))
            .and_then(|()| std::fs::create_dir(&dir))
            .map_err(|e| ctx(e, &format!("mkdir {}", dir.display())));
        if let Err(e) = made {
            if st.holders == 0 {
                release(&mut st);
            }
            return Err(e);
        }
        st.slots[slot] = true;
        st.holders += 1;
        drop(st);
        let t = TraceInstance {
            dir,
            slot,
            enabled: Vec::new(),
            removed: false,
        };
        t.write("tracing_on", "0")?;
        t.write("trace_clock", "mono")?;
        t.write("options/record-tgid", "1")?;
        t.write("options/event-fork", "1")?;
        t.write("buffer_size_kb", &BUFFER_KB.to_string())?;
        Ok(t)
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&self, file: &str, text: &str) -> io::Result<()> {
        write(&self.dir.join(file), text)
    }

    /// Records only these processes (and the threads and children they start from now on).
    /// Set before enabling events, so nothing of anyone else gets in.
    pub fn follow(&self, pids: &[i32]) -> io::Result<()> {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        self.write("set_event_pid", &list.join(" "))
    }

    /// Whether this kernel has the tracepoint `system/name`.
    pub fn has_event(&self, event: &str) -> bool {
        self.dir.join("events").join(event).join("enable").exists()
    }

    /// Enables `system/name`; an error names the event.
    pub fn enable(&mut self, event: &str) -> io::Result<()> {
        self.write(&format!("events/{event}/enable"), "1")?;
        self.enabled.push(event.to_string());
        Ok(())
    }

    /// Events enabled so far.
    pub fn enabled(&self) -> &[String] {
        &self.enabled
    }

    /// Empties the buffer and starts recording.
    pub fn start(&self) -> io::Result<()> {
        self.write("trace", "")?;
        self.write("tracing_on", "1")
    }

    /// Stops recording (the buffer is kept).
    pub fn stop(&self) -> io::Result<()> {
        self.write("tracing_on", "0")
    }

    /// The recorded events, as text (the `trace` file: one event per line, `#` comments).
    pub fn read(&self) -> io::Result<String> {
        let path = self.dir.join("trace");
        std::fs::read_to_string(&path).map_err(|e| ctx(e, &format!("reading {}", path.display())))
    }

    /// Events the ring buffer dropped because it was full (`overrun`, summed over CPUs): the
    /// record is incomplete if this is not 0.
    pub fn overruns(&self) -> io::Result<u64> {
        let mut total = 0;
        for cpu in std::fs::read_dir(self.dir.join("per_cpu"))? {
            let stats = std::fs::read_to_string(cpu?.path().join("stats"))?;
            total += stats
                .lines()
                .find_map(|l| l.strip_prefix("overrun:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        Ok(total)
    }

    /// Disables every event and removes the instance (which frees its buffer); with the last
    /// instance, unmounts tracefs if this process mounted it.
    fn remove(&mut self) -> io::Result<()> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        let _ = self.write("tracing_on", "0");
        let _ = self.write("set_event_pid", "");
        for e in std::mem::take(&mut self.enabled) {
            let _ = self.write(&format!("events/{e}/enable"), "0");
        }
        let r = std::fs::remove_dir(&self.dir)
            .map_err(|e| ctx(e, &format!("rmdir {}", self.dir.display())));
        let mut st = state();
        st.slots[self.slot] = false;
        st.holders -= 1;
        if st.holders == 0 {
            release(&mut st);
        }
        r
    }

    /// Removes the instance now, reporting failure (`Drop` can only ignore it).
    pub fn close(mut self) -> io::Result<()> {
        self.remove()
    }
}

impl Drop for TraceInstance {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

/// No instance left: unmount what we mounted, and let the janitor go (its chores then find
/// nothing left to do, or remove what this process could not).
fn release(st: &mut State) {
    if st.mounted_by_us {
        let _ = rustix::mount::unmount(TRACEFS, UnmountFlags::DETACH);
        st.mounted_by_us = false;
    }
    drop(st.janitor.take());
}

/// Writes a tracefs control file; an error says which, as the shell command.
fn write(path: &Path, text: &str) -> io::Result<()> {
    std::fs::write(path, text).map_err(|e| ctx(e, &format!("echo '{text}' > {}", path.display())))
}

fn ctx(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Enables `events` (those this kernel has) in the top-level tracefs instance with its
/// recording off, and leaves them so: a tracepoint enabled anywhere keeps its static branch
/// on, so the short-lived instances of the recordings then enable and disable it without the
/// kernel patching its own text each time (`text_poke_bp` with IPIs to every CPU, which a
/// TCG guest froze in: README, "Guests that freeze"). For a guest: its kernel goes with it.
/// On a host they would stay enabled until reboot.
pub fn hold_events<'a>(events: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
    let root = Path::new(TRACEFS);
    write(&root.join("tracing_on"), "0")?;
    for e in events {
        let enable = root.join("events").join(e).join("enable");
        if enable.exists() {
            write(&enable, "1")?;
        }
    }
    Ok(())
}

/// Trace instances of this tool that exist now (`instances/hugepunch-*`): empty once every
/// replay is done, whatever happened to it. Instances outlive an unmount (tracefs has one
/// superblock), so if tracefs is not mounted it is mounted for the look and unmounted again.
pub fn leftover_instances() -> io::Result<Vec<String>> {
    let st = state();
    let mount_for_look = !mounted()?;
    if mount_for_look {
        rustix::mount::mount("nodev", TRACEFS, "tracefs", MountFlags::empty(), None)
            .map_err(|e| ctx(e.into(), &format!("mount -t tracefs nodev {TRACEFS}")))?;
    }
    let listed = std::fs::read_dir(Path::new(TRACEFS).join("instances")).map(|dir| {
        dir.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("hugepunch-"))
            .collect::<Vec<_>>()
    });
    if mount_for_look {
        let _ = rustix::mount::unmount(TRACEFS, UnmountFlags::DETACH);
    }
    drop(st);
    listed
}
