//! Part 3: the summary against the targets.

use crate::bare::BareRow;
use crate::breakdown::Check;
use crate::corpus::TraceRun;
use crate::stats::f;

/// Prints part 3.
pub fn part3(runs: &[TraceRun], checks: &[Check], bare_rows: &[BareRow]) {
    println!("\n## 3. Summary\n");
    let raced: Vec<_> = runs.iter().filter(|r| r.raced).collect();
    let low: Vec<_> = raced
        .iter()
        .filter(|r| (r.achieved() as f64) < 0.9 * r.reports.len() as f64)
        .collect();
    println!(
        "- Race traces achieving their interleaving in >= 90% of attempts: {} of {}{}",
        raced.len() - low.len(),
        raced.len(),
        if low.is_empty() {
            ": all.".to_string()
        } else {
            format!(
                "; below: {}.",
                low.iter()
                    .map(|r| {
                        let why = r
                            .misses()
                            .first()
                            .map_or(String::new(), |(w, n)| format!(", mostly {w} ({n}x)"));
                        format!("{} {}/{}{why}", r.name, r.achieved(), r.reports.len())
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    let bad: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
    println!(
        "- Witness replays within 3 x syscalls + start-up: {} of {}{}",
        checks.len() - bad.len(),
        checks.len(),
        if bad.is_empty() {
            ": all.".to_string()
        } else {
            format!(
                "; over: {}.",
                bad.iter()
                    .map(|c| format!(
                        "{} ({} us > {} us: start-up {}, prealloc {}, syscalls {}, \
                         observations {}, remainder {} = {} us per act over {} acts)",
                        c.name,
                        f(c.replay),
                        f(c.bound),
                        f(c.startup),
                        f(c.prealloc),
                        f(c.syscall),
                        f(c.observe),
                        f(c.remainder),
                        f(c.remainder / c.acts as f64),
                        c.acts
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    if !bare_rows.is_empty() {
        let med = |prefix: &str| {
            bare_rows
                .iter()
                .find(|r| r.what.starts_with(prefix))
                .map_or("-".into(), |r| f(r.stats.median))
        };
        println!(
            "- Against DESIGN.md section 7 (2 MiB fault about 40 us, punch of one page 2-18 us, \
             uffd round trip about 120 us): fault {} us on a cached page, {} us allocating; \
             punch of one page {} us (not mapped), {} us (mapped); uffd round trip {} us bare, \
             {} us through the replayer's actors.",
            med("fault, page"),
            med("fault that allocates"),
            med("punch, 1 page (not"),
            med("punch, 1 page (mapped"),
            med("uffd MISSING"),
            med("replayer: uffd round trip")
        );
    }
}
