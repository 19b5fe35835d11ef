//! The guest's serial console, read line by line: the init's `@@hugepunch-vm` markers, and the
//! kernel's own reports of trouble (oops, BUG, panic, hung tasks), attributed to the trace that
//! was being replayed when they appeared.

/// The prefix of the init's markers.
pub const MARK: &str = "@@hugepunch-vm ";

/// Trouble the kernel reports on its console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// `BUG:`, `kernel BUG at`, `Oops:`, a general protection fault, `WARNING:`, or a
    /// `dump_page` ("page dumped because", "still mapped when deleted").
    Oops,
    /// `Kernel panic`: the guest is gone.
    Panic,
    /// The hung-task detector: `INFO: task ... blocked for more than N seconds`.
    HungTask,
}

/// What a console line says, if anything.
pub fn trouble(line: &str) -> Option<Trouble> {
    const OOPS: [&str; 8] = [
        "BUG:",
        "kernel BUG at",
        "Oops:",
        "general protection fault",
        "WARNING: CPU:",
        "page dumped because",
        "still mapped when deleted",
        "Unable to handle kernel",
    ];
    if line.contains("Kernel panic") {
        Some(Trouble::Panic)
    } else if line.contains("blocked for more than") {
        Some(Trouble::HungTask)
    } else if OOPS.iter().any(|p| line.contains(p)) {
        Some(Trouble::Oops)
    } else {
        None
    }
}

/// An init marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Init started: `key=value` facts (uptime, cpus, hugepages, kernel).
    Start(Vec<(String, String)>),
    Begin(String),
    End(String, i32),
    Hang(String),
    HangEnd(String),
    /// The kernel oopsed during this trace (taint D): the init stops.
    Died(String),
    /// This trace's replay left threads asleep in the kernel for good (state D): the init
    /// stops.
    Wedged(String),
    Done,
    ProbeOk,
}

/// Parses a marker line (the marker may follow other text on the same line: a printk can
/// interleave with the init's output).
pub fn marker(line: &str) -> Option<Marker> {
    let rest = &line[line.find(MARK)? + MARK.len()..];
    let mut words = rest.split_whitespace();
    let word = words.next()?;
    let arg = words.next().map(str::to_string);
    Some(match word {
        "start" => Marker::Start(
            rest.split_whitespace()
                .skip(1)
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        "begin" => Marker::Begin(arg?),
        "end" => {
            let rc = words.next()?.strip_prefix("rc=")?.parse().ok()?;
            Marker::End(arg?, rc)
        }
        "hang" => Marker::Hang(arg?),
        "hang-end" => Marker::HangEnd(arg?),
        "died" => Marker::Died(arg?),
        "wedged" => Marker::Wedged(arg?),
        "done" => Marker::Done,
        "probe-ok" => Marker::ProbeOk,
        _ => return None,
    })
}

/// How a trace's replay ended in the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// `hugepunch replay` exited with this code.
    Exited(i32),
    /// It made no progress for the hang time; the blocked tasks were dumped.
    Hung,
    /// The guest died (panic) or was killed while it ran.
    GuestDied,
}

/// The console lines of one trace's replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLog {
    pub name: String,
    pub lines: Vec<String>,
    pub ending: Option<Ending>,
}

impl TraceLog {
    /// Whether the kernel oopsed or panicked during this replay. (Hung-task reports are not
    /// counted: tasks left blocked by an earlier trace are reported again during later ones.)
    pub fn oopsed(&self) -> bool {
        self.lines
            .iter()
            .any(|l| matches!(trouble(l), Some(Trouble::Oops | Trouble::Panic)))
    }

    /// The lines that show the trouble, at most `max`: for a hang without an oops, the hung-task reports and
    /// the sysrq dump from the init's hang marker on, keeping of the task dump only the tasks
    /// that are blocked (`state:D`) or are hugepunch's; else from the first oops line on.
    pub fn evidence(&self, max: usize) -> Vec<String> {
        if self.ending == Some(Ending::Hung) && !self.oopsed() {
            let mut out = Vec::new();
            let mut keep_task = true;
            let mut after_marker = false;
            for l in &self.lines {
                if matches!(marker(l), Some(Marker::Hang(_))) {
                    after_marker = true;
                }
                if let Some(i) = l.find(" task:") {
                    let header = &l[i..];
                    keep_task = header.contains("state:D")
                        || header.starts_with(" task:hugepunch")
                        || header.starts_with(" task:hp-");
                } else if l.contains("sysrq:") || l.contains(MARK) {
                    keep_task = true;
                }
                if (after_marker && keep_task) || trouble(l) == Some(Trouble::HungTask) {
                    out.push(l.clone());
                }
            }
            out.truncate(max);
            return out;
        }
        let first = self
            .lines
            .iter()
            .position(|l| matches!(trouble(l), Some(Trouble::Oops | Trouble::Panic)));
        match first {
            Some(i) => self.lines[i..].iter().take(max).cloned().collect(),
            None => Vec::new(),
        }
    }
}

/// The whole console of one guest run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The init's `start` facts, once it started.
    pub start: Option<Vec<(String, String)>>,
    /// Lines before the first trace (boot).
    pub boot: Vec<String>,
    pub traces: Vec<TraceLog>,
    pub done: bool,
    /// The trace during which the kernel oopsed, after which the init stopped.
    pub died_in: Option<String>,
    /// The trace whose replay left threads blocked in the kernel for good, after which the
    /// init stopped.
    pub wedged_in: Option<String>,
    pub probe_ok: bool,
    /// Between a hang marker and its hang-end: the task dump goes to that trace.
    dumping: bool,
}

impl Transcript {
    /// Reads a whole recorded console.
    pub fn parse(text: &str) -> Transcript {
        let mut t = Transcript::default();
        for l in text.lines() {
            t.feed(l);
        }
        t.finish();
        t
    }

    /// Takes one console line; returns the marker it carried.
    pub fn feed(&mut self, line: &str) -> Option<Marker> {
        let line = line.trim_end_matches('\r');
        let m = marker(line);
        match &m {
            Some(Marker::Start(kv)) => self.start = Some(kv.clone()),
            Some(Marker::Begin(name)) => self.traces.push(TraceLog {
                name: name.clone(),
                lines: Vec::new(),
                ending: None,
            }),
            Some(Marker::Done) => self.done = true,
            Some(Marker::Died(n)) => self.died_in = Some(n.clone()),
            Some(Marker::Wedged(n)) => self.wedged_in = Some(n.clone()),
            Some(Marker::ProbeOk) => self.probe_ok = true,
            _ => {}
        }
        let dumping = self.dumping;
        if matches!(m, Some(Marker::HangEnd(_))) {
            self.dumping = false;
        }
        match self.traces.last_mut() {
            Some(cur) if cur.ending.is_none() || dumping => {
                cur.lines.push(line.to_string());
                match &m {
                    Some(Marker::End(n, rc)) if *n == cur.name => {
                        cur.ending = Some(Ending::Exited(*rc))
                    }
                    Some(Marker::Hang(n)) if *n == cur.name => {
                        cur.ending = Some(Ending::Hung);
                        self.dumping = true;
                    }
                    _ => {}
                }
            }
            Some(_) => {}
            None => self.boot.push(line.to_string()),
        }
        m
    }

    /// The console ended (the guest is gone): a trace still running died with it.
    pub fn finish(&mut self) {
        if let Some(cur) = self.traces.last_mut() {
            if cur.ending.is_none() {
                cur.ending = Some(Ending::GuestDied);
            }
        }
    }

    /// A `start` fact.
    pub fn fact(&self, key: &str) -> Option<&str> {
        self.start
            .as_ref()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One trace's output on the data channel (ttyS1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Splits the data channel into each trace's `hugepunch replay` exit code, stdout and stderr.
pub fn parse_data(text: &str) -> Vec<(String, Output)> {
    let mut out: Vec<(String, Output)> = Vec::new();
    let mut in_stderr = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix("@@result ") {
            let (name, rc) = rest.rsplit_once(' ').unwrap_or((rest, "-1"));
            out.push((
                name.to_string(),
                Output {
                    rc: rc.parse().unwrap_or(-1),
                    ..Output::default()
                },
            ));
            in_stderr = false;
        } else if line.starts_with("@@stderr ") {
            in_stderr = true;
        } else if line.starts_with("@@end ") {
            in_stderr = false;
        } else if let Some((_, o)) = out.last_mut() {
            let s = if in_stderr {
                &mut o.stderr
            } else {
                &mut o.stdout
            };
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trouble_lines() {
        assert_eq!(
            trouble("[   41.2] kernel BUG at mm/filemap.c:153!"),
            Some(Trouble::Oops)
        );
        assert_eq!(
            trouble("[    3.1] Kernel panic - not syncing: No working init found."),
            Some(Trouble::Panic)
        );
        assert_eq!(
            trouble("[  123.0] INFO: task hugepunch:88 blocked for more than 10 seconds."),
            Some(Trouble::HungTask)
        );
        assert_eq!(trouble("[    0.0] Linux version 6.1.0"), None);
    }

    #[test]
    fn markers() {
        assert_eq!(
            marker("@@hugepunch-vm end v4_4.a.json rc=0"),
            Some(Marker::End("v4_4.a.json".into(), 0))
        );
        assert_eq!(
            marker("[  5.0] random: x@@hugepunch-vm begin t.json"),
            Some(Marker::Begin("t.json".into()))
        );
        assert_eq!(
            marker("@@hugepunch-vm died t.json"),
            Some(Marker::Died("t.json".into()))
        );
        assert_eq!(
            marker("@@hugepunch-vm wedged t.json"),
            Some(Marker::Wedged("t.json".into()))
        );
        let t = Transcript::parse(
            "@@hugepunch-vm begin t.json\n@@hugepunch-vm hang t.json after=40s\n\
             @@hugepunch-vm hang-end t.json\n@@hugepunch-vm wedged t.json\n@@hugepunch-vm done\n",
        );
        assert_eq!(t.wedged_in.as_deref(), Some("t.json"));
        assert_eq!(t.traces[0].ending, Some(Ending::Hung));
        assert_eq!(marker("@@hugepunch-vm end t.json"), None);
        assert_eq!(marker("hugepunch-vm begin t.json"), None);
    }

    #[test]
    fn data_channel() {
        let d = "@@result a.json 0\r\n[\r\n]\r\n@@stderr a.json\r\n@@end a.json\r\n@@result b.json 1\r\n@@stderr b.json\r\nboom\r\n@@end b.json\r\n";
        let p = parse_data(d);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0, "a.json");
        assert_eq!(p[0].1.stdout, "[\n]\n");
        assert_eq!(p[1].1.rc, 1);
        assert_eq!(p[1].1.stderr, "boom\n");
    }
}

/// Recorded consoles (conformance/tests/fixtures/console/, see the README there).
#[cfg(test)]
mod fixtures {
    use super::*;

    fn fixture(name: &str) -> Transcript {
        let path = format!(
            "{}/tests/fixtures/console/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        Transcript::parse(&std::fs::read_to_string(&path).expect(&path))
    }

    #[test]
    fn normal_run() {
        let t = fixture("normal-debian-6.1.log");
        assert_eq!(t.fact("kernel"), Some("6.1.0-57-cloud-amd64"));
        assert_eq!(t.fact("cpus"), Some("2"));
        assert!(t.done);
        assert_eq!(t.traces.len(), 4);
        for l in &t.traces {
            assert_eq!(l.ending, Some(Ending::Exited(0)), "{}", l.name);
            assert!(!l.oopsed(), "{}", l.name);
            assert!(l.evidence(10).is_empty());
        }
        assert!(t.boot.iter().all(|l| trouble(l).is_none()));
    }

    #[test]
    fn panic_at_boot() {
        let t = fixture("panic-no-init-debian-6.1.log");
        assert_eq!(t.start, None);
        assert!(t.traces.is_empty() && !t.done);
        let first = t.boot.iter().find(|l| trouble(l).is_some()).unwrap();
        assert_eq!(trouble(first), Some(Trouble::Panic));
        assert!(first.contains("Kernel panic - not syncing: VFS: Unable to mount root fs"));
    }

    #[test]
    fn hang_with_task_dump() {
        let t = fixture("hang-watchdog-control-6.1.log");
        assert_eq!(t.traces.len(), 1);
        let l = &t.traces[0];
        assert_eq!(l.name, "v4_5.race_window_fault.witness.json");
        assert_eq!(l.ending, Some(Ending::Hung));
        assert!(t.done, "the init went on after the hang");
        let ev = l.evidence(400);
        assert!(ev[0].contains("@@hugepunch-vm hang v4_5.race_window_fault.witness.json"));
        assert!(ev.iter().any(|x| x.contains("sysrq: Show Blocked State")));
        assert!(ev.iter().any(|x| x.contains("task:hp-mapper")));
        assert!(ev
            .iter()
            .any(|x| x.starts_with("@@hugepunch-vm blocked hp-manager pid=")));
        // kernel threads that are merely running or sleeping are left out
        assert!(!ev.iter().any(|x| x.contains("task:kdevtmpfs")));
        assert!(ev.last().unwrap().contains("hang-end"));
    }
}
