//! Old build against new, side by side: `cargo bench -p checker --bench model -- --versus
//! OLD_HUGEPUNCH` runs `hugepunch check` of both binaries on the same configurations, one
//! thread, alternating old and new so a change in the machine's load hits both, and prints
//! unique states per second (by CPU time and by wall time), the resident set and bytes per
//! unique state. CPU time (user + system, from GNU `time`) is the figure to compare on a
//! shared machine: wall time counts the time other processes had the CPU.

use std::process::Command;

/// The configurations compared: `hugepunch check` arguments.
const CONFIGS: [&str; 4] = [
    "--variant v4_5 --mappers 3 --touches 1 --dfs",
    "--variant v4_5 --mappers 2 --touches 2 --dfs --no-symmetry",
    "--variant v6_1 --migrators 1 --dfs",
    "--variant v6_1 --migrators 1",
];
/// A tiny search: the resident set of the process itself, subtracted for bytes per state.
const BASELINE: &str = "--variant v4_4 --mappers 1 --touches 1 --dfs";
const ROUNDS: usize = 2;

#[derive(Clone, Copy, Default)]
struct Run {
    unique: u64,
    states: u64,
    cpu: f64,
    wall: f64,
    max_rss: u64,
}

/// One `check --json` under GNU time.
fn run(bin: &str, args: &str) -> Run {
    run_json(bin, args).0
}

/// One `check --json` under GNU time, and its JSON.
fn run_json(bin: &str, args: &str) -> (Run, serde_json::Value) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "TIME %U %S %e %M", bin, "check", "--json"])
        .args(args.split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("/usr/bin/time {bin}: {e} (apt-get install time)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{bin} check {args}: {e}: {stdout}"));
    let v = &json["variants"][0];
    let stderr = String::from_utf8_lossy(&out.stderr);
    let t: Vec<f64> = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("TIME "))
        .unwrap_or_else(|| panic!("no GNU time line: {stderr}"))
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    let r = Run {
        unique: v["unique_states"].as_u64().expect("unique_states"),
        states: v["states"].as_u64().expect("states"),
        cpu: t[0] + t[1],
        wall: t[2],
        max_rss: t[3] as u64 * 1024,
    };
    (r, json)
}

fn best(a: Run, b: Run) -> Run {
    if a.cpu == 0.0 || (b.cpu > 0.0 && b.cpu < a.cpu) {
        b
    } else {
        a
    }
}

pub fn versus(old: &str) {
    let new = env!("CARGO_BIN_EXE_hugepunch");
    println!("\n## Old against new, one thread, alternating ({ROUNDS} rounds, the least CPU time kept)\n");
    println!("old: `{old}`\nnew: `{new}`\n");
    let base_old = run(old, BASELINE).max_rss;
    let base_new = run(new, BASELINE).max_rss;
    println!(
        "baseline resident set (`check {BASELINE}`): old {:.1} MiB, new {:.1} MiB\n",
        base_old as f64 / (1 << 20) as f64,
        base_new as f64 / (1 << 20) as f64
    );
    println!("| configuration | build | states | unique | CPU s | wall s | unique/s (CPU) | unique/s (wall) | max RSS MiB | bytes/unique |");
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    let mut ratios = Vec::new();
    for args in CONFIGS {
        let (mut o, mut n) = (Run::default(), Run::default());
        for _ in 0..ROUNDS {
            o = best(o, run(old, args));
            n = best(n, run(new, args));
        }
        assert_eq!(
            o.unique, n.unique,
            "{args}: the builds disagree on unique states"
        );
        assert_eq!(o.states, n.states, "{args}: the builds disagree on states");
        for (name, r, base) in [("old", o, base_old), ("new", n, base_new)] {
            println!(
                "| `{args}` | {name} | {} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {:.1} | {:.0} |",
                r.states,
                r.unique,
                r.cpu,
                r.wall,
                r.unique as f64 / r.cpu,
                r.unique as f64 / r.wall,
                r.max_rss as f64 / (1 << 20) as f64,
                r.max_rss.saturating_sub(base) as f64 / r.unique as f64
            );
        }
        ratios.push((args, o.cpu / n.cpu, o.wall / n.wall));
    }
    println!("\n| configuration | new / old unique states per CPU second | per wall second |");
    println!("|---|--:|--:|");
    for (args, cpu, wall) in ratios {
        println!("| `{args}` | {cpu:.2}x | {wall:.2}x |");
    }
}

/// The partial-order reduction of the new build (`--por`; the old one has none), on the
/// configurations of the targets: every variant at 3 mappers x 2 touches, and at the
/// default with one migrator. Each run is stopped at 30 s of wall time (the target) and then
/// says so.
pub fn reduced() {
    let new = env!("CARGO_BIN_EXE_hugepunch");
    println!("\n## Partial-order reduction (new build only, `--por`, one thread, stopped at 30 s wall)\n");
    println!("| configuration | search | states | unique | CPU s | wall s | stop | every verdict decided and as expected |");
    println!("|---|---|--:|--:|--:|--:|---|---|");
    for variant in VARIANTS {
        for cfg in [
            "--mappers 3 --touches 2 --dfs --por",
            "--migrators 1 --dfs --por",
            "--migrators 1 --dfs",
        ] {
            let args = format!("--variant {variant} {cfg} --max-seconds 30");
            let (r, json) = run_json(new, &args);
            let v = &json["variants"][0];
            println!(
                "| `{variant} {cfg}` | {} | {} | {} | {:.2} | {:.2} | {} | {} |",
                v["search"].as_str().unwrap_or("?"),
                r.states,
                r.unique,
                r.cpu,
                r.wall,
                v["stop"].as_str().unwrap_or("?"),
                if v["properties"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().all(|p| p["verdict"] == p["expected"]))
                {
                    "yes"
                } else {
                    "no"
                },
            );
        }
    }
}

/// The variants, as `hugepunch check --variant` takes them.
const VARIANTS: [&str; 9] = [
    "v4_4",
    "v4_5",
    "hole_marker",
    "hole_marker_fixed",
    "v5_7",
    "v5_10",
    "v5_10_unlocked",
    "v6_1",
    "v6_17",
];
