//! Runs the model checker on one configuration and collects verdicts and discoveries.

use crate::progress::Progress;
use serde::Serialize;
use spec::properties::{by_sentence, HugeModel, HugeState};
use spec::{verdict, ModelCfg, Verdict};
use stateright::actor::ActorModelAction;
use stateright::{Checker, CheckerBuilder, Model, Path};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How to search.
#[derive(Clone, Copy, Debug)]
pub struct SearchOpts {
    /// Depth-first (with symmetry reduction) instead of breadth-first.
    pub dfs: bool,
    /// Symmetry reduction over mappers; only depth-first search uses it (Stateright 0.31).
    pub symmetry: bool,
    /// Checker threads. Breadth-first with more than one does not give shortest paths.
    pub threads: usize,
}

impl SearchOpts {
    /// The search as run on `cfg` (symmetry only where it applies to the model).
    pub fn mode(&self, cfg: &ModelCfg) -> &'static str {
        match (self.dfs, self.symmetry && spec::symmetry::applies(cfg)) {
            (true, true) => "dfs+symmetry",
            (true, false) => "dfs",
            (false, _) => "bfs",
        }
    }
}

/// One property's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct PropReport {
    pub id: &'static str,
    pub expectation: &'static str,
    pub verdict: Verdict,
    pub expected: Verdict,
}

/// One variant's run.
#[derive(Clone, Debug, Serialize)]
pub struct VariantReport {
    pub variant: String,
    pub search: &'static str,
    pub config: ModelCfg,
    pub unique_states: usize,
    pub states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    pub states_per_second: f64,
    pub properties: Vec<PropReport>,
}

impl VariantReport {
    /// Every verdict is the expected one.
    pub fn as_expected(&self) -> bool {
        self.properties.iter().all(|p| p.verdict == p.expected)
    }
}

/// A model action.
pub type Action = ActorModelAction<spec::msg::Msg, (), spec::procs::Touch>;
/// A discovered path: a counterexample or a witness.
pub type Discovery = Path<HugeState, Action>;

/// A finished run: the report and every discovery by property id.
pub struct Run {
    pub report: VariantReport,
    pub discoveries: BTreeMap<&'static str, Discovery>,
}

fn expectation_name(e: &stateright::Expectation) -> &'static str {
    match e {
        stateright::Expectation::Always => "always",
        stateright::Expectation::Eventually => "eventually",
        stateright::Expectation::Sometimes => "sometimes",
    }
}

/// Checks one configuration exhaustively.
pub fn run(cfg: &ModelCfg, opts: SearchOpts, progress: &Progress) -> Run {
    let start = Instant::now();
    let mut builder: CheckerBuilder<HugeModel> = cfg
        .clone()
        .into_model()
        .checker()
        .threads(opts.threads.max(1));
    if opts.dfs && opts.symmetry {
        builder = builder.symmetry_fn(spec::symmetry::representative);
    }
    if opts.dfs {
        finish(builder.spawn_dfs(), cfg, opts, start, progress)
    } else {
        finish(builder.spawn_bfs(), cfg, opts, start, progress)
    }
}

fn finish(
    checker: impl Checker<HugeModel>,
    cfg: &ModelCfg,
    opts: SearchOpts,
    start: Instant,
    progress: &Progress,
) -> Run {
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(20));
        progress.tick(
            cfg.variant.name(),
            checker.state_count(),
            checker.unique_state_count(),
            start.elapsed(),
        );
    }
    let checker = checker.join();
    progress.clear();
    let seconds = start.elapsed().as_secs_f64();
    let expected: BTreeMap<_, _> = verdict::expected(cfg).into_iter().collect();
    let mut discoveries = BTreeMap::new();
    let mut properties = Vec::new();
    for p in checker.model().properties() {
        let prop = by_sentence(p.name).expect("every model property is in PROPERTIES");
        let found = checker.discovery(p.name);
        properties.push(PropReport {
            id: prop.id,
            expectation: expectation_name(&p.expectation),
            verdict: Verdict::of(&p.expectation, found.is_some()),
            expected: expected[prop.id],
        });
        if let Some(path) = found {
            discoveries.insert(prop.id, path);
        }
    }
    let states = checker.state_count();
    Run {
        report: VariantReport {
            variant: cfg.variant.name().to_string(),
            search: opts.mode(cfg),
            config: cfg.clone(),
            unique_states: checker.unique_state_count(),
            states,
            max_depth: checker.max_depth(),
            seconds,
            states_per_second: states as f64 / seconds.max(1e-9),
            properties,
        },
        discoveries,
    }
}
