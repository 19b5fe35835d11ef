//! A progress line on stderr for runs longer than a second, only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

/// Where progress goes: a terminal, or nowhere.
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Progress on stderr if it is a terminal and `quiet` is off.
    pub fn stderr(quiet: bool) -> Progress {
        Progress {
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }

    pub fn tick(&self, what: &str, states: usize, unique: usize, elapsed: Duration) {
        if !self.enabled || elapsed < Duration::from_secs(1) {
            return;
        }
        let rate = states as f64 / elapsed.as_secs_f64();
        eprint!(
            "\r\x1b[K{what}: {states} states, {unique} unique, {:.0} states/s, {:.1} s",
            rate,
            elapsed.as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    }

    pub fn clear(&self) {
        if self.enabled {
            eprint!("\r\x1b[K");
        }
    }
}
