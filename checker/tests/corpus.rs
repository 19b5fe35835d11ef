//! The checked-in corpus is exactly what `hugepunch traces` generates, byte for byte, and the
//! trace vocabulary is the model's.

use checker::corpus::{generate, readme, to_json};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn checked_in_corpus_is_what_the_model_generates() {
    let dir = root().join("traces/corpus");
    let entries = generate();
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = entries.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(
        names, on_disk,
        "the corpus files differ from the generated ones: run `cargo run --release -p checker -- traces --readme traces/README.md`"
    );
    for (name, t) in &entries {
        let want = to_json(t);
        let have = std::fs::read_to_string(dir.join(name)).unwrap();
        if want != have {
            let line = want
                .lines()
                .zip(have.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "traces/corpus/{name} differs from the regenerated trace at line {}:\n  generated: {}\n  on disk:   {}\n\
                 regenerate with `cargo run --release -p checker -- traces --readme traces/README.md`",
                line + 1,
                want.lines().nth(line).unwrap_or(""),
                have.lines().nth(line).unwrap_or("")
            );
        }
    }
    let listing = std::fs::read_to_string(root().join("traces/README.md")).unwrap();
    assert_eq!(readme(&entries), listing, "traces/README.md is stale");
}

#[test]
fn generation_is_deterministic() {
    let a: Vec<String> = generate().iter().map(|(_, t)| to_json(t)).collect();
    let b: Vec<String> = generate().iter().map(|(_, t)| to_json(t)).collect();
    assert_eq!(a, b);
}

#[test]
fn every_discovery_of_every_variant_is_in_the_corpus() {
    let entries = generate();
    for v in spec::Variant::ALL {
        let cfg = spec::ModelCfg::for_variant(v);
        let found = checker::shortest::discoveries(&cfg.into_model());
        for id in found.keys() {
            assert!(
                entries
                    .iter()
                    .any(|(n, t)| n.starts_with(&format!("{}.", v.name()))
                        && t.meta.property == *id
                        && t.meta.config.mappers == spec::ModelCfg::default().mappers),
                "{v}: no trace for {id}"
            );
        }
    }
}
