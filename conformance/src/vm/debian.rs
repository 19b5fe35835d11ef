//! Debian kernels, downloaded with apt through a private sources list, state and cache under
//! `<work>/kernels/apt/<suite>/`, so that the machine's own apt state and packages do not move.
//! The mirrors are the machine's own (read from /etc/apt), with the suite replaced.

use super::kernels::DebianKernel;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cloud kernel metapackage of every Debian suite.
const METAPACKAGE: &str = "linux-image-cloud-amd64";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Overrides the mirror (`URI` for both the main and the security suites); for tests.
pub const MIRROR_ENV: &str = "HUGEPUNCH_DEBIAN_MIRROR";

/// The machine's Debian mirror and security mirror, from its apt sources.
pub fn mirrors() -> Result<(String, String), String> {
    if let Ok(m) = std::env::var(MIRROR_ENV) {
        return Ok((m.clone(), m));
    }
    let mut text = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|x| x == "sources" || x == "list") {
                text.push('\n');
                text.push_str(&std::fs::read_to_string(&f).unwrap_or_default());
            }
        }
    }
    parse_mirrors(&text).ok_or_else(|| {
        "no Debian mirror (a suite like bookworm and its -security) in /etc/apt/sources.list{,.d}"
            .to_string()
    })
}

/// (main URI, security URI) from one-line or deb822 sources.
pub fn parse_mirrors(text: &str) -> Option<(String, String)> {
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for block in text.split("\n\n") {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        };
        if let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:")) {
            for u in uris {
                pairs.push((u, suites.clone()));
            }
        }
    }
    for l in text.lines() {
        let mut w = l
            .split_whitespace()
            .filter(|w| !w.starts_with('[') && !w.ends_with(']'));
        if w.next() == Some("deb") {
            if let (Some(u), Some(s)) = (w.next(), w.next()) {
                pairs.push((u.to_string(), vec![s.to_string()]));
            }
        }
    }
    let main = pairs
        .iter()
        .find(|(_, s)| s.iter().any(|s| !s.contains('-')))?
        .0
        .clone();
    let security = pairs
        .iter()
        .find(|(_, s)| s.iter().any(|s| s.ends_with("-security")))?
        .0
        .clone();
    Some((main, security))
}

/// apt-get / apt-cache with the private configuration of one suite.
struct Apt {
    dir: PathBuf,
}

impl Apt {
    fn new(work: &Path, suite: &str) -> Result<Apt, String> {
        let dir = work.join("kernels").join("apt").join(suite);
        for d in ["state/lists/partial", "cache/archives/partial", "debs"] {
            std::fs::create_dir_all(dir.join(d)).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let (main, security) = mirrors()?;
        let list = format!(
            "deb [signed-by={KEYRING}] {main} {suite} main\ndeb [signed-by={KEYRING}] {security} {suite}-security main\n"
        );
        let w = |p: PathBuf, s: &str| {
            std::fs::write(&p, s).map_err(|e| format!("{}: {e}", p.display()))
        };
        w(dir.join("sources.list"), &list)?;
        w(dir.join("state/status"), "")?;
        Ok(Apt { dir })
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let d = |p: &str| self.dir.join(p).display().to_string();
        for (k, v) in [
            ("Dir::Etc::SourceList", d("sources.list")),
            ("Dir::Etc::SourceParts", "/dev/null".into()),
            ("Dir::State", d("state")),
            ("Dir::State::status", d("state/status")),
            ("Dir::Cache", d("cache")),
            ("APT::Sandbox::User", "root".into()),
        ] {
            c.arg("-o").arg(format!("{k}={v}"));
        }
        c
    }

    fn run(&self, mut c: Command, what: &str) -> Result<String, String> {
        let out = c
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{what}: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(format!("{what} failed ({}): {last}", out.status));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Downloads the suite's cloud kernel and writes its vmlinuz to `image` (and the package
/// version beside it).
pub fn download(k: &DebianKernel, work: &Path, image: &Path) -> Result<(), String> {
    let apt = Apt::new(work, k.suite)?;
    eprintln!(
        "hugepunch vm: {}: apt-get update (private sources list, {} suite)",
        k.name, k.suite
    );
    let mut c = apt.cmd("apt-get");
    // Without this, apt-get update only warns about an index it could not fetch.
    c.args(["-q", "-o", "APT::Update::Error-Mode=any", "update"]);
    apt.run(c, &format!("{}: apt-get update", k.name))?;
    let mut c = apt.cmd("apt-cache");
    c.args(["show", "--no-all-versions", METAPACKAGE]);
    let show = apt.run(c, &format!("{}: apt-cache show {METAPACKAGE}", k.name))?;
    let package = show
        .lines()
        .find_map(|l| l.strip_prefix("Depends:"))
        .and_then(|d| {
            d.split(',')
                .map(str::trim)
                .find(|p| p.starts_with("linux-image-"))
        })
        .map(|p| p.split_whitespace().next().unwrap_or(p).to_string())
        .ok_or_else(|| {
            format!(
                "{}: {METAPACKAGE} depends on no linux-image package",
                k.name
            )
        })?;
    eprintln!("hugepunch vm: {}: apt-get download {package}", k.name);
    let debs = apt.dir.join("debs");
    let mut c = apt.cmd("apt-get");
    c.args(["-q", "download", &package]).current_dir(&debs);
    apt.run(c, &format!("{}: apt-get download {package}", k.name))?;
    let deb = std::fs::read_dir(&debs)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&package))
        })
        .ok_or_else(|| format!("{}: apt-get download left no {package}*.deb", k.name))?;
    let version = deb
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let vmlinuz = extract_vmlinuz(&deb, &apt.dir.join("extract"))?;
    let dir = image.parent().expect("image has a directory");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::copy(&vmlinuz, image).map_err(|e| format!("{}: {e}", image.display()))?;
    std::fs::write(dir.join("version"), version).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(apt.dir.join("extract"));
    let _ = std::fs::remove_file(&deb);
    Ok(())
}

/// `dpkg-deb -x` the package and find `boot/vmlinuz-*`.
fn extract_vmlinuz(deb: &Path, into: &Path) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(into);
    let out = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(into)
        .output()
        .map_err(|e| format!("dpkg-deb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "dpkg-deb -x {}: {}",
            deb.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    std::fs::read_dir(into.join("boot"))
        .map_err(|e| format!("{}: {e}", deb.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or_else(|| format!("{}: no boot/vmlinuz-*", deb.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_from_deb822_and_one_line() {
        let deb822 = "Types: deb\nURIs: http://m/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://m/debian-security\nSuites: bookworm-security\nComponents: main\n";
        assert_eq!(
            parse_mirrors(deb822),
            Some(("http://m/debian".into(), "http://m/debian-security".into()))
        );
        let one = "deb [arch=amd64] http://a/debian bookworm main\ndeb http://a/sec bookworm-security main\n";
        assert_eq!(
            parse_mirrors(one),
            Some(("http://a/debian".into(), "http://a/sec".into()))
        );
        assert_eq!(parse_mirrors("# nothing\n"), None);
    }
}
