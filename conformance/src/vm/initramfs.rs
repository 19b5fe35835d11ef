//! The guest's initramfs: busybox, the hugepunch binary with the shared libraries it links, the
//! trace corpus and an `/init` that replays it. Written as a newc cpio archive (crate `cpio`).

use crate::aim::Padding;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where busybox-static installs its binary on Debian.
pub const BUSYBOX: &str = "/bin/busybox";

const INIT: &str = include_str!("init.sh");

/// What the guest's `/init` is told.
#[derive(Clone, Debug)]
pub struct InitParams {
    /// `hugepunch replay --attempts`.
    pub attempts: u32,
    /// A replay that has not finished after this many seconds is a hang.
    pub hang_secs: u64,
    /// With several NUMA nodes: the huge pages each node's pool must have (the init writes
    /// `nodeN/.../nr_hugepages` where the kernel parameter did not fill it); 0: one node.
    pub node_pages: u64,
    /// `hugepunch replay --window-delay-us`: a fixed delay instead of the measured aim.
    pub window_delay_us: Option<u64>,
    /// `hugepunch replay --padding`, and `--window-us` for a padding sized from the guest's
    /// own punch speed.
    pub padding: Padding,
}

/// The text of `/init` for these parameters.
pub fn init_script(p: &InitParams) -> String {
    let mut window = p
        .window_delay_us
        .map_or_else(String::new, |d| format!(" --window-delay-us {d}"));
    window += &match p.padding {
        Padding::Pages(n) => format!(" --padding {n}"),
        Padding::Window { window_us, max } => format!(" --window-us {window_us} --padding {max}"),
    };
    INIT.replace("@ATTEMPTS@", &p.attempts.to_string())
        .replace("@HANG_SECS@", &p.hang_secs.to_string())
        .replace("@NODE_PAGES@", &p.node_pages.to_string())
        .replace("@WINDOW@", &window)
}

/// One archive member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Dir,
    /// A file copied from the host.
    Host(PathBuf),
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Member {
    /// Path in the guest, without the leading `/`.
    pub path: String,
    pub mode: u32,
    pub content: Content,
}

/// The archive's members, in order (directories before what they contain).
#[derive(Clone, Debug, Default)]
pub struct Initramfs {
    pub members: Vec<Member>,
}

impl Initramfs {
    /// busybox, `hugepunch` (and its libraries), the corpus files and `/init`.
    pub fn for_guest(
        busybox: &Path,
        hugepunch: &Path,
        corpus: &[PathBuf],
        init: &InitParams,
    ) -> Result<Initramfs, String> {
        let mut r = Initramfs::default();
        for d in ["bin", "dev", "proc", "sys", "tmp", "corpus"] {
            r.dir(d);
        }
        if !busybox.exists() {
            return Err(format!(
                "{}: not found (apt-get install busybox-static)",
                busybox.display()
            ));
        }
        if shared_libraries(busybox)?.is_empty() {
            r.file("bin/busybox", 0o755, Content::Host(busybox.into()));
        } else {
            return Err(format!(
                "{} is dynamically linked: install busybox-static",
                busybox.display()
            ));
        }
        r.file("bin/hugepunch", 0o755, Content::Host(hugepunch.into()));
        for lib in shared_libraries(hugepunch)? {
            let guest = lib.to_string_lossy().trim_start_matches('/').to_string();
            r.parents(&guest);
            r.file(&guest, 0o755, Content::Host(lib));
        }
        let mut order = String::new();
        for t in corpus {
            let name = t
                .file_name()
                .ok_or_else(|| format!("{}: not a file", t.display()))?;
            r.file(
                &format!("corpus/{}", name.to_string_lossy()),
                0o644,
                Content::Host(t.clone()),
            );
            order.push_str(&name.to_string_lossy());
            order.push('\n');
        }
        // The order the init replays them in: the corpus's, as given.
        r.file("order", 0o644, Content::Bytes(order.into_bytes()));
        r.file(
            "init",
            0o755,
            Content::Bytes(init_script(init).into_bytes()),
        );
        Ok(r)
    }

    fn dir(&mut self, path: &str) {
        if !self.members.iter().any(|m| m.path == path) {
            self.members.push(Member {
                path: path.into(),
                mode: 0o755,
                content: Content::Dir,
            });
        }
    }

    fn parents(&mut self, path: &str) {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            self.dir(&parts[..i].join("/"));
        }
    }

    fn file(&mut self, path: &str, mode: u32, content: Content) {
        self.members.push(Member {
            path: path.into(),
            mode,
            content,
        });
    }

    /// Writes the newc archive.
    pub fn write<W: Write>(&self, mut out: W) -> io::Result<W> {
        for (ino, m) in self.members.iter().enumerate() {
            let b = cpio::NewcBuilder::new(&m.path).ino(ino as u32 + 1).nlink(1);
            let (b, data) = match &m.content {
                Content::Dir => (b.mode(0o040000 | m.mode).nlink(2), Vec::new()),
                Content::Host(p) => (
                    b.mode(0o100000 | m.mode),
                    std::fs::read(p)
                        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?,
                ),
                Content::Bytes(v) => (b.mode(0o100000 | m.mode), v.clone()),
            };
            let size = u32::try_from(data.len())
                .map_err(|_| io::Error::other(format!("{}: larger than 4 GiB", m.path)))?;
            let mut w = b.write(out, size);
            w.write_all(&data)?;
            out = w.finish()?;
        }
        cpio::newc::trailer(out)
    }
}

/// The shared libraries (and dynamic loader) a binary needs, as `ldd` resolves them on this
/// host; empty for a static binary.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("ldd {}: {e}", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("not a dynamic executable") {
        // ldd exits 1 for a static binary
        return if text.contains("not a dynamic executable")
            || String::from_utf8_lossy(&out.stderr).contains("not a dynamic executable")
        {
            Ok(Vec::new())
        } else {
            Err(format!(
                "ldd {}: {}",
                binary.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        };
    }
    Ok(parse_ldd(&text))
}

/// The absolute paths in `ldd` output (`libc.so.6 => /lib/... (0x...)`, `/lib64/ld-... (0x...)`).
pub fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => l,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn members(archive: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut rest = archive;
        loop {
            let mut r = cpio::NewcReader::new(rest).expect("a newc header");
            if r.entry().is_trailer() {
                return out;
            }
            let (name, mode) = (r.entry().name().to_string(), r.entry().mode());
            let mut data = Vec::new();
            r.read_to_end(&mut data).expect("member data");
            out.push((name, mode, data));
            rest = r.finish().expect("next member");
        }
    }

    #[test]
    fn parses_ldd_output() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text),
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }

    /// The archive holds everything the init script uses, with the modes the kernel needs.
    #[test]
    fn archive_has_what_init_needs() {
        let dir = std::env::temp_dir().join(format!("hugepunch-initramfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let trace = dir.join("v4_4.x.counterexample.json");
        std::fs::write(&trace, b"{}").unwrap();
        // This test binary is a dynamically linked Rust program, like hugepunch.
        let me = std::env::current_exe().unwrap();
        let params = InitParams {
            attempts: 3,
            hang_secs: 77,
            node_pages: 55,
            window_delay_us: Some(30),
            padding: Padding::Window {
                window_us: 8000,
                max: 2048,
            },
        };
        let r = Initramfs::for_guest(
            Path::new(BUSYBOX),
            &me,
            std::slice::from_ref(&trace),
            &params,
        )
        .expect("needs busybox-static: apt-get install busybox-static");
        let bytes = r.write(Vec::new()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let m = members(&bytes);
        let get = |name: &str| {
            m.iter().find(|(n, _, _)| n == name).unwrap_or_else(|| {
                panic!(
                    "{name} missing from {:?}",
                    m.iter().map(|x| &x.0).collect::<Vec<_>>()
                )
            })
        };
        for d in ["bin", "dev", "proc", "sys", "tmp", "corpus"] {
            assert_eq!(get(d).1 & 0o170000, 0o040000, "{d} is a directory");
        }
        let init = get("init");
        assert_eq!(init.1, 0o100755);
        let text = String::from_utf8(init.2.clone()).unwrap();
        assert!(text.starts_with("#!/bin/busybox sh\n"));
        for needed in [
            "mount -t proc",
            "mount -t sysfs",
            "mount -t devtmpfs",
            "mount -t tracefs",
            "hugepunch replay --json --allow-hang --progress --hold-events --attempts 3 \
             --window-delay-us 30 \
             --window-us 8000 --padding 2048 \"$t\"",
            "if [ \"$now\" != \"$seen\" ]; then",
            "say progress \"$n\"",
            "-lt 77 ]",
            "node_pages=55",
            "hugepages/hugepages-2048kB/nr_hugepages",
            "echo $node_pages > /proc/sys/vm/nr_hugepages",
            "/proc/sysrq-trigger",
            "for n in $(cat /order); do",
            "say wedged \"$n\"",
            "reboot -f",
        ] {
            assert!(text.contains(needed), "init lacks {needed:?}");
        }
        assert_eq!(get("bin/busybox").1, 0o100755);
        assert_eq!(get("bin/busybox").2, std::fs::read(BUSYBOX).unwrap());
        assert_eq!(
            get("bin/hugepunch").2.len() as u64,
            me.metadata().unwrap().len()
        );
        assert_eq!(get("corpus/v4_4.x.counterexample.json").2, b"{}");
        assert_eq!(get("order").2, b"v4_4.x.counterexample.json\n");
        let libs = shared_libraries(&me).unwrap();
        assert!(libs.iter().any(|l| l.to_string_lossy().contains("libc.so")));
        assert!(libs
            .iter()
            .any(|l| l.to_string_lossy().contains("ld-linux")));
        for lib in libs {
            let guest = lib.to_string_lossy().trim_start_matches('/').to_string();
            assert_eq!(get(&guest).1, 0o100755, "{guest}");
            let parent = guest.rsplit_once('/').unwrap().0;
            assert_eq!(get(parent).1 & 0o170000, 0o040000, "{parent}");
        }
    }

    #[test]
    fn dynamic_busybox_is_refused() {
        let me = std::env::current_exe().unwrap();
        let params = InitParams {
            attempts: 1,
            hang_secs: 1,
            node_pages: 0,
            window_delay_us: None,
            padding: Padding::Pages(512),
        };
        let e = Initramfs::for_guest(&me, &me, &[], &params).unwrap_err();
        assert!(e.contains("busybox-static"), "{e}");
    }
}
