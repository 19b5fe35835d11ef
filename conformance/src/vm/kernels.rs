//! Which kernel a guest boots: a bzImage path, a Debian kernel by name, or a mutant built from
//! Debian's `linux-source-6.1`. Everything downloaded or built is cached under
//! `<work>/kernels/` (`target/kernels/` by default).

use std::io::Read;
use std::path::{Path, PathBuf};

/// A Debian kernel: the cloud flavour's metapackage of one suite.
#[derive(Clone, Copy, Debug)]
pub struct DebianKernel {
    pub name: &'static str,
    pub suite: &'static str,
}

/// Debian kernels `hugepunch vm` can download.
pub const DEBIAN: [DebianKernel; 3] = [
    DebianKernel {
        name: "debian-6.1",
        suite: "bookworm",
    },
    DebianKernel {
        name: "debian-6.12",
        suite: "trixie",
    },
    DebianKernel {
        name: "debian-5.10",
        suite: "bullseye",
    },
];

/// A kernel built from `linux-source-6.1` with `mutant.config`, with or without a patch.
#[derive(Clone, Copy, Debug)]
pub struct BuiltKernel {
    pub name: &'static str,
    /// The patch (its header says what it undoes); `None` for the control.
    pub patch: Option<&'static str>,
}

impl BuiltKernel {
    /// What the image is built from, kept beside it: a cached image whose recipe differs is
    /// stale.
    pub fn recipe(&self) -> String {
        format!("{CONFIG_FRAGMENT}\n--- patch\n{}", self.patch.unwrap_or(""))
    }
}

/// Built kernels: the control and the mutants.
pub const BUILT: [BuiltKernel; 3] = [
    BuiltKernel {
        name: "control-6.1",
        patch: None,
    },
    BuiltKernel {
        name: "mutant-skip-mapped",
        patch: Some(include_str!("../../vm/mutants/mutant-skip-mapped.patch")),
    },
    BuiltKernel {
        name: "mutant-no-reunmap",
        patch: Some(include_str!("../../vm/mutants/mutant-no-reunmap.patch")),
    },
];

/// The config fragment merged onto `tinyconfig`.
pub const CONFIG_FRAGMENT: &str = include_str!("../../vm/mutant.config");

/// A `--kernel` argument, parsed.
#[derive(Clone, Debug)]
pub enum Kernel {
    Image(PathBuf),
    Debian(DebianKernel),
    Built(BuiltKernel),
}

impl Kernel {
    /// A known name, else a path that must be a bzImage.
    pub fn parse(arg: &str) -> Result<Kernel, String> {
        if let Some(d) = DEBIAN.iter().find(|d| d.name == arg) {
            return Ok(Kernel::Debian(*d));
        }
        if let Some(b) = BUILT.iter().find(|b| b.name == arg) {
            return Ok(Kernel::Built(*b));
        }
        let path = PathBuf::from(arg);
        if !path.exists() {
            return Err(format!(
                "{arg}: no such file, and not a kernel name ({})",
                names().join(", ")
            ));
        }
        check_bzimage(&path)?;
        Ok(Kernel::Image(path))
    }

    pub fn name(&self) -> String {
        match self {
            Kernel::Image(p) => p.display().to_string(),
            Kernel::Debian(d) => d.name.into(),
            Kernel::Built(b) => b.name.into(),
        }
    }

    /// Where a named kernel's image is cached.
    pub fn cached_image(&self, work: &Path) -> PathBuf {
        match self {
            Kernel::Image(p) => p.clone(),
            _ => work.join("kernels").join(self.name()).join("bzImage"),
        }
    }

    /// The image, downloaded or built first if it is not cached. A built kernel is built again
    /// when its recipe (the config fragment and its patch) changed since it was cached.
    pub fn image(&self, work: &Path) -> Result<PathBuf, String> {
        let image = self.cached_image(work);
        let recipe = image.with_file_name("recipe");
        let stale = match self {
            Kernel::Built(b) => {
                std::fs::read_to_string(&recipe).ok().as_deref() != Some(&b.recipe())
            }
            _ => false,
        };
        if !image.exists() || stale {
            match self {
                Kernel::Image(_) => unreachable!("checked by parse"),
                Kernel::Debian(d) => super::debian::download(d, work, &image)?,
                Kernel::Built(b) => {
                    super::build::build(b, work, &image)?;
                    std::fs::write(&recipe, b.recipe())
                        .map_err(|e| format!("{}: {e}", recipe.display()))?;
                }
            }
        }
        check_bzimage(&image)?;
        Ok(image)
    }
}

/// Every kernel name.
pub fn names() -> Vec<&'static str> {
    DEBIAN
        .iter()
        .map(|d| d.name)
        .chain(BUILT.iter().map(|b| b.name))
        .collect()
}

/// `hugepunch vm --list`: one line per name, saying whether it is cached.
pub fn list(work: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for d in DEBIAN {
        let k = Kernel::Debian(d);
        lines.push(line(&k, work, &format!("Debian {} cloud kernel", d.suite)));
    }
    for b in BUILT {
        let what = match b.patch {
            None => "linux-source-6.1, tinyconfig + mutant.config, no patch".to_string(),
            Some(p) => p.lines().next().unwrap_or_default().to_string(),
        };
        lines.push(line(&Kernel::Built(b), work, &what));
    }
    lines
}

fn line(k: &Kernel, work: &Path, what: &str) -> String {
    let image = k.cached_image(work);
    let cached = if image.exists() {
        let version = std::fs::read_to_string(image.with_file_name("version")).unwrap_or_default();
        format!("cached {} {}", image.display(), version.trim())
    } else {
        "not cached".into()
    };
    format!("{:<20} {:<12} {what}", k.name(), cached)
}

/// An x86 boot image: the boot-sector signature 0xAA55 at 0x1fe and the "HdrS" setup header
/// magic at 0x202 (Documentation/x86/boot.rst).
pub fn check_bzimage(path: &Path) -> Result<(), String> {
    let mut head = [0u8; 0x206];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| format!("{}: not a bzImage ({e})", path.display()))?;
    if head[0x1fe..0x200] != [0x55, 0xaa] || &head[0x202..0x206] != b"HdrS" {
        return Err(format!(
            "{}: not a bzImage (no x86 boot header: 0xAA55 at 0x1fe, \"HdrS\" at 0x202)",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        for n in names() {
            assert_eq!(Kernel::parse(n).unwrap().name(), n);
        }
        let e = Kernel::parse("debian-9.9").unwrap_err();
        assert!(
            e.contains("no such file") && e.contains("mutant-skip-mapped"),
            "{e}"
        );
    }

    #[test]
    fn not_a_bzimage() {
        let e = Kernel::parse("/bin/busybox").unwrap_err();
        assert!(e.contains("not a bzImage"), "{e}");
    }

    #[test]
    fn every_patch_says_what_it_undoes() {
        for b in BUILT {
            if let Some(p) = b.patch {
                assert!(p.starts_with(&format!("{}: ", b.name)), "{}", b.name);
                assert!(p.contains("Undoes") || p.contains("undoes"), "{}", b.name);
                assert!(p.contains("+++ b/fs/hugetlbfs/inode.c"), "{}", b.name);
            }
        }
    }
}
