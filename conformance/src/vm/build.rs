//! Kernels built from Debian's `linux-source-6.1`: `tinyconfig` plus `mutant.config`, with one
//! mutant patch or none (the control). One source tree and one build directory serve every
//! mutant: the files a patch touches are restored from a pristine copy before and after each
//! build, so a mutant costs an incremental rebuild of one file and the control is the same
//! tree and config with no patch.

use super::kernels::{BuiltKernel, BUILT, CONFIG_FRAGMENT};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Debian's package (`apt-get install linux-source-6.1`) puts the tarball here.
pub const SOURCE_TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";
const TREE: &str = "linux-source-6.1";

/// The files any patch touches (`+++ b/PATH`).
fn patched_files() -> Vec<String> {
    let mut files: Vec<String> = BUILT
        .iter()
        .filter_map(|b| b.patch)
        .flat_map(|p| p.lines().filter_map(|l| l.strip_prefix("+++ b/")))
        .map(|f| f.trim().to_string())
        .collect();
    files.sort();
    files.dedup();
    files
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Builds `b` and copies its bzImage to `image`.
pub fn build(b: &BuiltKernel, work: &Path, image: &Path) -> Result<(), String> {
    let kernels = work.join("kernels");
    let tree = kernels.join(TREE);
    let pristine = kernels.join("pristine-6.1");
    let out = kernels.join("build-6.1");
    if !tree.join("Makefile").exists() {
        if !Path::new(SOURCE_TARBALL).exists() {
            return Err(format!(
                "{}: needs {SOURCE_TARBALL} (apt-get install linux-source-6.1)",
                b.name
            ));
        }
        eprintln!("hugepunch vm: extracting {SOURCE_TARBALL}");
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::create_dir_all(&kernels).map_err(|e| e.to_string())?;
        run(
            Command::new("tar")
                .arg("-xf")
                .arg(SOURCE_TARBALL)
                .arg("-C")
                .arg(&kernels),
            "tar -xf linux-source-6.1",
        )?;
        let _ = std::fs::remove_dir_all(&pristine);
    }
    // The tree is pristine whenever no build is running: save the files patches touch.
    for f in patched_files() {
        let copy = pristine.join(&f);
        if !copy.exists() {
            std::fs::create_dir_all(copy.parent().expect("a file")).map_err(|e| e.to_string())?;
            std::fs::copy(tree.join(&f), &copy).map_err(|e| format!("{f}: {e}"))?;
        }
    }
    let restore = || -> Result<(), String> {
        for f in patched_files() {
            let (from, to) = (pristine.join(&f), tree.join(&f));
            if std::fs::read(&from).ok() != std::fs::read(&to).ok() {
                std::fs::copy(&from, &to).map_err(|e| format!("{f}: {e}"))?;
            }
        }
        Ok(())
    };
    restore()?;
    configure(&tree, &out)?;
    let started = Instant::now();
    let result = (|| {
        if let Some(patch) = b.patch {
            let file = kernels.join(format!("{}.patch", b.name));
            std::fs::write(&file, patch).map_err(|e| e.to_string())?;
            run(
                Command::new("patch")
                    .args(["-p1", "--quiet", "--forward", "-i"])
                    .arg(&file)
                    .current_dir(&tree),
                &format!("{}: patch", b.name),
            )?;
        }
        eprintln!(
            "hugepunch vm: building {} (make -j{} bzImage; a first build takes minutes)",
            b.name,
            jobs()
        );
        run(
            Command::new("make")
                .arg("-s")
                .arg("-C")
                .arg(&tree)
                .arg(format!("O={}", out.display()))
                .arg(format!("-j{}", jobs()))
                .arg("bzImage")
                .stdout(Stdio::null()),
            &format!("{}: make bzImage", b.name),
        )
    })();
    restore()?;
    result?;
    let dir = image.parent().expect("image has a directory");
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::copy(out.join("arch/x86/boot/bzImage"), image).map_err(|e| e.to_string())?;
    let release =
        std::fs::read_to_string(out.join("include/config/kernel.release")).unwrap_or_default();
    std::fs::write(
        dir.join("version"),
        format!(
            "{} (built in {:.0} s)",
            release.trim(),
            started.elapsed().as_secs_f64()
        ),
    )
    .map_err(|e| e.to_string())?;
    eprintln!(
        "hugepunch vm: built {} in {:.0} s",
        b.name,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// `tinyconfig`, the fragment merged on top, `olddefconfig`; then every option of the
/// fragment must have survived (Kconfig silently drops an option whose dependencies fail).
fn configure(tree: &Path, out: &Path) -> Result<(), String> {
    let config = out.join(".config");
    let fragment = out.join("hugepunch.config");
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    if std::fs::read_to_string(&fragment).ok().as_deref() == Some(CONFIG_FRAGMENT)
        && config.exists()
    {
        return Ok(());
    }
    let make = |target: &str| {
        run(
            Command::new("make")
                .arg("-s")
                .arg("-C")
                .arg(tree)
                .arg(format!("O={}", out.display()))
                .arg(target)
                .stdout(Stdio::null()),
            &format!("make {target}"),
        )
    };
    make("tinyconfig")?;
    std::fs::write(&fragment, CONFIG_FRAGMENT).map_err(|e| e.to_string())?;
    run(
        Command::new(tree.join("scripts/kconfig/merge_config.sh"))
            .args(["-m", "-O"])
            .arg(out)
            .arg(&config)
            .arg(&fragment)
            .current_dir(tree)
            .stdout(Stdio::null()),
        "merge_config.sh",
    )?;
    make("olddefconfig")?;
    let have = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
    let missing = missing_options(CONFIG_FRAGMENT, &have);
    if !missing.is_empty() {
        let _ = std::fs::remove_file(&fragment);
        return Err(format!(
            "the kernel config lacks {} after olddefconfig (a dependency is missing)",
            missing.join(" ")
        ));
    }
    Ok(())
}

/// The fragment's `CONFIG_X=y` lines that `config` does not have.
pub fn missing_options(fragment: &str, config: &str) -> Vec<String> {
    fragment
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("CONFIG_"))
        .filter(|l| !config.lines().any(|c| c.trim() == *l))
        .map(str::to_string)
        .collect()
}

/// Where the build tree lives (for `--list`).
pub fn tree(work: &Path) -> PathBuf {
    work.join("kernels").join(TREE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_options_checked() {
        let frag = "# c\nCONFIG_A=y\nCONFIG_B=y\n";
        assert_eq!(
            missing_options(frag, "CONFIG_A=y\n# CONFIG_B is not set\n"),
            ["CONFIG_B=y"]
        );
        assert!(missing_options(frag, "CONFIG_B=y\nCONFIG_A=y\n").is_empty());
    }

    #[test]
    fn patches_touch_one_file() {
        assert_eq!(patched_files(), ["fs/hugetlbfs/inode.c"]);
    }
}
