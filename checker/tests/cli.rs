//! The `hugepunch` binary, run as a user would: `hugepunch check` output and exit codes.

use serde_json::Value;
use spec::{ModelCfg, Variant, Verdict, PROPERTIES};
use stateright::{Checker, Expectation, Model};
use std::process::{Command, Output};

fn hugepunch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hugepunch"))
        .args(args)
        .output()
        .expect("hugepunch runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

fn expectation_name(e: &Expectation) -> &'static str {
    match e {
        Expectation::Always => "always",
        Expectation::Eventually => "eventually",
        Expectation::Sometimes => "sometimes",
    }
}

/// The 2015 variants leak the hole; every other keeps it free.
fn leaks(v: Variant) -> bool {
    v.features().skips_mapped_page()
}

/// `check --variant v4_4 --json`: one JSON object whose figures and verdicts are those of a
/// breadth-first search run here, and exit 0 (every verdict as expected).
#[test]
fn check_one_variant_json() {
    let o = hugepunch(&["check", "--variant", "v4_4", "--json"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    let json: Value = serde_json::from_str(out.trim()).expect("stdout is one JSON value");
    let variants = json["variants"].as_array().expect("a variants array");
    assert_eq!(variants.len(), 1);
    let r = &variants[0];
    assert_eq!(r["variant"], "v4_4");

    let c = ModelCfg::for_variant(Variant::V4_4)
        .into_model()
        .checker()
        .spawn_bfs()
        .join();
    let unique = r["unique_states"].as_u64().expect("unique_states");
    let states = r["states"].as_u64().expect("states");
    assert_eq!(unique, c.unique_state_count() as u64);
    assert_eq!(states, c.state_count() as u64);
    assert!(states >= unique);
    assert_eq!(r["max_depth"].as_u64(), Some(c.max_depth() as u64));
    let seconds = r["seconds"].as_f64().expect("seconds");
    assert!(seconds > 0.0 && seconds < 600.0, "{seconds}");

    let props = r["properties"].as_array().expect("a properties array");
    assert_eq!(props.len(), PROPERTIES.len());
    for (j, p) in props.iter().zip(&PROPERTIES) {
        assert_eq!(j["id"], p.id);
        assert_eq!(
            j["expectation"],
            expectation_name(&p.expectation),
            "{}",
            p.id
        );
        let v = Verdict::of(&p.expectation, c.discovery(p.sentence).is_some());
        assert_eq!(j["verdict"], v.name(), "{}", p.id);
    }
    let verdict = |id: &str| {
        props
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["verdict"].clone())
    };
    assert_eq!(verdict("hole_freed_on_return"), Some("violated".into()));
    assert_eq!(verdict("no_bug_on"), Some("holds".into()));
    assert_eq!(verdict("race_window_fault"), Some("reached".into()));
    assert_eq!(verdict("vmdelete_skips_vma"), Some("unreachable".into()));
}

/// A bad variant name: exit 2, and the message names it.
#[test]
fn check_bad_variant() {
    let o = hugepunch(&["check", "--variant", "v9_9"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("v9_9"), "stderr: {err}");
    assert!(
        err.contains("v4_4"),
        "the message lists the variants: {err}"
    );
    assert!(stdout(&o).is_empty());
}

/// `check` of every variant: exit 0, a header and a table line for each property per
/// variant, with the verdict the variant must give.
#[test]
fn check_all_variants_table() {
    let o = hugepunch(&["check"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    // Split the output into one block per variant, at its header line.
    let mut blocks: Vec<(String, Vec<&str>)> = Vec::new();
    for line in out.lines() {
        let header = Variant::ALL
            .iter()
            .find(|v| line.starts_with(&format!("{}: ", v.name())));
        match header {
            Some(v) => blocks.push((v.name().to_string(), Vec::new())),
            None => {
                if let Some((_, lines)) = blocks.last_mut() {
                    lines.push(line);
                }
            }
        }
    }
    let names: Vec<_> = blocks.iter().map(|(v, _)| v.as_str()).collect();
    let all: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
    assert_eq!(names, all, "one table per variant, in order");
    for ((name, lines), v) in blocks.iter().zip(Variant::ALL) {
        for p in &PROPERTIES {
            let rows: Vec<Vec<&str>> = lines
                .iter()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .filter(|w| w.first() == Some(&p.id))
                .collect();
            assert_eq!(rows.len(), 1, "{name}: one line for {}", p.id);
            let row = &rows[0];
            assert_eq!(row[1], expectation_name(&p.expectation), "{name}/{}", p.id);
            assert!(
                row.len() == 3,
                "{name}/{}: no '<- expected' mark: {row:?}",
                p.id
            );
            if p.id == "hole_freed_on_return" {
                let want = if leaks(v) { "violated" } else { "holds" };
                assert_eq!(row[2], want, "{name}");
            }
        }
        assert!(
            lines.iter().any(|l| l.contains("unique")),
            "{name}: the run's figures"
        );
    }
    assert_eq!(out.lines().last(), Some("every verdict is as expected"));
}

/// A configuration the model does not cover: exit 2 with a message saying what is wrong,
/// before any search.
#[test]
fn check_impossible_config() {
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec![
            "check",
            "--variant",
            "v4_5",
            "--hole-start",
            "3",
            "--pages",
            "2",
        ];
        args.extend_from_slice(extra);
        let o = hugepunch(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains("hole"), "stderr: {err}");
        assert!(stdout(&o).is_empty(), "{args:?}: no report");
    }
    let o = hugepunch(&["check", "--mappers", "4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("mappers"), "stderr: {}", stderr(&o));
}

/// An argument the command does not know: clap's usage error, exit 2.
#[test]
fn check_unknown_argument() {
    let o = hugepunch(&["check", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--no-such-flag"));
}

/// The verdicts of a `--json` report's one variant, by property id.
fn verdicts(r: &Value) -> Vec<(String, String, String)> {
    r["properties"]
        .as_array()
        .expect("a properties array")
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().expect("a string").to_string();
            (s("id"), s("verdict"), s("expected"))
        })
        .collect()
}

/// The figures of a report are consistent: states at least unique states, rates from them.
fn assert_figures(f: &Value) {
    let n = |k: &str| f[k].as_f64().unwrap_or_else(|| panic!("{k} in {f}"));
    assert!(
        n("unique_states") > 0.0 && n("states") >= n("unique_states"),
        "{f}"
    );
    assert!(n("max_depth") > 0.0, "{f}");
    assert!(n("seconds") > 0.0, "{f}");
    let rate = n("states") / n("seconds");
    assert!((n("states_per_second") - rate).abs() <= 1e-6 * rate, "{f}");
    let urate = n("unique_states") / n("seconds");
    assert!(
        (n("unique_states_per_second") - urate).abs() <= 1e-6 * urate,
        "{f}"
    );
    assert!(
        n("rss_bytes") > 1e6,
        "a resident set of more than 1 MB: {f}"
    );
}

/// `--max-states` stops a search that would take much longer: exit 3, every property without
/// a discovery "incomplete" (never "holds" or "unreachable"), the figures at the stop.
#[test]
fn check_max_states_incomplete() {
    let o = hugepunch(&[
        "check",
        "--variant",
        "v4_5",
        "--mappers",
        "3",
        "--touches",
        "2",
        "--dfs",
        "--max-states",
        "20000",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    let json: Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON value");
    assert_eq!(json["complete"], false);
    let r = &json["variants"][0];
    assert_eq!(r["stop"], "max_states");
    let vs = verdicts(r);
    assert_eq!(vs.len(), PROPERTIES.len());
    for (id, got, expected) in &vs {
        assert!(
            got == "incomplete" || (got == expected && (got == "violated" || got == "reached")),
            "{id}: {got} (expected {expected})"
        );
    }
    assert!(vs.iter().any(|(_, v, _)| v == "incomplete"));
    assert_figures(&r["figures"]);
    let states = r["figures"]["states"].as_u64().expect("states");
    // Stateright checks its target after each block of 1,500 states.
    assert!((20_000..40_000).contains(&states), "{states}");
    assert_eq!(r["states"].as_u64(), Some(states));
    assert_eq!(
        json["figures"], r["figures"],
        "one variant: the totals are its figures"
    );

    // The table says the same.
    let o = hugepunch(&[
        "check",
        "--variant",
        "v4_5",
        "--mappers",
        "3",
        "--touches",
        "2",
        "--dfs",
        "--max-states",
        "20000",
    ]);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("INCOMPLETE: stopped by --max-states after"),
        "{out}"
    );
    for p in &PROPERTIES {
        let row = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&p.id))
            .unwrap_or_else(|| panic!("a line for {}: {out}", p.id));
        assert!(!["holds", "unreachable"].contains(&row[2]), "{row:?}");
    }
    assert!(
        out.lines().last().unwrap().starts_with("INCOMPLETE"),
        "{out}"
    );
}

/// `--max-seconds` stops a single-threaded breadth-first search (which Stateright's own
/// timeout does not) at about that time, with "incomplete" verdicts.
#[test]
fn check_max_seconds_incomplete() {
    let o = hugepunch(&[
        "check",
        "--variant",
        "v6_1",
        "--mappers",
        "3",
        "--touches",
        "2",
        "--max-seconds",
        "1.5",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", stderr(&o));
    let json: Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON value");
    let r = &json["variants"][0];
    assert_eq!(r["stop"], "max_seconds");
    assert_eq!(json["complete"], false);
    for (id, got, expected) in verdicts(r) {
        assert!(
            got == "incomplete" || (got == expected && (got == "violated" || got == "reached")),
            "{id}: {got} (expected {expected})"
        );
    }
    assert_figures(&r["figures"]);
    let s = r["figures"]["seconds"].as_f64().expect("seconds");
    assert!((1.5..30.0).contains(&s), "{s}");
}

/// A bound the search never reaches changes nothing; `--progress` on a pipe ends with a
/// line of the same figures as the JSON.
#[test]
fn check_progress_and_unreached_bound() {
    let o = hugepunch(&[
        "check",
        "--variant",
        "v4_4",
        "--max-states",
        "1000000000",
        "--max-seconds",
        "600",
        "--progress",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let json: Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON value");
    assert_eq!(json["complete"], true);
    let r = &json["variants"][0];
    assert_eq!(r["stop"], "exhausted");
    for (id, got, expected) in verdicts(r) {
        assert_eq!(got, expected, "{id}");
    }
    let f = &r["figures"];
    assert_figures(f);
    let err = stderr(&o);
    let last = err.lines().last().expect("a progress line");
    let thousands = |k: &str| checker::progress::thousands(f[k].as_u64().expect("a count"));
    let want = format!(
        "v4_4 bfs: done: {} states, {} unique, depth {}, ",
        thousands("states"),
        thousands("unique_states"),
        f["max_depth"]
    );
    assert!(
        last.starts_with(&want),
        "{last:?} should start with {want:?}"
    );
    assert!(
        last.contains(" states/s, ") && last.contains(" MiB RSS, "),
        "{last}"
    );
    assert!(last.ends_with(" s"), "{last}");
}
