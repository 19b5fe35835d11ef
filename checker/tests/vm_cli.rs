//! `hugepunch vm` on bad input: one clear line, exit 2, no guest started.

use std::process::{Command, Output};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/corpus");

fn hugepunch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hugepunch"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("hugepunch runs")
}

fn one_line_exit_2(o: &Output, says: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("hugepunch vm: "), "{err}");
    assert!(err.contains(says), "{err:?} should say {says:?}");
    assert!(o.stdout.is_empty());
}

#[test]
fn not_a_bzimage() {
    let o = hugepunch(&["vm", "--kernel", "Cargo.toml"], &[]);
    one_line_exit_2(&o, "not a bzImage");
}

#[test]
fn unknown_kernel_name() {
    let o = hugepunch(&["vm", "--kernel", "debian-9.9"], &[]);
    one_line_exit_2(&o, "not a kernel name");
}

/// A guest has one or two NUMA nodes (two vCPUs, one a node): anything else is refused by the
/// argument parser, before any kernel or guest.
#[test]
fn numa_is_one_or_two() {
    let o = hugepunch(&["vm", "--kernel", "debian-6.1", "--numa", "3"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("--numa") && err.contains("1..=2"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn missing_qemu() {
    let work = tempdir("qemu");
    let o = hugepunch(
        &[
            "vm",
            "--kernel",
            "debian-6.1",
            "--work-dir",
            &work,
            "--corpus",
            CORPUS,
        ],
        &[("PATH", "/nonexistent")],
    );
    one_line_exit_2(&o, "apt-get install qemu-system-x86");
    // nothing was downloaded
    assert!(!std::path::Path::new(&work).join("kernels").exists());
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn failed_download() {
    let work = tempdir("download");
    // a port nothing listens on
    let o = hugepunch(
        &[
            "vm",
            "--kernel",
            "debian-6.12",
            "--work-dir",
            &work,
            "--corpus",
            CORPUS,
        ],
        &[("HUGEPUNCH_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let last: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains(": apt-get update (private"))
        .collect();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(last.len(), 1, "{err}");
    assert!(
        last[0].contains("debian-6.12: apt-get update failed"),
        "{err}"
    );
    assert!(!std::path::Path::new(&work)
        .join("kernels/debian-6.12/bzImage")
        .exists());
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn list_names_every_kernel() {
    let work = tempdir("list");
    let o = hugepunch(&["vm", "--list", "--work-dir", &work], &[]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for n in [
        "debian-6.1",
        "debian-6.12",
        "debian-5.10",
        "control-6.1",
        "mutant-skip-mapped",
        "mutant-no-reunmap",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(n))
            .unwrap_or_else(|| panic!("{n}: {out}"));
        assert!(line.contains("not cached"), "{line}");
    }
    let _ = std::fs::remove_dir_all(&work);
}

fn tempdir(what: &str) -> String {
    std::env::temp_dir()
        .join(format!("hugepunch-vm-{what}-{}", std::process::id()))
        .display()
        .to_string()
}
