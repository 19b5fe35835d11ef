//! Progress of a search, TLC-like: states generated, unique states, depth, states/s, memory
//! (resident set) and elapsed time. On a terminal the line is rewritten in place; with
//! `--progress` on anything else a full line is printed every few seconds.

use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// The figures of a search at one moment (the same in the progress line and in `--json`).
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Figures {
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    pub states_per_second: f64,
    pub unique_states_per_second: f64,
    /// The process's resident set (`VmRSS`), in bytes; 0 where `/proc` does not say.
    pub rss_bytes: u64,
}

impl Figures {
    pub fn new(states: usize, unique_states: usize, max_depth: usize, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        Figures {
            states,
            unique_states,
            max_depth,
            seconds,
            states_per_second: states as f64 / seconds.max(1e-9),
            unique_states_per_second: unique_states as f64 / seconds.max(1e-9),
            rss_bytes: rss_bytes(),
        }
    }

    /// One line: `12,345 states, 4,567 unique, depth 60, 456,789 states/s, 512.0 MiB, 1.2 s`.
    pub fn line(&self) -> String {
        format!(
            "{} states, {} unique, depth {}, {} states/s, {} unique/s, {:.1} MiB RSS, {:.1} s",
            thousands(self.states as u64),
            thousands(self.unique_states as u64),
            self.max_depth,
            thousands(self.states_per_second as u64),
            thousands(self.unique_states_per_second as u64),
            self.rss_bytes as f64 / (1 << 20) as f64,
            self.seconds
        )
    }
}

/// `VmRSS` of this process from `/proc/self/status`, in bytes (0 if unavailable).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let groups: Vec<&str> = s
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).expect("ASCII digits"))
        .collect();
    groups.join(",")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Off,
    /// Rewrite one line in place (a terminal), after the first second.
    Terminal,
    /// A full line every [`LINE_EVERY`], and the final figures.
    Lines,
}

/// A full progress line this often when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// Where progress goes.
pub struct Progress {
    mode: Mode,
    last_line: Mutex<Option<Duration>>,
}

impl Progress {
    /// Progress on stderr: always with `forced` (`--progress`), else only on a terminal and
    /// when `quiet` is off.
    pub fn stderr(quiet: bool, forced: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let mode = match (forced, terminal, quiet) {
            (_, true, false) | (true, true, true) => Mode::Terminal,
            (true, false, _) => Mode::Lines,
            _ => Mode::Off,
        };
        Progress {
            mode,
            last_line: Mutex::new(None),
        }
    }

    /// No progress output.
    pub fn off() -> Progress {
        Progress {
            mode: Mode::Off,
            last_line: Mutex::new(None),
        }
    }

    /// The search's figures now.
    pub fn tick(&self, what: &str, f: &Figures) {
        let elapsed = Duration::from_secs_f64(f.seconds);
        match self.mode {
            Mode::Off => {}
            Mode::Terminal => {
                if elapsed >= Duration::from_secs(1) {
                    eprint!("\r\x1b[K{what}: {}", f.line());
                    let _ = std::io::stderr().flush();
                }
            }
            Mode::Lines => {
                let mut last = self.last_line.lock().expect("progress lock");
                if elapsed >= last.map_or(LINE_EVERY, |l| l + LINE_EVERY) {
                    *last = Some(elapsed);
                    eprintln!("{what}: {}", f.line());
                }
            }
        }
    }

    /// The search ended with these figures.
    pub fn done(&self, what: &str, f: &Figures) {
        match self.mode {
            Mode::Off => {}
            Mode::Terminal => eprint!("\r\x1b[K"),
            Mode::Lines => {
                *self.last_line.lock().expect("progress lock") = None;
                eprintln!("{what}: done: {}", f.line());
            }
        }
    }
}
