//! `hugepunch explore`: Stateright's Explorer over the model, for interactive review.
//!
//! The Explorer is Stateright's own web UI (`CheckerBuilder::serve`): an on-demand checker
//! that expands the states a reviewer clicks through, and runs to completion on request.
//! Its routes: `/` the UI, `#/steps/0` the initial state, `#/steps/0/i/j` the state after
//! the `i`-th action of the initial state and the `j`-th action of that one; the UI fetches
//! `/.states/0/i/j` (JSON) and `/.status`.
//!
//! The model is served through [`Explorable`], which delegates everything to the actor
//! model and only changes how actions, steps and the sequence diagram are written: actors
//! by name (`manager`, `mapper0`, `kernel`) instead of `Id(n)`, kernel steps by the kernel
//! function they stand for (the names traces use). No symmetry reduction: the Explorer's
//! checker is Stateright's on-demand one, which ignores it anyway (DESIGN.md section 3).
//!
//! Stateright 0.31's on-demand checker overwrites a discovery with every later state that
//! violates (or satisfies, for `sometimes`) the property, so the Explorer's counterexample
//! and example links are valid paths but neither the first nor the shortest: the shortest
//! are the traces `hugepunch traces` writes.

use crate::cfg_args::CfgArgs;
use crate::export::role;
use crate::run::Action;
use clap::Args;
use spec::ids::Tid;
use spec::msg::Msg;
use spec::{HugeModel, HugeState, ModelCfg, Variant};
use stateright::actor::{ActorModelAction, Id};
use stateright::{Model, Path, Property};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::process::ExitCode;

#[derive(Args)]
#[command(mut_arg("variant", |a| a
    .default_value("v4_4")
    .help("Kernel variant: exactly one (`all` is refused here)")))]
pub struct ExploreArgs {
    #[command(flatten)]
    pub cfg: CfgArgs,
    /// Address to serve on: a loopback address only (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: String,
}

/// `hugepunch explore`: serve the Explorer until killed. Exit 2 on bad arguments (including
/// `--variant all` and a non-loopback `--addr`), 1 when the address cannot be bound.
pub fn command(args: ExploreArgs) -> ExitCode {
    let cfg = match one_config(&args.cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hugepunch explore: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = match loopback_addr(&args.addr) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hugepunch explore: {e}");
            return ExitCode::from(2);
        }
    };
    // Bind once here to report a busy port cleanly (Stateright's server panics on it) and
    // to resolve port 0; the Explorer binds the same address right after.
    let addr = match TcpListener::bind(addr).and_then(|l| l.local_addr()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hugepunch explore: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", describe(&cfg));
    println!(
        "hugepunch explore: serving Stateright's Explorer at http://{addr}/ (runs until killed)"
    );
    println!("hugepunch explore: initial state at http://{addr}/#/steps/0");
    Explorable::new(cfg).checker().serve(addr);
    ExitCode::SUCCESS
}

/// The one configuration `--variant` and the model flags select.
pub fn one_config(args: &CfgArgs) -> Result<ModelCfg, String> {
    if args.variant == "all" {
        let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
        return Err(format!(
            "--variant all: the Explorer serves one variant; pick one of {}",
            names.join(", ")
        ));
    }
    let mut cfgs = args.configs()?;
    assert_eq!(cfgs.len(), 1, "one variant, one configuration");
    Ok(cfgs.remove(0))
}

/// The address `--addr` names, if every address it resolves to is a loopback one.
pub fn loopback_addr(addr: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("--addr {addr}: {e}"))?
        .collect();
    if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "--addr {addr}: {} is not a loopback address; the Explorer has no authentication \
             and serves on localhost only (e.g. 127.0.0.1:3000 or [::1]:3000)",
            a.ip()
        ));
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| format!("--addr {addr}: resolves to no address"))
}

fn describe(cfg: &ModelCfg) -> String {
    format!("hugepunch explore: {cfg}")
}

/// The model as the Explorer shows it: [`HugeModel`] with actors named in its text.
pub struct Explorable {
    model: HugeModel,
    /// Actor names by id: `manager`, `mapper<N>`, `migrator`, `kernel`.
    names: Vec<String>,
}

impl Explorable {
    pub fn new(cfg: ModelCfg) -> Self {
        let names = spec::node::nodes(&cfg)
            .iter()
            .map(|n| n.role.to_string())
            .collect();
        Explorable {
            model: cfg.into_model(),
            names,
        }
    }

    fn name(&self, id: Id) -> &str {
        &self.names[usize::from(id)]
    }

    /// `text` with every `Id(n)` written as actor `n`'s name.
    fn rename(&self, text: &str) -> String {
        self.names
            .iter()
            .enumerate()
            .fold(text.to_string(), |t, (i, name)| {
                t.replace(&format!("Id({i})"), name)
            })
    }

    fn thread(&self, t: Tid) -> String {
        traces::Thread {
            process: role(&self.model.cfg, t.pid()),
            ctx: t.ctx,
        }
        .to_string()
    }
}

impl Model for Explorable {
    type State = HugeState;
    type Action = Action;

    fn init_states(&self) -> Vec<HugeState> {
        self.model.init_states()
    }

    fn actions(&self, state: &HugeState, actions: &mut Vec<Action>) {
        self.model.actions(state, actions)
    }

    fn next_state(&self, last_state: &HugeState, action: Action) -> Option<HugeState> {
        self.model.next_state(last_state, action)
    }

    /// `manager → kernel: Syscall(Fallocate { start: 0, end: 2 })`,
    /// `kernel [manager] hugetlbfs_fallocate:mutex_lock`, `mapper0 touches Touch { .. }`.
    fn format_action(&self, action: &Action) -> String {
        match action {
            ActorModelAction::Deliver {
                msg: Msg::Step(t, step),
                ..
            } => format!("kernel [{}] {}", self.thread(*t), step.name()),
            ActorModelAction::Deliver { src, dst, msg } => self.rename(&format!(
                "{} → {}: {msg:?}",
                self.name(*src),
                self.name(*dst)
            )),
            ActorModelAction::SelectRandom { actor, random, .. } => {
                format!("{} touches {random:?}", self.name(*actor))
            }
            other => self.rename(&format!("{other:?}")),
        }
    }

    /// The actor model's step text (`OUT`, `NEXT_STATE` and `PREV_STATE` of the actor that
    /// took the step), with actors named.
    fn format_step(&self, last_state: &HugeState, action: Action) -> Option<String> {
        let actor = match &action {
            ActorModelAction::Deliver { dst, .. } => self.name(*dst).to_string(),
            ActorModelAction::SelectRandom { actor, .. } => self.name(*actor).to_string(),
            _ => String::new(),
        };
        let step = self.format_action(&action);
        self.model
            .format_step(last_state, action)
            .map(|s| format!("STEP: {step}\nACTOR: {actor}\n\n{}", self.rename(&s)))
    }

    /// The actor model's sequence diagram: its lifelines are labelled by `Node::name`, and
    /// messages name actors instead of `Id(n)`.
    fn as_svg(&self, path: Path<HugeState, Action>) -> Option<String> {
        let svg = self.model.as_svg(path)?;
        Some(self.rename(&svg))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        spec::properties::properties()
    }

    fn within_boundary(&self, state: &HugeState) -> bool {
        Model::within_boundary(&self.model, state)
    }
}

impl spec::properties::Wraps for Explorable {
    type Inner = HugeModel;
    fn wrapped(&self) -> &HugeModel {
        &self.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_loopback_addresses() {
        assert!(loopback_addr("127.0.0.1:3000").is_ok());
        assert!(loopback_addr("[::1]:0").is_ok());
        for a in ["0.0.0.0:3000", "192.168.1.2:3000", "[::]:3000"] {
            let e = loopback_addr(a).unwrap_err();
            assert!(e.contains("not a loopback address"), "{a}: {e}");
        }
    }

    #[test]
    fn same_model_as_check() {
        use stateright::Checker;
        let cfg = ModelCfg {
            pages: 3,
            hole_start: 1,
            hole_end: 2,
            mappers: 1,
            ..ModelCfg::for_variant(Variant::V4_4)
        };
        let explorable = Explorable::new(cfg.clone()).checker().spawn_bfs().join();
        let plain = cfg.into_model().checker().spawn_bfs().join();
        assert_eq!(explorable.unique_state_count(), plain.unique_state_count());
        let names = |m: Vec<&'static str>| {
            let mut m = m;
            m.sort();
            m
        };
        assert_eq!(
            names(explorable.discoveries().into_keys().collect()),
            names(plain.discoveries().into_keys().collect())
        );
        assert!(!plain.discoveries().is_empty());
    }

    #[test]
    fn names_the_actors() {
        let e = Explorable::new(ModelCfg::for_variant(Variant::V4_4));
        let mut actions = Vec::new();
        e.actions(&e.init_states()[0], &mut actions);
        let text: Vec<_> = actions.iter().map(|a| e.format_action(a)).collect();
        assert_eq!(
            text,
            ["manager → kernel: Syscall(Fallocate { start: 0, end: 2 })"]
        );
    }
}
