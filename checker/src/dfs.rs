//! `hugepunch check --dfs`: a depth-first search over a Stateright [`Model`], run as a
//! Stateright [`Checker`], without three costs of Stateright's own `DfsChecker` that its
//! profile shows (docs/benchmarks.md, issue 10; about a third of the samples there):
//!
//! - a pending state carries its path as a shared trail of action indices (one small node per
//!   state), not a copy of the whole vector of indices per state;
//! - a property already discovered is not evaluated again, and whether one is discovered is a
//!   bit of a word read once per block, not a lookup of its name in a SipHash map per state;
//! - with symmetry reduction only the representative is fingerprinted (Stateright also
//!   fingerprints the state itself and drops the result).
//!
//! Everything else is Stateright's: the model, its actions and properties, the symmetry
//! function, blocks of 1,500 states between checks of the state bound and of work to share,
//! successors explored last action first, a state terminal when no action has a successor,
//! `eventually` properties tracked per path and discovered at terminal states, paths as
//! [`Path`]. It visits the same states and counts them the same way (`checker/tests/dfs.rs`
//! compares both checkers on every variant and family: states, unique states, verdicts). What
//! differs: a property's discovery is the first one found (Stateright's is the last one
//! written), and a search whose every property has a discovery stops at once.

use dashmap::DashSet;
use nohash_hasher::BuildNoHashHasher;
use stateright::{Checker, Expectation, Model, Path, Property};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// States a thread visits between checks of the bound and of idle threads (Stateright's).
const BLOCK: usize = 1500;

/// A symmetry reduction: a state's representative (Stateright's `symmetry_fn`).
pub type Representative<S> = fn(&S) -> S;

/// A discovery: the initial state's index and the action indices from it.
type Found = (u32, Vec<u32>);

/// The path to a pending state: the index of the last action among its predecessor's actions,
/// and the path to the predecessor.
struct Trail {
    parent: Option<Arc<Trail>>,
    action: u32,
}

/// A state to visit.
struct Job<S> {
    state: S,
    /// Which initial state the path starts from, and its actions.
    init: u32,
    trail: Option<Arc<Trail>>,
    /// Bit `i`: `eventually` property `i` has not held yet on this path.
    ebits: u64,
    depth: usize,
}

/// Work handed between threads, and who waits for it.
struct Broker<S> {
    jobs: Vec<Vec<Job<S>>>,
    waiting: usize,
    closed: bool,
}

/// The search, shared by its threads.
struct Search<M: Model> {
    model: M,
    properties: Vec<Property<M>>,
    symmetry: Option<Representative<M::State>>,
    threads: usize,
    target_state_count: Option<usize>,
    generated: DashSet<u64, BuildNoHashHasher<u64>>,
    state_count: AtomicUsize,
    max_depth: AtomicUsize,
    /// Bit `i`: property `i` has a discovery.
    found: AtomicU64,
    /// By property: the initial state and action indices of its first discovery.
    discoveries: Mutex<Vec<Option<Found>>>,
    broker: Mutex<Broker<M::State>>,
    wake: Condvar,
    done: AtomicBool,
}

/// A depth-first search in progress or finished: see the module comment.
pub struct Dfs<M: Model> {
    search: Arc<Search<M>>,
    handles: Vec<JoinHandle<()>>,
}

/// Fingerprints, as Stateright's: ahash with fixed keys.
fn fingerprint<T: Hash>(t: &T) -> u64 {
    ahash::RandomState::with_seeds(
        0x6f68_7074_6f6e_5f31,
        0x6875_6765_7075_6e63,
        0x6466_735f_6669_6e67,
        0x6572_7072_696e_7421,
    )
    .hash_one(t)
}

/// Starts a depth-first search of `model` on `threads` threads, reducing by `symmetry` if given
/// and stopping after `target_state_count` generated states if given (as Stateright's
/// `CheckerBuilder::target_state_count`).
pub fn spawn<M>(
    model: M,
    threads: usize,
    symmetry: Option<Representative<M::State>>,
    target_state_count: Option<usize>,
) -> Dfs<M>
where
    M: Model + Send + Sync + 'static,
    M::State: Hash + Send + Sync + 'static,
{
    let properties = model.properties();
    assert!(properties.len() <= 64, "a word of property bits");
    let inits: Vec<M::State> = model
        .init_states()
        .into_iter()
        .filter(|s| model.within_boundary(s))
        .collect();
    let generated = DashSet::default();
    for s in &inits {
        generated.insert(match symmetry {
            Some(r) => fingerprint(&r(s)),
            None => fingerprint(s),
        });
    }
    let ebits = properties
        .iter()
        .enumerate()
        .filter(|(_, p)| p.expectation == Expectation::Eventually)
        .fold(0, |acc, (i, _)| acc | 1 << i);
    let jobs: Vec<Job<M::State>> = inits
        .into_iter()
        .enumerate()
        .map(|(i, state)| Job {
            state,
            init: i as u32,
            trail: None,
            ebits,
            depth: 1,
        })
        .collect();
    let threads = threads.max(1);
    let search = Arc::new(Search {
        state_count: AtomicUsize::new(jobs.len()),
        discoveries: Mutex::new(vec![None; properties.len()]),
        properties,
        symmetry,
        threads,
        target_state_count,
        generated,
        max_depth: AtomicUsize::new(0),
        found: AtomicU64::new(0),
        broker: Mutex::new(Broker {
            jobs: vec![jobs],
            waiting: 0,
            closed: false,
        }),
        wake: Condvar::new(),
        done: AtomicBool::new(false),
        model,
    });
    let handles = (0..threads)
        .map(|t| {
            let search = Arc::clone(&search);
            std::thread::Builder::new()
                .name(format!("dfs-{t}"))
                .spawn(move || search.work())
                .expect("spawning a search thread")
        })
        .collect();
    Dfs { search, handles }
}

impl<M: Model> Search<M>
where
    M::State: Hash,
{
    /// One thread: visit its own stack of states, taking work when it has none and sharing
    /// when another thread waits.
    fn work(&self) {
        let mut stack: Vec<Job<M::State>> = Vec::new();
        let mut actions = Vec::new();
        loop {
            if stack.is_empty() {
                match self.take() {
                    Some(jobs) => stack = jobs,
                    None => return,
                }
            }
            let mut found = self.found.load(Ordering::Relaxed);
            let (mut generated, mut depth) = (0, 0);
            for _ in 0..BLOCK {
                let Some(job) = stack.pop() else { break };
                depth = depth.max(job.depth);
                generated += self.visit(job, &mut stack, &mut actions, &mut found);
            }
            self.max_depth.fetch_max(depth, Ordering::Relaxed);
            let count = self.state_count.fetch_add(generated, Ordering::Relaxed) + generated;
            let all = u64::MAX >> (64 - self.properties.len().max(1));
            if self.done.load(Ordering::Relaxed)
                || (!self.properties.is_empty() && found & all == all)
                || self.target_state_count.is_some_and(|n| count >= n)
            {
                return self.close();
            }
            if stack.len() > 1 && self.threads > 1 {
                self.share(&mut stack);
            }
        }
    }

    /// Work from the broker, or `None` when every thread is out of work or the search ended.
    fn take(&self) -> Option<Vec<Job<M::State>>> {
        let mut b = self.broker.lock().expect("broker lock");
        loop {
            if b.closed {
                return None;
            }
            if let Some(jobs) = b.jobs.pop() {
                return Some(jobs);
            }
            b.waiting += 1;
            if b.waiting == self.threads {
                b.closed = true;
                self.done.store(true, Ordering::Relaxed);
                self.wake.notify_all();
                return None;
            }
            b = self.wake.wait(b).expect("broker lock");
            b.waiting -= 1;
        }
    }

    /// Hands the bottom half of the stack (the shallowest states) to a waiting thread.
    fn share(&self, stack: &mut Vec<Job<M::State>>) {
        let mut b = self.broker.lock().expect("broker lock");
        if b.waiting > 0 && b.jobs.is_empty() {
            b.jobs.push(stack.drain(..stack.len() / 2).collect());
            self.wake.notify_one();
        }
    }

    /// Ends the search for every thread.
    fn close(&self) {
        let mut b = self.broker.lock().expect("broker lock");
        b.closed = true;
        self.done.store(true, Ordering::Relaxed);
        self.wake.notify_all();
    }

    /// Checks the properties in one state and pushes its new successors; returns how many
    /// successors it generated.
    fn visit(
        &self,
        job: Job<M::State>,
        stack: &mut Vec<Job<M::State>>,
        actions: &mut Vec<M::Action>,
        found: &mut u64,
    ) -> usize {
        let mut ebits = job.ebits;
        for (i, p) in self.properties.iter().enumerate() {
            let bit = 1u64 << i;
            let holds = || (p.condition)(&self.model, &job.state);
            match p.expectation {
                _ if *found & bit != 0 && ebits & bit == 0 => {}
                Expectation::Always if !holds() => self.discover(i, &job, found),
                Expectation::Sometimes if holds() => self.discover(i, &job, found),
                Expectation::Eventually if holds() => ebits &= !bit,
                _ => {}
            }
        }
        let mut generated = 0;
        self.model.actions(&job.state, actions);
        for (index, action) in actions.drain(..).enumerate() {
            let Some(next) = self.model.next_state(&job.state, action) else {
                continue;
            };
            if !self.model.within_boundary(&next) {
                continue;
            }
            generated += 1;
            let fp = match self.symmetry {
                Some(r) => fingerprint(&r(&next)),
                None => fingerprint(&next),
            };
            if !self.generated.insert(fp) {
                continue;
            }
            stack.push(Job {
                state: next,
                init: job.init,
                trail: Some(Arc::new(Trail {
                    parent: job.trail.clone(),
                    action: index as u32,
                })),
                ebits,
                depth: job.depth + 1,
            });
        }
        if generated == 0 {
            for i in 0..self.properties.len() {
                if ebits & (1 << i) != 0 {
                    self.discover(i, &job, found);
                }
            }
        }
        generated
    }

    /// Keeps the path to `job` as property `i`'s discovery unless it has one.
    fn discover(&self, i: usize, job: &Job<M::State>, found: &mut u64) {
        *found |= 1 << i;
        if self.found.fetch_or(1 << i, Ordering::Relaxed) & (1 << i) != 0 {
            return;
        }
        let mut indices = Vec::new();
        let mut at = job.trail.as_deref();
        while let Some(t) = at {
            indices.push(t.action);
            at = t.parent.as_deref();
        }
        indices.reverse();
        let mut d = self.discoveries.lock().expect("discoveries lock");
        d[i].get_or_insert((job.init, indices));
    }
}

impl<M> Checker<M> for Dfs<M>
where
    M: Model,
    M::State: Hash,
{
    fn model(&self) -> &M {
        &self.search.model
    }

    fn state_count(&self) -> usize {
        self.search.state_count.load(Ordering::Relaxed)
    }

    fn unique_state_count(&self) -> usize {
        self.search.generated.len()
    }

    fn max_depth(&self) -> usize {
        self.search.max_depth.load(Ordering::Relaxed)
    }

    /// Each discovery's path, rebuilt by replaying its action indices from its initial state.
    fn discoveries(&self) -> HashMap<&'static str, Path<M::State, M::Action>>
    where
        M::State: Clone + PartialEq,
        M::Action: Clone + PartialEq,
    {
        let model = &self.search.model;
        let inits: Vec<M::State> = model
            .init_states()
            .into_iter()
            .filter(|s| model.within_boundary(s))
            .collect();
        let d = self.search.discoveries.lock().expect("discoveries lock");
        let mut out = HashMap::new();
        for (p, found) in self.search.properties.iter().zip(d.iter()) {
            let Some((init, indices)) = found else {
                continue;
            };
            let first = inits[*init as usize].clone();
            let (mut state, mut taken, mut actions) = (first.clone(), Vec::new(), Vec::new());
            for &i in indices {
                model.actions(&state, &mut actions);
                let a = actions.swap_remove(i as usize);
                actions.clear();
                state = model
                    .next_state(&state, a.clone())
                    .expect("a discovery's action has a successor");
                taken.push(a);
            }
            let path = Path::from_actions(model, first, &taken)
                .expect("a discovery replays from its initial state");
            out.insert(p.name, path);
        }
        out
    }

    fn handles(&mut self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.handles)
    }

    fn is_done(&self) -> bool {
        self.search.done.load(Ordering::Relaxed)
    }
}
