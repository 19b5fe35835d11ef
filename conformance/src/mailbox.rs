//! The driver's inbox: every actor's reports, read by polling their sockets directly (no
//! thread in between, so a report costs one wake-up).

use crate::protocol::{Receiver, Report};
use crate::sys::wake::poll_readable;
use std::io;
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// Reports from a set of actors, each known by a `W`.
pub struct Mailbox<W> {
    /// Each actor's stream; `None` once it ended.
    inbox: Vec<(W, Option<Receiver>)>,
    /// Reports read while waiting for another, kept for a later wait.
    buffered: Vec<(W, Report)>,
}

impl<W: Copy + std::fmt::Debug> Mailbox<W> {
    pub fn new() -> Self {
        Mailbox {
            inbox: Vec::new(),
            buffered: Vec::new(),
        }
    }

    /// The first report `want` accepts: a buffered one, else the next that arrives before
    /// `deadline` (`None` after it). Every report read on the way goes to `seen` once, as it
    /// arrives (to keep counters, or to stop the wait with an error); the ones `want` refuses
    /// are kept for later waits.
    pub fn wait_for<E: From<io::Error>>(
        &mut self,
        deadline: Instant,
        mut seen: impl FnMut(W, &Report) -> Result<(), E>,
        want: impl Fn(W, &Report) -> bool,
    ) -> Result<Option<Report>, E> {
        if let Some(i) = self.buffered.iter().position(|(w, r)| want(*w, r)) {
            return Ok(Some(self.buffered.remove(i).1));
        }
        while let Some((w, r)) = self.next(deadline)? {
            seen(w, &r)?;
            if want(w, &r) {
                return Ok(Some(r));
            }
            self.buffered.push((w, r));
        }
        Ok(None)
    }

    /// The reports kept for later, one line each (for a timeout's message).
    pub fn pending(&self) -> Vec<String> {
        self.buffered
            .iter()
            .map(|(w, r)| format!("{w:?}: {r:?}"))
            .collect()
    }

    /// Reads `who`'s reports from `stream`.
    pub fn add(&mut self, who: W, stream: UnixStream) {
        self.inbox.push((who, Some(Receiver::new(stream))));
    }

    /// The next report from any actor, `None` once `deadline` passed.
    pub fn next(&mut self, deadline: Instant) -> io::Result<Option<(W, Report)>> {
        loop {
            let buffered = self
                .inbox
                .iter()
                .position(|(_, r)| r.as_ref().is_some_and(Receiver::has_message));
            let ready = match buffered {
                Some(i) => vec![i],
                None => {
                    let open: Vec<usize> = (0..self.inbox.len())
                        .filter(|&i| self.inbox[i].1.is_some())
                        .collect();
                    if open.is_empty() {
                        return Err(io::Error::other("every actor is gone"));
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    let fds: Vec<_> = open
                        .iter()
                        .map(|&i| self.inbox[i].1.as_ref().expect("open").as_fd())
                        .collect();
                    let readable = poll_readable(&fds, left)?;
                    open.into_iter()
                        .zip(readable)
                        .filter(|(_, r)| *r)
                        .map(|(i, _)| i)
                        .collect()
                }
            };
            for i in ready {
                let (who, rx) = &mut self.inbox[i];
                match rx.as_mut().expect("open").recv::<Report>()? {
                    Some(r) => return Ok(Some((*who, r))),
                    None => self.inbox[i].1 = None,
                }
            }
        }
    }
}

impl<W: Copy + std::fmt::Debug> Default for Mailbox<W> {
    fn default() -> Self {
        Self::new()
    }
}
