//! `hugepunch render`: every corpus trace renders in every format, the v4_4 leak renders as
//! its snapshots say, the SVG is well-formed XML with the race band, the docs/ diagrams are
//! what the command regenerates, and bad traces are rejected with one line on stderr.

use checker::render::{race_window, render, Format, Origin};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use traces::{Action, KernelStep, Thread};

const LEAK: &str = "traces/corpus/v4_4.hole_freed_on_return.counterexample.json";
const FIX: &str = "traces/corpus/v4_5.race_window_fault.witness.json";
const DEADLOCK: &str = "traces/corpus/v5_10.no_deadlock.counterexample.json";
const MIGRATION: &str = "traces/corpus/v6_1.migrator.no_bug_on.counterexample.json";

/// The rendered diagrams checked in under docs/: (trace, format, file).
const DOCS: [(&str, Format, &str); 8] = [
    (LEAK, Format::Mermaid, "docs/v4_4-leak.md"),
    (LEAK, Format::Svg, "docs/v4_4-leak.svg"),
    (FIX, Format::Mermaid, "docs/v4_5-fix.md"),
    (FIX, Format::Svg, "docs/v4_5-fix.svg"),
    (DEADLOCK, Format::Mermaid, "docs/v5_10-deadlock.md"),
    (DEADLOCK, Format::Svg, "docs/v5_10-deadlock.svg"),
    (MIGRATION, Format::Mermaid, "docs/v6_1-migration-bug.md"),
    (MIGRATION, Format::Svg, "docs/v6_1-migration-bug.svg"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds the crate")
        .to_path_buf()
}

/// `hugepunch ARGS`, run from the workspace root.
fn hugepunch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hugepunch"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("hugepunch runs")
}

/// The library's rendering of a trace named relative to the workspace root.
fn rendered(trace: &str, format: Format, out: Option<&str>) -> String {
    let t = traces::load(root().join(trace)).expect("corpus traces load");
    render(
        &t,
        format,
        &Origin::new(Path::new(trace), format, out.map(Path::new)),
    )
}

fn corpus() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("traces/corpus"))
        .expect("traces/corpus exists")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .into_string()
                .unwrap()
        })
        .filter(|n| n.ends_with(".json"))
        .map(|n| format!("traces/corpus/{n}"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus has its traces: {files:?}");
    files
}

#[test]
fn every_corpus_trace_renders_in_every_format() {
    for trace in corpus() {
        for format in ["text", "mermaid", "svg"] {
            let out = hugepunch(&["render", &trace, "--format", format]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{trace} as {format}: {stderr}");
            assert!(stderr.is_empty(), "{trace} as {format}: {stderr}");
            let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
            let steps = traces::load(root().join(&trace)).unwrap().steps.len();
            match format {
                "mermaid" => {
                    assert!(stdout.contains("```mermaid\nsequenceDiagram\n"), "{trace}");
                    // Every step is drawn, numbered.
                    assert!(stdout.contains(&format!("[{}] ", steps - 1)), "{trace}");
                }
                "svg" => {
                    well_formed(&stdout);
                    assert!(stdout.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
                }
                _ => assert!(stdout.contains("step  thread"), "{trace}"),
            }
        }
    }
}

#[test]
fn text_is_the_default_and_matches_the_library() {
    let out = hugepunch(&["render", LEAK]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        rendered(LEAK, Format::Text, None)
    );
}

#[test]
fn out_writes_the_file_and_nothing_to_stdout() {
    let dir = scratch("out");
    let file = dir.join("leak.svg");
    let out = hugepunch(&[
        "render",
        LEAK,
        "--format",
        "svg",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let svg = std::fs::read_to_string(&file).unwrap();
    assert!(svg.contains("race-window"));
}

#[test]
fn leak_as_text() {
    insta::assert_snapshot!("v4_4_leak_text", rendered(LEAK, Format::Text, None));
}

#[test]
fn leak_as_mermaid() {
    insta::assert_snapshot!("v4_4_leak_mermaid", rendered(LEAK, Format::Mermaid, None));
}

/// The race window of the two reference traces, as the model exported it: the leak's fault
/// maps page 0 at step 18, after hugetlb_vmdelete_list (step 9); the window closes when
/// remove_inode_hugepages is done with the page (`lock_page`: 4.4 skips it, 4.5 removes it).
#[test]
fn race_window_of_the_leak_and_the_fix() {
    for (trace, close) in [(LEAK, 20), (FIX, 22)] {
        let t = traces::load(root().join(trace)).unwrap();
        let w = race_window(&t).expect("the punch reaches hugetlb_vmdelete_list");
        assert_eq!(t.steps[w.punch].thread, Thread::MANAGER);
        assert_eq!(w.open, 9, "{trace}");
        assert_eq!(w.close, Some(close), "{trace}");
        assert_eq!(w.page, Some(0), "{trace}");
        let f = w
            .fault()
            .expect("a fault maps a hole page inside the window");
        assert_eq!((f.step, f.thread, f.page), (18, Thread::mapper(0), 0));
        assert_eq!(
            t.steps[f.step].action.kernel_step(),
            Some(KernelStep::HugetlbNoPage)
        );
        assert_eq!(
            t.steps[w.open].action.kernel_step(),
            Some(KernelStep::HugetlbVmdeleteList)
        );
        assert_eq!(
            t.steps[close].action,
            Action::Kernel {
                step: KernelStep::RemoveLockPage,
                page: Some(0)
            }
        );
    }
}

/// A punch with no fault inside the window: the band ends where the removal loop is done with
/// the hole, and nothing is marked as raced.
#[test]
fn window_without_a_race() {
    let trace = "traces/corpus/v4_5.punch_frees_hole.witness.json";
    let t = traces::load(root().join(trace)).unwrap();
    let w = race_window(&t).expect("the punch runs hugetlb_vmdelete_list");
    assert!(w.fault().is_none());
    let close = w.close.expect("the removal loop reaches the hole");
    assert!(w.open < close);
    assert_eq!(t.steps[close].action.page(), Some(0));
    assert!(!rendered(trace, Format::Mermaid, None).contains("rect rgb(255, 170, 170)"));
}

/// A tiny XML well-formedness check: quick-xml reads every event and balances the tags.
fn well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut depth = 0i32;
    let mut elements = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => {
                depth += 1;
                elements += 1;
            }
            Ok(quick_xml::events::Event::Empty(_)) => elements += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed at {}: {e}", reader.buffer_position()),
        }
        assert!(depth >= 0, "an end tag without a start");
    }
    assert_eq!(depth, 0, "unclosed elements");
    assert!(elements > 10);
}

#[test]
fn svg_is_self_contained_xml_with_the_race_band() {
    for trace in [LEAK, FIX] {
        let svg = rendered(trace, Format::Svg, None);
        well_formed(&svg);
        assert!(svg.contains(r#"<rect id="race-window" class="race-window""#));
        assert!(svg.contains(r#"class="raced-fault""#));
        assert!(svg.contains("font-family: ui-monospace"));
        for banned in [
            "<script",
            "@import",
            "@font-face",
            "href=",
            "url(http",
            "<image",
        ] {
            assert!(!svg.contains(banned), "{trace}: {banned}");
        }
        // The only URL is the SVG namespace.
        assert_eq!(svg.matches("http").count(), 1, "{trace}");
        // A lifeline header per thread, the kernel ones included.
        for name in ["manager", "kernel:manager", "kernel:mapper0", "mapper0"] {
            assert!(svg.contains(&format!(">{name}</text>")), "{trace}: {name}");
        }
    }
}

#[test]
fn mermaid_ids_have_no_dots_or_colons() {
    for trace in corpus() {
        let md = rendered(&trace, Format::Mermaid, None);
        let block = md
            .split("```mermaid\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("a mermaid block");
        for line in block.lines().map(str::trim) {
            if let Some(p) = line.strip_prefix("participant ") {
                let id = p.split(" as ").next().unwrap();
                assert!(
                    id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{trace}: {line}"
                );
            }
            assert!(!line.contains(';'), "{trace}: {line}");
            assert!(!line.contains('#'), "{trace}: {line}");
        }
        let opened = block
            .lines()
            .filter(|l| l.trim_start().starts_with("rect "))
            .count();
        let closed = block.lines().filter(|l| l.trim() == "end").count();
        assert_eq!(opened, closed, "{trace}: rect blocks balance");
    }
}

#[test]
fn docs_are_what_the_command_regenerates() {
    for (trace, format, file) in DOCS {
        let want = rendered(trace, format, Some(file));
        let have = std::fs::read_to_string(root().join(file)).unwrap_or_default();
        assert!(
            have == want,
            "{file} is stale: regenerate it from the workspace root with \
             `cargo run --release -p checker -- render {trace} --format {} --out {file}`",
            format.name()
        );
        assert!(have.contains(&format!(
            "render {trace} --format {} --out {file}",
            format.name()
        )));
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hugepunch-render-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Each bad input: exit 2, nothing on stdout, one line on stderr naming the file and `field`.
#[test]
fn bad_traces_exit_2_with_one_line() {
    let good = std::fs::read_to_string(root().join(LEAK)).unwrap();
    let mut out_of_order: serde_json::Value = serde_json::from_str(&good).unwrap();
    out_of_order["steps"][5]["index"] = 7.into();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated.json",
            good[..good.len() / 2].to_string(),
            "steps[",
        ),
        ("array.json", "[]".into(), "(top level)"),
        ("meta1.json", r#"{"meta":1}"#.into(), "meta"),
        (
            "version99.json",
            good.replacen("\"format\": 4,", "\"format\": 99,", 1),
            "meta.format",
        ),
        (
            "action.json",
            good.replacen("\"hugetlb_no_page\"", "\"hugetlb_no_pages\"", 1),
            "steps[18].action",
        ),
        (
            "order.json",
            serde_json::to_string_pretty(&out_of_order).unwrap(),
            "steps[5].index",
        ),
    ];
    let dir = scratch("bad");
    for (name, text, field) in cases {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        for format in ["text", "mermaid", "svg"] {
            let out = hugepunch(&["render", file.to_str().unwrap(), "--format", format]);
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            assert!(out.stdout.is_empty(), "{name}: stdout not empty");
            assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
            assert!(stderr.ends_with('\n'));
            assert!(stderr.contains(file.to_str().unwrap()), "{name}: {stderr}");
            assert!(stderr.contains(field), "{name}: no {field} in {stderr}");
        }
    }
    let missing = dir.join("missing.json");
    let out = hugepunch(&["render", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
}

#[test]
fn bad_format_is_rejected() {
    let out = hugepunch(&["render", LEAK, "--format", "png"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
