//! A Stateright path (counterexample or witness) as a trace: each action by name and
//! arguments, with the host-observable state after it.

use crate::run::{Action, Discovery};
use spec::ids::{mapper_of, Ctx, Tid};
use spec::kernel::{Kernel, Op, Step as KStep};
use spec::msg::{Errno, Msg, Syscall};
use spec::page::Data;
use spec::properties::{by_id, kernel, HugeState};
use spec::{ModelCfg, TouchArea, UffdPolicy};
use stateright::actor::{ActorModelAction, Id};
use traces::{Args, Config, Kind, Level, Meta, Observed, Step, Trace, Value};

/// The trace of a discovery of property `id` in configuration `cfg`; the property is violated
/// (or reached) after the first `discovered_at` actions of `path`.
pub fn trace(
    cfg: &ModelCfg,
    id: &'static str,
    kind: Kind,
    path: &Discovery,
    discovered_at: usize,
) -> Trace {
    let prop = by_id(id).expect("a known property");
    let pairs = path.clone().into_vec();
    let mut counts = Counts::new(cfg.mappers);
    let mut steps = Vec::new();
    for w in pairs.windows(2) {
        let (before, Some(action)) = (&w[0].0, &w[0].1) else {
            continue;
        };
        let after = &w[1].0;
        let mut step = step(cfg, before, after, action);
        counts.count(&step);
        step.index = steps.len();
        step.observed = observe(cfg, after, &counts);
        steps.push(step);
    }
    Trace {
        meta: Meta {
            format: traces::FORMAT_VERSION,
            variant: cfg.variant.name().to_string(),
            config: config(cfg),
            property: id.to_string(),
            sentence: prop.sentence.to_string(),
            kind,
            discovered_at,
            description: crate::export_text::description(cfg, id, kind),
            expected_host_outcome: crate::export_text::host_outcome(cfg, id, kind),
        },
        steps,
    }
}

/// The model configuration as the trace records it.
pub fn config(cfg: &ModelCfg) -> Config {
    Config {
        pages: cfg.pages,
        hole_start: cfg.hole_start,
        hole_end: cfg.hole_end,
        mappers: cfg.mappers,
        touches: cfg.touches,
        touch_area: match cfg.touch_area {
            TouchArea::OutsideHole => "outside_hole",
            TouchArea::Anywhere => "anywhere",
        }
        .into(),
        writes: cfg.writes,
        uffd: match cfg.uffd {
            UffdPolicy::None => "none",
            UffdPolicy::Sigbus => "sigbus",
            UffdPolicy::Copy => "copy",
        }
        .into(),
        fault_mutex_slots: cfg.fault_mutex_slots,
        hole_reuse: cfg.hole_reuse,
    }
}

/// MISSING events read and SIGBUS raised so far, per mapper.
struct Counts {
    missing: Vec<u32>,
    sigbus: Vec<u32>,
}

impl Counts {
    fn new(mappers: u8) -> Self {
        Counts {
            missing: vec![0; mappers as usize],
            sigbus: vec![0; mappers as usize],
        }
    }

    fn count(&mut self, s: &Step) {
        let m = || mapper_number(&s.actor);
        match s.action.as_str() {
            "uffd_missing" => self.missing[m()] += 1,
            "sigbus" => self.sigbus[m()] += 1,
            _ => {}
        }
    }
}

fn mapper_number(actor: &str) -> usize {
    actor
        .strip_prefix("mapper")
        .and_then(|n| n.parse().ok())
        .expect("a mapper actor")
}

/// `manager`, `mapper<N>`, `migrator` or `kernel`.
pub fn actor_name(cfg: &ModelCfg, id: Id) -> String {
    match (usize::from(id), mapper_of(id, cfg.mappers)) {
        (0, _) => "manager".into(),
        (_, Some(m)) => format!("mapper{m}"),
        (_, None) if cfg.migrators > 0 && id == spec::ids::migrator_id(cfg.mappers) => {
            "migrator".into()
        }
        _ => "kernel".into(),
    }
}

fn thread_name(cfg: &ModelCfg, t: Tid) -> String {
    let p = actor_name(cfg, t.pid);
    match t.ctx {
        Ctx::Main => p,
        Ctx::Handler => format!("{p}.handler"),
    }
}

fn syscall_name(sc: Syscall) -> &'static str {
    match sc {
        Syscall::Fallocate { .. } => "fallocate",
        Syscall::PunchHole { .. } => "punch_hole",
        Syscall::Mmap => "mmap",
        Syscall::UffdioRegister => "uffdio_register",
        Syscall::UffdioCopy { .. } => "uffdio_copy",
        Syscall::UffdioWake { .. } => "uffdio_wake",
        Syscall::MovePages { .. } => "move_pages",
    }
}

fn syscall_ctx(sc: Syscall) -> Ctx {
    match sc {
        Syscall::UffdioCopy { .. } | Syscall::UffdioWake { .. } => Ctx::Handler,
        _ => Ctx::Main,
    }
}

fn syscall_args(sc: Syscall) -> Args {
    match sc {
        Syscall::Fallocate { start, end } | Syscall::PunchHole { start, end } => Args {
            start: Some(start),
            end: Some(end),
            ..Args::default()
        },
        Syscall::UffdioCopy { page }
        | Syscall::UffdioWake { page }
        | Syscall::MovePages { page } => Args {
            page: Some(page),
            ..Args::default()
        },
        Syscall::Mmap | Syscall::UffdioRegister => Args::default(),
    }
}

fn errno_name(e: Errno) -> &'static str {
    match e {
        Errno::EEXIST => "EEXIST",
        Errno::ENOMEM => "ENOMEM",
        Errno::ENOSPC => "ENOSPC",
    }
}

/// A page's content as a trace value.
pub fn value(d: Data) -> Value {
    match d {
        Data::Zero => Value::Zero,
        Data::Marker => Value::Marker,
        Data::Fill(m) => Value::Fill(m),
        Data::Written(m) => Value::Written(m),
    }
}

/// The page a kernel step works on, for the trace. The removal loop's head looks its page up,
/// so that one comes from the state after the step.
fn step_page(before: &Kernel, after: &Kernel, t: Tid, step: KStep) -> Option<u8> {
    let slot = Kernel::slot(t);
    match before.threads[slot]?.op {
        Op::Fault { page, .. } | Op::UffdioCopy { page } | Op::UffdioWake { page } => Some(page),
        Op::Fallocate { next, end, .. } if next < end => Some(next),
        Op::MovePages(mg) => Some(mg.idx),
        Op::PunchHole(p) => match step {
            KStep::HugetlbfsPunchHole | KStep::HugetlbVmdeleteList => None,
            KStep::RemoveInodeHugepages => match after.threads[slot]?.op {
                Op::PunchHole(p) => Some(p.cur),
                _ => None,
            },
            _ => Some(p.cur),
        },
        _ => None,
    }
}

/// One model action as a trace step (index and observations are filled in by the caller).
fn step(cfg: &ModelCfg, before: &HugeState, after: &HugeState, action: &Action) -> Step {
    let blank = |actor: String, thread: String, level, action: &str, args| Step {
        index: 0,
        actor,
        thread,
        level,
        action: action.to_string(),
        args,
        observed: Observed {
            file: vec![],
            mapped: vec![],
            missing: vec![],
            sigbus: vec![],
        },
    };
    let k = kernel(before);
    match action {
        ActorModelAction::SelectRandom { actor, random, .. } => {
            let a = actor_name(cfg, *actor);
            let args = Args {
                page: Some(random.page),
                write: Some(random.write),
                ..Args::default()
            };
            blank(a.clone(), a, Level::Access, "touch", args)
        }
        ActorModelAction::Deliver { src, dst, msg } => match *msg {
            Msg::Start => {
                let a = actor_name(cfg, *dst);
                blank(a.clone(), a, Level::Syscall, "start", Args::default())
            }
            Msg::Syscall(sc) => blank(
                actor_name(cfg, *src),
                thread_name(
                    cfg,
                    Tid {
                        pid: *src,
                        ctx: syscall_ctx(sc),
                    },
                ),
                Level::Syscall,
                syscall_name(sc),
                syscall_args(sc),
            ),
            Msg::Step(t, s) => {
                let args = Args {
                    page: step_page(k, kernel(after), t, s),
                    ..Args::default()
                };
                blank(
                    "kernel".into(),
                    thread_name(cfg, t),
                    Level::Kernel,
                    s.name(),
                    args,
                )
            }
            Msg::Return(sc, ret) => {
                let args = Args {
                    call: Some(syscall_name(sc).into()),
                    ret: Some(ret.map_or_else(|e| errno_name(e).into(), |()| "ok".into())),
                    ..Args::default()
                };
                let t = Tid {
                    pid: *dst,
                    ctx: syscall_ctx(sc),
                };
                blank(
                    actor_name(cfg, *dst),
                    thread_name(cfg, t),
                    Level::Syscall,
                    "return",
                    args,
                )
            }
            Msg::Access { page, write } => {
                let m = mapper_of(*src, cfg.mappers).expect("a mapper touches");
                let args = Args {
                    page: Some(page),
                    write: Some(write),
                    hit: Some(k.mms[m as usize].ptes[page as usize].is_some()),
                    ..Args::default()
                };
                let a = actor_name(cfg, *src);
                blank(a.clone(), a, Level::Access, "mmu", args)
            }
            Msg::Touched {
                page,
                write,
                value: v,
            } => {
                let args = Args {
                    page: Some(page),
                    write: Some(write),
                    value: Some(value(v)),
                    ..Args::default()
                };
                let a = actor_name(cfg, *dst);
                blank(a.clone(), a, Level::Access, "touched", args)
            }
            Msg::Sigbus { page } => {
                let args = Args {
                    page: Some(page),
                    ..Args::default()
                };
                let a = actor_name(cfg, *dst);
                blank(a.clone(), a, Level::Uffd, "sigbus", args)
            }
            Msg::UffdMissing { page, write } => {
                let args = Args {
                    page: Some(page),
                    write: Some(write),
                    ..Args::default()
                };
                let a = actor_name(cfg, *dst);
                blank(
                    a.clone(),
                    format!("{a}.handler"),
                    Level::Uffd,
                    "uffd_missing",
                    args,
                )
            }
        },
        other => panic!("the model has no {other:?} actions"),
    }
}

/// What a host can see of a model state.
fn observe(cfg: &ModelCfg, s: &HugeState, counts: &Counts) -> Observed {
    let k = kernel(s);
    Observed {
        file: k.cache.iter().map(|p| p.map(|p| value(p.data))).collect(),
        mapped: k
            .mms
            .iter()
            .map(|mm| {
                (0..cfg.pages)
                    .filter(|&i| mm.ptes[i as usize].is_some())
                    .collect()
            })
            .collect(),
        missing: counts.missing.clone(),
        sigbus: counts.sigbus.clone(),
    }
}
