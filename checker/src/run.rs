//! Runs the model checker on one configuration and collects verdicts and discoveries.

use crate::bounded::Bounded;
use crate::progress::{Figures, Progress};
use serde::Serialize;
use spec::properties::{by_sentence, HugeState};
use spec::{verdict, ModelCfg, Verdict};
use stateright::actor::ActorModelAction;
use stateright::{Checker, CheckerBuilder, Model, Path};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How to search.
#[derive(Clone, Copy, Debug)]
pub struct SearchOpts {
    /// Depth-first (with symmetry reduction) instead of breadth-first.
    pub dfs: bool,
    /// Symmetry reduction over mappers; only depth-first search uses it (Stateright 0.31).
    pub symmetry: bool,
    /// Partial-order reduction (`spec::engine::Engine::reduced`).
    pub por: bool,
    /// Checker threads. Breadth-first with more than one does not give shortest paths.
    pub threads: usize,
    /// Stop once this many states have been generated.
    pub max_states: Option<usize>,
    /// Stop after this long.
    pub max_time: Option<Duration>,
}

impl SearchOpts {
    /// The search as run on `cfg` (symmetry only where it applies to the model).
    pub fn mode(&self, cfg: &ModelCfg) -> &'static str {
        match (
            self.dfs,
            self.symmetry && spec::symmetry::applies(cfg),
            self.por,
        ) {
            (true, true, false) => "dfs+symmetry",
            (true, false, false) => "dfs",
            (false, _, false) => "bfs",
            (true, true, true) => "dfs+symmetry+por",
            (true, false, true) => "dfs+por",
            (false, _, true) => "bfs+por",
        }
    }
}

/// A property's outcome: a verdict, or none when a bound stopped the search before it was
/// decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Decided(Verdict),
    /// The search stopped at `--max-states` or `--max-seconds` without a discovery: an
    /// `always` or `eventually` property may still be violated, a `sometimes` one reached.
    Incomplete,
}

impl Outcome {
    /// The outcome of a property given whether the search found a path for it and whether the
    /// search ran to its end. A discovery decides a property even in a stopped search.
    pub fn of(expectation: &stateright::Expectation, discovered: bool, complete: bool) -> Self {
        if complete || discovered {
            Outcome::Decided(Verdict::of(expectation, discovered))
        } else {
            Outcome::Incomplete
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Decided(v) => v.name(),
            Outcome::Incomplete => "incomplete",
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One property's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct PropReport {
    pub id: &'static str,
    pub expectation: &'static str,
    pub verdict: Outcome,
    pub expected: Verdict,
}

/// Why a search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Every reachable state was explored (or every property has a discovery).
    Exhausted,
    /// `--max-states`: at least that many states were generated.
    MaxStates,
    /// `--max-seconds`: the time ran out.
    MaxSeconds,
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
    /// Why the search ended; anything but `exhausted` leaves undecided properties
    /// `incomplete`.
    pub stop: Stop,
    pub properties: Vec<PropReport>,
    /// The final figures, as the progress line prints them.
    pub figures: Figures,
}

impl VariantReport {
    /// Every property is decided and its verdict is the expected one.
    pub fn as_expected(&self) -> bool {
        self.properties
            .iter()
            .all(|p| p.verdict == Outcome::Decided(p.expected))
    }

    /// Every decided verdict is the expected one (some may be incomplete).
    pub fn decided_as_expected(&self) -> bool {
        self.properties
            .iter()
            .all(|p| p.verdict == Outcome::Incomplete || p.verdict == Outcome::Decided(p.expected))
    }

    /// The search stopped at a bound.
    pub fn incomplete(&self) -> bool {
        self.stop != Stop::Exhausted
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
    let engine = if opts.por {
        spec::engine::Engine::reduced(cfg)
    } else {
        spec::engine::Engine::new(cfg)
    };
    let model = Bounded::new(engine);
    let switch = model.switch();
    if opts.dfs {
        let symmetry = spec::symmetry::reduction(cfg).filter(|_| opts.symmetry);
        let dfs = crate::dfs::spawn(model, opts.threads, symmetry, opts.max_states);
        return finish(dfs, cfg, opts, start, progress, &switch);
    }
    let mut builder: CheckerBuilder<Bounded> = model.checker().threads(opts.threads.max(1));
    if let Some(n) = opts.max_states {
        builder = builder.target_state_count(n);
    }
    finish(builder.spawn_bfs(), cfg, opts, start, progress, &switch)
}

fn finish(
    checker: impl Checker<Bounded>,
    cfg: &ModelCfg,
    opts: SearchOpts,
    start: Instant,
    progress: &Progress,
    switch: &AtomicBool,
) -> Run {
    let what = format!("{} {}", cfg.variant.name(), opts.mode(cfg));
    let figures = |c: &dyn Fn() -> (usize, usize, usize)| {
        let (states, unique, depth) = c();
        Figures::new(states, unique, depth, start.elapsed())
    };
    // The figures when --max-seconds stopped the search: the states the stopped search then
    // re-generates (each its own successor) are not counted.
    let mut stopped_at = None;
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(20));
        let f = figures(&|| {
            (
                checker.state_count(),
                checker.unique_state_count(),
                checker.max_depth(),
            )
        });
        progress.tick(&what, &f);
        if stopped_at.is_none() && opts.max_time.is_some_and(|t| start.elapsed() >= t) {
            switch.store(true, Ordering::Relaxed);
            stopped_at = Some((checker.state_count(), start.elapsed()));
        }
    }
    let checker = checker.join();
    // Paths are rebuilt by replaying their actions: with the model's own successors again.
    switch.store(false, Ordering::Relaxed);
    let (states, elapsed) = stopped_at.unwrap_or_else(|| (checker.state_count(), start.elapsed()));
    let seconds = elapsed.as_secs_f64();
    let fig = Figures::new(
        states,
        checker.unique_state_count(),
        checker.max_depth(),
        elapsed,
    );
    progress.done(&what, &fig);
    // Stateright does not say whether its target state count ended the search, only that it
    // ended. A search that reached it is taken as stopped by it, even one that would have
    // ended there anyway: "incomplete" may be too cautious, never wrong.
    let stop = if stopped_at.is_some() {
        Stop::MaxSeconds
    } else if opts.max_states.is_some_and(|n| states >= n) {
        Stop::MaxStates
    } else {
        Stop::Exhausted
    };
    let expected: BTreeMap<_, _> = verdict::expected(cfg).into_iter().collect();
    let mut discoveries = BTreeMap::new();
    let mut properties = Vec::new();
    // Discoveries are shown as paths of the actor model: the same actions, its states.
    let actor = checker.model().inner.actor_model();
    for p in checker.model().properties() {
        let prop = by_sentence(p.name).expect("every model property is in PROPERTIES");
        let found = checker.discovery(p.name);
        properties.push(PropReport {
            id: prop.id,
            expectation: expectation_name(&p.expectation),
            verdict: Outcome::of(&p.expectation, found.is_some(), stop == Stop::Exhausted),
            expected: expected[prop.id],
        });
        if let Some(path) = found {
            let path = checker.model().inner.path_to_actor(&actor, path);
            discoveries.insert(prop.id, path);
        }
    }
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
            stop,
            properties,
            figures: fig,
        },
        discoveries,
    }
}
