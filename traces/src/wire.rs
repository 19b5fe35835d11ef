//! A step as the JSON spells it: flat names and optional arguments. Only the loader and the
//! writer see it; everything else reads the typed [`crate::Step`].

use crate::action::{parse_ret, ret_name, Action, Call, KernelStep, Level, Syscall};
use crate::schema::{Observed, Step};
use crate::thread::Thread;
use crate::value::Value;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireStep {
    pub index: usize,
    pub actor: String,
    pub thread: String,
    pub level: Level,
    pub action: String,
    #[serde(default, skip_serializing_if = "Args::is_empty")]
    pub args: Args,
    pub observed: Observed,
}

/// An action's arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<Call>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl Args {
    fn is_empty(&self) -> bool {
        *self == Args::default()
    }

    /// The names of the arguments present.
    fn present(&self) -> Vec<&'static str> {
        let a = self;
        [
            ("page", a.page.is_some()),
            ("start", a.start.is_some()),
            ("end", a.end.is_some()),
            ("write", a.write.is_some()),
            ("hit", a.hit.is_some()),
            ("call", a.call.is_some()),
            ("ret", a.ret.is_some()),
            ("value", a.value.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.then_some(n))
        .collect()
    }
}

impl From<&Step> for WireStep {
    fn from(s: &Step) -> WireStep {
        let mut a = Args::default();
        match s.action {
            Action::Start => {}
            Action::Call(sc) => match sc {
                Syscall::Fallocate { start, end } | Syscall::PunchHole { start, end } => {
                    (a.start, a.end) = (Some(start), Some(end))
                }
                Syscall::UffdioCopy { page }
                | Syscall::UffdioWake { page }
                | Syscall::MovePages { page } => a.page = Some(page),
                Syscall::Mmap | Syscall::UffdioRegister => {}
            },
            Action::Return { call, ret } => (a.call, a.ret) = (Some(call), Some(ret_name(ret))),
            Action::Kernel { page, .. } => a.page = page,
            Action::Touch { page, write } | Action::UffdMissing { page, write } => {
                (a.page, a.write) = (Some(page), Some(write))
            }
            Action::Mmu { page, write, hit } => {
                (a.page, a.write, a.hit) = (Some(page), Some(write), Some(hit))
            }
            Action::Touched { page, write, value } => {
                (a.page, a.write, a.value) = (Some(page), Some(write), Some(value))
            }
            Action::Sigbus { page } => a.page = Some(page),
        }
        WireStep {
            index: s.index,
            actor: s.actor().to_string(),
            thread: s.thread.to_string(),
            level: s.level(),
            action: s.action.name().to_string(),
            args: a,
            observed: s.observed.clone(),
        }
    }
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireStep::from(self).serialize(s)
    }
}

impl Serialize for Thread {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Thread {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Thread, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Why a wire step is not a step: the field (relative to the step) and the message.
pub(crate) type Bad = (String, String);

/// Parses a wire step's thread and action.
pub(crate) fn parse_step(w: &WireStep) -> Result<(Thread, Action), Bad> {
    let thread: Thread = w
        .thread
        .parse()
        .map_err(|e: String| ("thread".to_string(), e))?;
    let a = &w.args;
    let arg_err = |name: &str, msg: String| (format!("args.{name}"), msg);
    let need = |name: &'static str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(arg_err(name, format!("'{}' needs it", w.action)))
        }
    };
    let (action, takes): (Action, &[&str]) = match w.action.as_str() {
        "start" => (Action::Start, &[]),
        "return" => {
            need("call", a.call.is_some())?;
            need("ret", a.ret.is_some())?;
            let ret = a.ret.as_deref().unwrap_or_default();
            let ret =
                parse_ret(ret).ok_or_else(|| arg_err("ret", format!("unknown return '{ret}'")))?;
            (
                Action::Return {
                    call: a.call.expect("checked"),
                    ret,
                },
                &["call", "ret"],
            )
        }
        "touch" | "mmu" | "touched" | "uffd_missing" | "sigbus" => {
            need("page", a.page.is_some())?;
            let page = a.page.expect("checked");
            let write = || {
                need("write", a.write.is_some())?;
                Ok::<bool, Bad>(a.write.expect("checked"))
            };
            match w.action.as_str() {
                "touch" => (
                    Action::Touch {
                        page,
                        write: write()?,
                    },
                    &["page", "write"],
                ),
                "uffd_missing" => (
                    Action::UffdMissing {
                        page,
                        write: write()?,
                    },
                    &["page", "write"],
                ),
                "sigbus" => (Action::Sigbus { page }, &["page"]),
                "mmu" => {
                    let write = write()?;
                    need("hit", a.hit.is_some())?;
                    let hit = a.hit.expect("checked");
                    (Action::Mmu { page, write, hit }, &["page", "write", "hit"])
                }
                _ => {
                    let write = write()?;
                    need("value", a.value.is_some())?;
                    let value = a.value.expect("checked");
                    (
                        Action::Touched { page, write, value },
                        &["page", "write", "value"],
                    )
                }
            }
        }
        name => {
            if let Some(step) = KernelStep::from_name(name) {
                (Action::Kernel { step, page: a.page }, &["page"])
            } else {
                let call =
                    serde_json::from_value::<Call>(serde_json::Value::String(name.into()))
                        .map_err(|_| ("action".to_string(), format!("unknown action '{name}'")))?;
                let range = || {
                    need("start", a.start.is_some())?;
                    need("end", a.end.is_some())?;
                    Ok::<(u8, u8), Bad>((a.start.expect("checked"), a.end.expect("checked")))
                };
                let page = || {
                    need("page", a.page.is_some())?;
                    Ok::<u8, Bad>(a.page.expect("checked"))
                };
                let (sc, takes): (Syscall, &[&str]) = match call {
                    Call::Fallocate => {
                        let (start, end) = range()?;
                        (Syscall::Fallocate { start, end }, &["start", "end"])
                    }
                    Call::PunchHole => {
                        let (start, end) = range()?;
                        (Syscall::PunchHole { start, end }, &["start", "end"])
                    }
                    Call::Mmap => (Syscall::Mmap, &[]),
                    Call::UffdioRegister => (Syscall::UffdioRegister, &[]),
                    Call::UffdioCopy => (Syscall::UffdioCopy { page: page()? }, &["page"]),
                    Call::UffdioWake => (Syscall::UffdioWake { page: page()? }, &["page"]),
                    Call::MovePages => (Syscall::MovePages { page: page()? }, &["page"]),
                };
                (Action::Call(sc), takes)
            }
        }
    };
    if let Some(extra) = a.present().into_iter().find(|n| !takes.contains(n)) {
        return Err(arg_err(
            extra,
            format!("'{}' takes no such argument", w.action),
        ));
    }
    if w.level != action.level() {
        return Err((
            "level".into(),
            format!(
                "action '{}' is at level {:?}, not {:?}",
                w.action,
                action.level(),
                w.level
            ),
        ));
    }
    Ok((thread, action))
}
