//! `hugepunch traces`: the trace corpus, every counterexample and witness of the model.

use crate::{export, shortest};
use clap::Args;
use spec::{ModelCfg, UffdPolicy, Variant, PROPERTIES};
use stateright::Expectation;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use traces::{Kind, Trace};

#[derive(Args)]
pub struct TracesArgs {
    /// Directory to write the trace files into (made if missing; stale *.json removed).
    #[arg(long, default_value = "traces/corpus")]
    pub out: PathBuf,
    /// Also write the one-line-per-trace listing here (the checked-in one is traces/README.md).
    #[arg(long)]
    pub readme: Option<PathBuf>,
}

/// A configuration of the corpus: a tag for file names, and which properties to export
/// (`None`: every discovery).
pub struct CorpusCfg {
    pub tag: Option<&'static str>,
    pub cfg: ModelCfg,
    pub only: Option<&'static [&'static str]>,
}

/// Every variant's default configuration, then the hand-picked ones.
pub fn configs() -> Vec<CorpusCfg> {
    let mut v: Vec<CorpusCfg> = Variant::ALL
        .into_iter()
        .map(|variant| CorpusCfg {
            tag: None,
            cfg: ModelCfg::for_variant(variant),
            only: None,
        })
        .collect();
    let d = ModelCfg::default;
    v.push(CorpusCfg {
        tag: Some("3mappers"),
        cfg: ModelCfg {
            variant: Variant::V4_5,
            mappers: 3,
            uffd: UffdPolicy::Sigbus,
            hole_reuse: false,
            ..d()
        },
        only: Some(&["race_window_fault", "hole_touch_missing"]),
    });
    v.push(CorpusCfg {
        tag: Some("collision"),
        cfg: ModelCfg {
            variant: Variant::V6_1,
            mappers: 1,
            touches: 2,
            fault_mutex_slots: 1,
            ..d()
        },
        only: Some(&[
            "race_window_fault",
            "vmdelete_skips_vma",
            "punch_frees_hole",
        ]),
    });
    // UFFDIO_COPY meeting the reused page: EEXIST needs a kernel that checks the page cache
    // first (5.13+, 8cc5fcbb5be8), as this host's does; 4.11 to 5.12 give ENOMEM here.
    v.push(CorpusCfg {
        tag: Some("reuse_copy"),
        cfg: ModelCfg {
            variant: Variant::V6_1,
            mappers: 1,
            touches: 2,
            ..d()
        },
        only: Some(&["uffd_copy_eexist", "hole_touch_missing"]),
    });
    v.push(CorpusCfg {
        tag: Some("sigbus"),
        cfg: ModelCfg {
            variant: Variant::V4_5,
            mappers: 1,
            touches: 2,
            uffd: UffdPolicy::Sigbus,
            hole_reuse: false,
            ..d()
        },
        only: Some(&["hole_touch_missing", "race_window_fault"]),
    });
    // Page migration racing the punch: the 2025 bug (7b7387650dcf) in 6.1.0 and its fix.
    v.push(CorpusCfg {
        tag: Some("migrator"),
        cfg: ModelCfg {
            variant: Variant::V6_1,
            migrators: 1,
            ..d()
        },
        only: Some(&["no_bug_on", "migration_race_window"]),
    });
    v.push(CorpusCfg {
        tag: Some("migrator"),
        cfg: ModelCfg {
            variant: Variant::V6_17,
            migrators: 1,
            ..d()
        },
        only: Some(&["migration_race_window"]),
    });
    v
}

/// The file name of a trace: variant, tag, property, kind.
pub fn file_name(c: &CorpusCfg, id: &str, kind: Kind) -> String {
    let kind = kind.name();
    match c.tag {
        Some(tag) => format!("{}.{tag}.{id}.{kind}.json", c.cfg.variant),
        None => format!("{}.{id}.{kind}.json", c.cfg.variant),
    }
}

/// Every trace of the corpus, by file name, in a stable order: the shortest discovery of
/// every property that has one (see [`crate::shortest`]).
pub fn generate() -> Vec<(String, Trace)> {
    let mut out = Vec::new();
    for c in configs() {
        let model = c.cfg.clone().into_model();
        let found = shortest::discoveries_of(&c.cfg);
        for p in &PROPERTIES {
            if c.only.is_some_and(|only| !only.contains(&p.id)) {
                continue;
            }
            let Some(path) = found.get(p.id) else {
                continue;
            };
            let kind = match p.expectation {
                Expectation::Sometimes => Kind::Witness,
                _ => Kind::Counterexample,
            };
            let discovered_at = path.clone().into_actions().len();
            let full = shortest::complete_in_flight(&model, path.clone());
            let t = export::trace(&c.cfg, p.id, kind, &full, discovered_at);
            out.push((file_name(&c, p.id, kind), t));
        }
    }
    out
}

/// A trace as its file's bytes.
pub fn to_json(t: &Trace) -> String {
    let mut s = serde_json::to_string_pretty(t).expect("a trace serializes");
    s.push('\n');
    s
}

/// The one-line-per-trace listing.
pub fn readme(entries: &[(String, Trace)]) -> String {
    let mut s = String::from(
        "# The trace corpus\n\n\
         Generated by `cargo run --release -p checker -- traces --readme traces/README.md`; \
         `cargo test` fails if a regenerated trace differs from `corpus/`. Each file is one \
         counterexample (of an always/eventually property) or witness (of a sometimes property), \
         found by breadth-first search, so it is a shortest one. Render one with \
         `hugepunch render FILE`; replay one on this host with `hugepunch replay FILE`.\n\n",
    );
    for (name, t) in entries {
        let _ = writeln!(
            s,
            "- [`{name}`](corpus/{name}) ({} steps): {}",
            t.steps.len(),
            t.meta.description
        );
    }
    s
}

/// Writes the corpus into `dir`, removing trace files that are no longer generated.
pub fn write(dir: &Path, entries: &[(String, Trace)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let stale = p.extension().is_some_and(|x| x == "json")
            && !entries
                .iter()
                .any(|(n, _)| p.file_name().is_some_and(|f| f == n.as_str()));
        if stale {
            std::fs::remove_file(&p)?;
        }
    }
    for (name, t) in entries {
        std::fs::write(dir.join(name), to_json(t))?;
    }
    Ok(())
}

/// `hugepunch traces`.
pub fn command(args: TracesArgs) -> ExitCode {
    let entries = generate();
    let written = write(&args.out, &entries).and_then(|()| match &args.readme {
        Some(p) => std::fs::write(p, readme(&entries)),
        None => Ok(()),
    });
    match written {
        Ok(()) => {
            println!("{} traces written to {}", entries.len(), args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hugepunch traces: {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}
