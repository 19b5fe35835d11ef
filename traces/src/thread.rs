//! Who acts in a trace: a process thread, named after the model's actors.

use spec::ids::Ctx;
use spec::node::Role;
use std::fmt;
use std::str::FromStr;

/// A process thread: a process's main thread, or a mapper's userfaultfd handler thread. A
/// kernel step names the thread running in the kernel. Spelled `manager`, `mapper<N>` or
/// `mapper<N>.handler` (the process is the model's [`Role`], so a new actor needs no edit here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thread {
    pub process: Role,
    pub ctx: Ctx,
}

impl Thread {
    pub const MANAGER: Thread = Thread {
        process: Role::Manager,
        ctx: Ctx::Main,
    };

    /// Mapper `m`'s main thread.
    pub fn mapper(m: u8) -> Thread {
        Thread {
            process: Role::Mapper(m),
            ctx: Ctx::Main,
        }
    }

    /// Mapper `m`'s userfaultfd handler thread.
    pub fn handler(m: u8) -> Thread {
        Thread {
            process: Role::Mapper(m),
            ctx: Ctx::Handler,
        }
    }

    /// The mapper this thread belongs to, if any.
    pub fn mapper_number(self) -> Option<u8> {
        match self.process {
            Role::Mapper(m) => Some(m),
            _ => None,
        }
    }

    /// The process's main thread.
    pub fn main(self) -> Thread {
        Thread {
            ctx: Ctx::Main,
            ..self
        }
    }
}

impl fmt::Display for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ctx {
            Ctx::Main => write!(f, "{}", self.process),
            Ctx::Handler => write!(f, "{}.handler", self.process),
        }
    }
}

impl FromStr for Thread {
    type Err = String;
    fn from_str(s: &str) -> Result<Thread, String> {
        let (process, ctx) = match s.strip_suffix(".handler") {
            Some(p) => (p, Ctx::Handler),
            None => (s, Ctx::Main),
        };
        let process: Role = process
            .parse()
            .map_err(|_| format!("unknown thread '{s}'"))?;
        let ok = match (process, ctx) {
            (Role::Kernel, _) => false,
            (Role::Mapper(_), _) => true,
            (_, Ctx::Handler) => false,
            (_, Ctx::Main) => true,
        };
        ok.then_some(Thread { process, ctx })
            .ok_or_else(|| format!("unknown thread '{s}'"))
    }
}
