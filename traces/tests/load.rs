//! The loader: every corpus file loads; bad input is an error naming file, step and field,
//! never a panic.

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use traces::{parse, TraceError, Word};

fn corpus() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("traces/corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

fn leak() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    std::fs::read_to_string(dir.join("v4_4.hole_freed_on_return.counterexample.json")).unwrap()
}

fn err(text: &str) -> TraceError {
    parse("bad.json", text).expect_err("must be rejected")
}

#[test]
fn every_corpus_file_loads() {
    let files = corpus();
    assert!(files.len() >= 30, "the corpus has {} files", files.len());
    for (p, _) in files {
        traces::load(&p).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn truncated_file_names_the_file() {
    let text = leak();
    let e = err(&text[..text.len() / 2]);
    assert_eq!(e.file, Path::new("bad.json"));
    assert!(e.to_string().starts_with("bad.json: "), "{e}");
}

#[test]
fn wrong_json_type() {
    let e = err("[]");
    assert!(
        e.message.contains("expected struct Trace") || e.message.contains("invalid type"),
        "{e}"
    );
    let e = err(r#"{"meta": 1, "steps": []}"#);
    assert_eq!(e.field, "meta", "{e}");
}

#[test]
fn unknown_version() {
    let text = leak().replacen("\"format\": 4", "\"format\": 99", 1);
    let e = err(&text);
    assert_eq!((e.field.as_str(), e.step), ("meta.format", None), "{e}");
    assert!(e.message.contains("99"), "{e}");
}

#[test]
fn unknown_action_names_step_and_field() {
    let text = leak().replacen(
        "\"action\": \"hugetlb_no_page\"",
        "\"action\": \"hugetlb_no_pages\"",
        1,
    );
    let e = err(&text);
    assert_eq!(e.field, "steps[18].action", "{e}");
    assert_eq!(e.step, Some(18));
    assert!(e.message.contains("hugetlb_no_pages"), "{e}");
}

#[test]
fn step_out_of_order() {
    let text = leak().replacen("\"index\": 5,", "\"index\": 6,", 1);
    let e = err(&text);
    assert_eq!(
        (e.field.as_str(), e.step),
        ("steps[5].index", Some(5)),
        "{e}"
    );
}

#[test]
fn wrong_field_type_in_a_step() {
    let text = leak();
    let steps = text.find("\"steps\"").unwrap();
    let text = format!(
        "{}{}",
        &text[..steps],
        text[steps..].replacen("\"page\": 0", "\"page\": \"zero\"", 1)
    );
    let e = err(&text);
    assert!(
        e.field.starts_with("steps[") && e.field.ends_with("args.page"),
        "{e}"
    );
    assert!(e.step.is_some(), "{e}");
}

#[test]
fn missing_argument() {
    let text = leak().replacen("\"ret\": \"ok\"", "\"value\": \"zero\"", 1);
    let e = err(&text);
    assert!(e.field.contains("args."), "{e}");
}

/// The loader's vocabulary is the model's: every kernel step and variant of `spec` loads as
/// itself, with no list of names in this crate to keep in step.
#[test]
fn every_model_step_and_variant_loads() {
    let text = leak();
    for step in spec::kernel::Step::ALL {
        // mmap's kernel step (step 10), which the race window does not name.
        let renamed = text.replacen(
            "\"action\": \"hugetlbfs_file_mmap\"",
            &format!("\"action\": \"{}\"", step.name()),
            1,
        );
        let t = parse("x.json", &renamed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.steps[10].action.kernel_step(), Some(step));
    }
    for v in spec::Variant::ALL {
        let renamed = text.replacen("\"variant\": \"v4_4\"", &format!("\"variant\": \"{v}\""), 1);
        assert_eq!(parse("x.json", &renamed).unwrap().meta.variant, v);
    }
}

#[test]
fn an_old_format_is_refused_with_the_way_out() {
    let text = leak().replacen("\"format\": 4", "\"format\": 1", 1);
    let e = err(&text);
    assert_eq!((e.field.as_str(), e.step), ("meta.format", None), "{e}");
    assert!(e.message.contains("hugepunch traces"), "{e}");
}

#[test]
fn format_2_without_shown_by_is_refused() {
    let text = leak().replacen("\"format\": 4", "\"format\": 2", 1);
    let e = err(&text);
    assert_eq!((e.field.as_str(), e.step), ("meta.format", None), "{e}");
    assert!(e.message.contains("3 meta.shown_by"), "{e}");
}

#[test]
fn format_3_without_waits_is_refused() {
    let text = leak().replacen("\"format\": 4", "\"format\": 3", 1);
    let e = err(&text);
    assert_eq!((e.field.as_str(), e.step), ("meta.format", None), "{e}");
    assert!(e.message.contains("4 meta.waits"), "{e}");
}

/// The 4.4 leak's removal loop waits for the fault mutex its window fault holds.
fn leak_wait() -> (usize, usize) {
    let t = parse("x.json", &leak()).unwrap();
    let w = &t.meta.waits[0];
    (w.since, w.step.expect("the wait ends"))
}

#[test]
fn a_wait_whose_step_is_not_the_acquisition_is_refused() {
    let (_, step) = leak_wait();
    let text = leak().replacen(
        &format!("\"step\": {step},\n        \"held_by\""),
        "\"step\": 0,\n        \"held_by\"",
        1,
    );
    let e = err(&text);
    assert_eq!(e.field, "meta.waits[0].step", "{e}");
}

#[test]
fn a_wait_beyond_the_trace_is_refused() {
    let (since, _) = leak_wait();
    let text = leak().replacen(&format!("\"since\": {since},"), "\"since\": 999,", 1);
    let e = err(&text);
    assert_eq!(e.field, "meta.waits[0].since", "{e}");
}

#[test]
fn shown_by_out_of_order_is_refused() {
    let text = leak();
    let i = text.find("\"shown_by\"").expect("meta.shown_by");
    let end = i + text[i..].find(']').unwrap() + 1;
    let swapped = format!(
        "{}\"shown_by\": [\"hole_marker\", \"v4_4\"]{}",
        &text[..i],
        &text[end..]
    );
    let e = err(&swapped);
    assert_eq!(e.field, "meta.shown_by", "{e}");
}

#[test]
fn values_round_trip_through_words() {
    use traces::Value;
    for page in 0..8 {
        for v in [
            Value::Zero,
            Value::Marker,
            Value::Fill(1),
            Value::Written(2),
        ] {
            assert_eq!(Value::from_word(v.word(page), page), Some(v));
        }
    }
    assert_ne!(Value::Marker.word(0), Value::Marker.word(1));
}

/// A mutation of a corpus file: cut it, flip a byte, or replace a JSON token.
fn mutate(text: &str, kind: u8, at: usize, byte: u8) -> String {
    let at = at % text.len().max(1);
    let mut b = text.as_bytes().to_vec();
    match kind % 4 {
        0 => b.truncate(at),
        1 => b[at] = byte,
        2 => b.insert(at, byte),
        _ => {
            let tokens = ["0", "-1", "300", "null", "true", "\"x\"", "[]", "{}", "1.5"];
            let s = String::from_utf8_lossy(&b[..at]).into_owned();
            let rest = String::from_utf8_lossy(&b[at..]).into_owned();
            let cut = rest.find([',', '}', ']']).unwrap_or(rest.len());
            return format!(
                "{s}{}{}",
                tokens[byte as usize % tokens.len()],
                &rest[cut..]
            );
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn mutated_corpus_files_load_or_fail_cleanly(file in 0usize..64, kind: u8, at: usize, byte: u8) {
        let files = corpus();
        let (path, text) = &files[file % files.len()];
        let bad = mutate(text, kind, at, byte);
        match parse(path, &bad) {
            Ok(t) => prop_assert!(!t.steps.is_empty()),
            Err(e) => {
                prop_assert_eq!(&e.file, path);
                let line = e.to_string();
                prop_assert!(!line.contains('\n'), "one line: {}", line);
                prop_assert!(line.starts_with(&path.display().to_string()));
            }
        }
    }
}
