//! The actors of one replay attempt: a fresh hugetlbfs file, the shared words, the manager and
//! the mappers forked, and the mailbox their reports arrive in.

use super::{manager, mapper, migrator};
use crate::mailbox::Mailbox;
use crate::protocol::{send, ManagerCmd, MapperCmd, MigratorCmd, SHARED_WORDS};
use crate::sys::{fork_child, Child, HugeFile, SharedWords};
use std::io;
use std::sync::Arc;

/// Who sent a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Manager,
    Mapper(u8),
    Migrator,
}

/// Running actor processes; each is killed and reaped when this is dropped.
pub struct Cast {
    pub file: HugeFile,
    pub shared: Arc<SharedWords>,
    pub manager: Child,
    pub mappers: Vec<Child>,
    /// The migrator, if the trace has one.
    pub migrator: Option<Child>,
    pub mailbox: Mailbox<Who>,
}

impl Cast {
    /// A memfd (or a file on a private hugetlbfs mount), the shared words, and the manager and
    /// `mappers` mappers and `migrators` (0 or 1) migrators forked.
    // The one place outside `sys` that forks: `fork_child`'s obligation is the caller's.
    #[allow(unsafe_code)]
    pub fn start(mappers: u8, migrators: u8, private_mount: bool) -> io::Result<Cast> {
        let file = if private_mount {
            HugeFile::on_private_mount("hugepunch-replay")?
        } else {
            HugeFile::memfd("hugepunch-replay")?
        };
        let shared = Arc::new(SharedWords::new(SHARED_WORDS)?);
        let sh = shared.clone();
        // The children run on their own copy of this frame and never return into it, so they
        // may borrow `file` even though it moves into the `Cast` here.
        // SAFETY: the actors' loops take no lock of the driver's: they print nothing, read no
        // environment, share no Mutex with the parent (their own threads start after the fork)
        // and talk to the driver over their socket only.
        let manager = unsafe { fork_child(|s| manager::run(s, &file, &sh)) }?;
        let mut mailbox = Mailbox::new();
        mailbox.add(Who::Manager, manager.stream().try_clone()?);
        let mut children = Vec::new();
        for m in 0..mappers {
            let (sh, f) = (shared.clone(), &file);
            // SAFETY: as for the manager.
            let child = unsafe { fork_child(move |s| mapper::run(s, f, sh)) }?;
            mailbox.add(Who::Mapper(m), child.stream().try_clone()?);
            children.push(child);
        }
        let migrator = if migrators > 0 {
            let (sh, f) = (shared.clone(), &file);
            // SAFETY: as for the manager.
            let child = unsafe { fork_child(move |s| migrator::run(s, f, &sh)) }?;
            mailbox.add(Who::Migrator, child.stream().try_clone()?);
            Some(child)
        } else {
            None
        };
        Ok(Cast {
            file,
            shared,
            manager,
            mappers: children,
            migrator,
            mailbox,
        })
    }

    pub fn to_manager(&self, c: &ManagerCmd) -> io::Result<()> {
        send(self.manager.stream(), c)
    }

    pub fn to_mapper(&self, m: u8, c: &MapperCmd) -> io::Result<()> {
        send(self.mappers[m as usize].stream(), c)
    }

    pub fn to_migrator(&self, c: &MigratorCmd) -> io::Result<()> {
        let m = self.migrator.as_ref().ok_or_else(|| {
            io::Error::other("a move_pages step but no migrator (the trace's config has none)")
        })?;
        send(m.stream(), c)
    }

    /// Asks every actor to exit (dropping the `Cast` kills whoever did not).
    pub fn stop(&self) {
        let _ = self.to_manager(&ManagerCmd::Exit);
        for m in 0..self.mappers.len() {
            let _ = self.to_mapper(m as u8, &MapperCmd::Exit);
        }
        if self.migrator.is_some() {
            let _ = self.to_migrator(&MigratorCmd::Exit);
        }
    }
}
