//! `hugepunch explore` in a real browser: the built binary serves Stateright's Explorer on a
//! free loopback port, and Debian's headless Chromium renders it (the Explorer's JavaScript
//! fetches the states and fills the page) and dumps the DOM. The test reads the initial
//! state and its next actions, then follows actions through the URL fragment the Explorer
//! keeps its path in (`#/steps/0/i/j`), as a reviewer clicking the links would.
//!
//! Chromium is required: without `/usr/bin/chromium` the test fails (it never skips).
//! Everything it starts (the server, Chromium and its helpers) is killed and its scratch
//! directory removed by guards, on success and on failure alike.

use spec::verdict::{expected, Verdict};
use spec::{ModelCfg, Variant};
use stateright::Expectation;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The flags this machine needs: no sandbox (root), no GPU, and nothing that tries the
/// network, which is closed.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
    "--dump-dom",
];
/// One Chromium run, or the server's start, taking longer than this fails the test.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Chromium runs per page before the test gives up on the page showing what it should.
const ATTEMPTS: usize = 3;

/// The model the test serves: small, and different from the defaults so that the flags are
/// seen to reach the Explorer (3 pages, so the manager pre-allocates `[0, 3)`).
const MODEL_FLAGS: &[&str] = &[
    "--variant",
    "v4_4",
    "--pages",
    "3",
    "--hole-start",
    "1",
    "--hole-end",
    "2",
    "--mappers",
    "1",
];

// ---------------------------------------------------------------------------------------
// Guards.

/// A fresh directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "hugepunch-{what}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A child process in its own process group; on drop the whole group is killed (Chromium's
/// renderers and zygotes with it) and the child reaped.
struct Proc {
    child: Child,
    done: bool,
}

impl Proc {
    fn spawn(cmd: &mut Command) -> std::io::Result<Proc> {
        let child = cmd.process_group(0).spawn()?;
        Ok(Proc { child, done: false })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout is piped")
    }

    /// Waits for the child to exit, up to `deadline`.
    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.done = true;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The group outlives its leader when a helper survives: kill it either way.
        // (`kill -- -PGID` through sh: std has no killpg, and sh is always there.)
        let _ = Command::new("sh")
            .args(["-c", "kill -KILL -- \"-$1\" 2>/dev/null", "sh"])
            .arg(self.pid().to_string())
            .status();
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads a pipe to its end on a thread; the text arrives on the channel.
fn read_all(mut r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<_> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------
// The server.

/// `hugepunch explore` on a free loopback port (`--addr 127.0.0.1:0`: the binary binds port
/// 0 and prints the URL it serves).
struct Server {
    proc: Proc,
    /// `http://127.0.0.1:PORT/`
    base: String,
    log: PathBuf,
}

impl Server {
    fn start(scratch: &Scratch, flags: &[&str]) -> Server {
        let mut last_error = String::new();
        // A retry covers the port being taken between the binary's probe and its bind.
        for attempt in 0..3 {
            let log = scratch.path().join(format!("server-{attempt}.stderr"));
            match Server::try_start(flags, &log) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("hugepunch explore did not come up: {last_error}");
    }

    fn try_start(flags: &[&str], log: &Path) -> Result<Server, String> {
        let stderr = fs::File::create(log).map_err(|e| e.to_string())?;
        let mut proc = Proc::spawn(
            Command::new(env!("CARGO_BIN_EXE_hugepunch"))
                .arg("explore")
                .args(flags)
                .args(["--addr", "127.0.0.1:0"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr),
        )
        .map_err(|e| format!("cannot run hugepunch: {e}"))?;
        // The URL line, read on a thread so that a silent server cannot hang the test.
        let stdout = proc.take_stdout();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                    let _ = tx.send(url.to_string());
                    // Keep draining: the server may write more.
                }
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let base = rx
            .recv_timeout(TIMEOUT)
            .map_err(|_| format!("no URL printed; stderr:\n{}", tail(log, 20)))?;
        assert!(
            base.starts_with("http://127.0.0.1:") && base.ends_with('/'),
            "unexpected URL {base}"
        );
        let host = base["http://".len()..base.len() - 1].to_string();
        // Wait until it answers.
        loop {
            if !proc.running() {
                return Err(format!("the server exited; stderr:\n{}", tail(log, 20)));
            }
            if let Some(body) = http_get(&host, "/.status") {
                if body.contains("unique_state_count") {
                    break;
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("{base} did not answer in {TIMEOUT:?}"));
            }
            thread::sleep(Duration::from_millis(50));
        }
        Ok(Server {
            proc,
            base,
            log: log.to_path_buf(),
        })
    }
}

/// Whether a `POST` with no body is answered 200.
fn http_post(host: &str, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut resp = String::new();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .is_ok()
        && s.read_to_string(&mut resp).is_ok()
        && resp.starts_with("HTTP/1.1 200")
}

/// The body of a `GET`, if the server answers 200.
fn http_get(host: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

// ---------------------------------------------------------------------------------------
// The browser.

/// Chromium runs so far (each in its own profile directory).
static RUNS: AtomicUsize = AtomicUsize::new(0);

fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: this test drives Debian's headless Chromium. Install it with \
         `apt-get install -y chromium` (or run `bash .ci/browser.sh`, which .ci/run runs)."
    );
}

/// Chromium's DOM of `url` once the page's JavaScript ran, from a fresh profile; HOME and
/// TMPDIR point into the scratch directory so that nothing is left behind.
fn dump_dom(scratch: &Scratch, run: usize, url: &str) -> Result<String, String> {
    let dir = scratch.path().join(format!("chromium-{run}"));
    let (profile, home, tmp) = (dir.join("profile"), dir.join("home"), dir.join("tmp"));
    for d in [&profile, &home, &tmp] {
        fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let err_log = dir.join("stderr");
    let stderr = fs::File::create(&err_log).map_err(|e| e.to_string())?;
    let mut proc = Proc::spawn(
        Command::new(CHROMIUM)
            .args(CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr),
    )
    .map_err(|e| format!("cannot run {CHROMIUM}: {e}"))?;
    let dom = read_all(proc.take_stdout());
    let deadline = Instant::now() + TIMEOUT;
    let status = proc
        .wait_until(deadline)
        .ok_or_else(|| format!("chromium did not finish {url} in {TIMEOUT:?}"))?;
    let dom = dom
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "chromium's output did not close".to_string())?;
    if !status.success() {
        return Err(format!(
            "chromium exited with {status} on {url}; stderr:\n{}",
            tail(&err_log, 20)
        ));
    }
    Ok(dom)
}

/// `text` with every run of whitespace made one space, so that Debug's pretty printing
/// can be matched on one line.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The DOM of `url` once it shows every one of `wanted` (matched after [`squash`]).
/// Chromium is run again if the page was dumped before it had filled in.
fn render(scratch: &Scratch, url: &str, wanted: &[&str]) -> String {
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        match dump_dom(scratch, run, url) {
            Ok(dom) => {
                let flat = squash(&dom);
                let missing: Vec<_> = wanted
                    .iter()
                    .filter(|w| !flat.contains(&squash(w)))
                    .collect();
                if missing.is_empty() {
                    return dom;
                }
                last = format!("the page lacks {missing:#?}; its DOM:\n{}", excerpt(&dom));
            }
            Err(e) => last = e,
        }
    }
    panic!("{url} after {ATTEMPTS} Chromium runs: {last}");
}

/// The interesting part of a DOM for a failure message.
fn excerpt(dom: &str) -> String {
    let start = dom.find("<main").unwrap_or(0);
    let main = &dom[start..];
    main.chars().take(20_000).collect()
}

/// A link of the page: its `href`, its text and its `class`.
#[derive(Debug, Clone)]
struct Link {
    href: String,
    text: String,
    class: String,
}

/// The `<a>` elements of the list under the `<h2>` named `heading`.
fn links_under(dom: &str, heading: &str) -> Vec<Link> {
    let h2 = format!("<h2>{heading}</h2>");
    let start = dom
        .find(&h2)
        .unwrap_or_else(|| panic!("no {h2} in the page:\n{}", excerpt(dom)))
        + h2.len();
    let rest = &dom[start..];
    let end = ["</ol>", "</ul>"]
        .iter()
        .filter_map(|t| rest.find(t))
        .min()
        .unwrap_or(rest.len());
    let list = &rest[..end];
    let mut links = Vec::new();
    let mut from = 0;
    while let Some(close) = list[from..].find("</a>").map(|i| from + i) {
        let open = list[..close].rfind("<a ").expect("an <a> before </a>");
        let text_start = list[..close].rfind('>').expect("the end of the <a> tag") + 1;
        let tag = &list[open..text_start];
        links.push(Link {
            href: attr(tag, "href").unwrap_or_default(),
            text: unescape(&list[text_start..close]),
            class: attr(tag, "class").unwrap_or_default(),
        });
        from = close + "</a>".len();
    }
    links
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The text of the Explorer's "Current State" pane.
fn current_state(dom: &str) -> String {
    let pane = dom
        .find("<h2>Current State</h2>")
        .map(|i| &dom[i..])
        .unwrap_or_else(|| panic!("no Current State pane:\n{}", excerpt(dom)));
    // The last <div> of the pane holds the state (or the step) as text.
    let div = pane.rfind("pre-wrap;\">").expect("the state <div>") + "pre-wrap;\">".len();
    let end = pane[div..].find("</div>").expect("</div>") + div;
    unescape(&pane[div..end])
}

/// A property as the Explorer's "Global" list shows it.
#[derive(Debug)]
struct Shown {
    /// `Safety holds:`, `Counterexample found:`, ... without the icon.
    summary: String,
    /// `Always when the punch returns, ...`
    name: String,
    /// The discovery's link, if any.
    href: Option<String>,
}

fn verdicts(dom: &str) -> Vec<Shown> {
    let start = dom.find("<h3>Global</h3>").expect("the Global properties");
    let list = &dom[start..];
    let list = &list[..list.find("</ul>").expect("</ul>")];
    list.split("<li>")
        .skip(1)
        .map(|li| {
            let b = li.find("p.summary\">").expect("a summary") + "p.summary\">".len();
            let summary = li[b..b + li[b..].find("</b>").expect("</b>")].to_string();
            let summary = summary
                .trim()
                .trim_start_matches(|c: char| !c.is_ascii_alphabetic())
                .to_string();
            let end = ["</a>", "</span>"]
                .iter()
                .filter_map(|t| li.find(t))
                .min()
                .expect("the property's name");
            let name = unescape(&li[li[..end].rfind('>').unwrap() + 1..end]);
            let href = li.find("<a ").and_then(|a| attr(&li[a..end], "href"));
            Shown {
                summary,
                name,
                href,
            }
        })
        .collect()
}

fn follow<'a>(links: &'a [Link], text: &str, dom: &str) -> &'a Link {
    links.iter().find(|l| l.text == text).unwrap_or_else(|| {
        panic!(
            "no next action {text:?}; the next actions are {links:#?}\n{}",
            excerpt(dom)
        )
    })
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn explorer_renders_the_model_and_follows_actions_in_chromium() {
    require_chromium();
    let started = Instant::now();
    let scratch = Scratch::new("explorer");
    let mut server = Server::start(&scratch, MODEL_FLAGS);
    let base = server.base.clone();

    // 1. The initial state (the Explorer's `#/steps/0`): the whole model state, the
    //    properties, and the one action in flight, the manager's fallocate of the file.
    let fallocate = "manager → kernel: Syscall(Fallocate { start: 0, end: 3 })";
    let init_url = format!("{base}#/steps/0");
    let dom = render(
        &scratch,
        &init_url,
        &[
            "<h1><a href=\"/\">Stateright Explorer</a></h1>",
            "<span data-bind=\"text: model\">Explorable</span>",
            "Always when the punch returns, every page of the hole is out of the page cache",
            "Sometimes a fault maps a page between hugetlb_vmdelete_list and \
             remove_inode_hugepages",
            fallocate,
        ],
    );
    let path = links_under(&dom, "Path of Actions");
    let texts: Vec<_> = path.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["Pre-init", "Init 0"], "{path:#?}");
    assert!(path[1].class.contains("is-selected-state"), "{path:#?}");
    let next = links_under(&dom, "Next Action Choices");
    assert_eq!(next.len(), 1, "one message in flight at first: {next:#?}");
    let link = follow(&next, fallocate, &dom);
    assert!(link.href.starts_with("#/steps/0/"), "{link:?}");

    // 2. Follow it: the kernel took the syscall and created a kernel thread for it, at the
    //    first step of hugetlbfs_fallocate.
    let step1_url = format!("{base}{}", link.href);
    let mutex_lock = "kernel [manager] hugetlbfs_fallocate:mutex_lock";
    let dom = render(
        &scratch,
        &step1_url,
        &[mutex_lock, &format!("STEP: {fallocate}")],
    );
    let path = links_under(&dom, "Path of Actions");
    let texts: Vec<_> = path.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["Pre-init", "Init 0", fallocate], "{path:#?}");
    assert!(path[2].class.contains("is-selected-state"), "{path:#?}");
    let step = squash(&current_state(&dom));
    for want in [&format!("STEP: {fallocate}"), "ACTOR: kernel"] {
        assert!(step.contains(want), "step 1 lacks {want:?}:\n{step}");
    }
    // The sequence diagram names the actors (`Node::name`) and draws the syscall.
    for want in [
        "class=\"svg-actor-label\">0 manager</text>",
        "class=\"svg-actor-label\">1 mapper0</text>",
        "class=\"svg-actor-label\">2 kernel</text>",
        "class=\"svg-event-label\">Syscall(Fallocate { start: 0, end: 3 })</text>",
    ] {
        assert!(
            dom.contains(want),
            "the diagram lacks {want:?}:\n{}",
            excerpt(&dom)
        );
    }
    let next = links_under(&dom, "Next Action Choices");
    let link = follow(&next, mutex_lock, &dom);
    assert!(link.href.starts_with(&step1_url[base.len()..]), "{link:?}");

    // 3. Follow the kernel step: page 0 is allocated into the page cache and the thread
    //    moves on to index 1.
    let dom = render(
        &scratch,
        &format!("{base}{}", link.href),
        &[&format!("STEP: {mutex_lock}")],
    );
    let path = links_under(&dom, "Path of Actions");
    let texts: Vec<_> = path.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        ["Pre-init", "Init 0", fallocate, mutex_lock],
        "{path:#?}"
    );
    // What the step did shows in what may happen next: the fallocate thread moves on to the
    // next index (the same step again), and nothing else is in flight.
    let next = links_under(&dom, "Next Action Choices");
    let next_texts: Vec<_> = next.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(next_texts, [mutex_lock], "{next:#?}");
    let step = squash(&current_state(&dom));
    assert!(
        step.contains(&format!("STEP: {mutex_lock}")),
        "step 2:\n{step}"
    );

    // 4. Run the Explorer's checker to completion (its button): the page then shows every
    //    property's verdict, the same as `hugepunch check` expects for this configuration,
    //    with a link to each counterexample and example.
    let host = &base["http://".len()..base.len() - 1];
    assert!(
        http_post(host, "/.runtocompletion"),
        "POST /.runtocompletion failed"
    );
    let deadline = Instant::now() + TIMEOUT;
    while !http_get(host, "/.status").is_some_and(|s| s.contains("\"done\":true")) {
        assert!(
            Instant::now() < deadline,
            "the Explorer's checker did not finish"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let dom = render(&scratch, &base, &[">Done</span>"]);
    let shown = verdicts(&dom);
    let cfg = ModelCfg {
        pages: 3,
        hole_start: 1,
        hole_end: 2,
        mappers: 1,
        ..ModelCfg::for_variant(Variant::V4_4)
    };
    let expected: Vec<_> = expected(&cfg)
        .into_iter()
        .map(|(id, v)| {
            let p = spec::properties::by_id(id).expect("a property");
            let summary = match v {
                Verdict::Violated => "Counterexample found:",
                Verdict::Holds if p.expectation == Expectation::Eventually => "Liveness holds:",
                Verdict::Holds => "Safety holds:",
                Verdict::Reached => "Example found:",
                Verdict::Unreachable => "Example not found:",
            };
            (
                summary.to_string(),
                format!("{:?} {}", p.expectation, p.sentence),
            )
        })
        .collect();
    let got: Vec<_> = shown
        .iter()
        .map(|v| (v.summary.clone(), v.name.clone()))
        .collect();
    assert_eq!(got, expected, "the Explorer's verdicts");
    // Follow the counterexample: a path through the mapper's fault of the hole page and the
    // punch's removal loop (which returns from the punch, finding the faulted page mapped).
    let cex = shown
        .iter()
        .find(|v| v.summary == "Counterexample found:")
        .and_then(|v| v.href.clone())
        .expect("a counterexample link");
    assert!(cex.starts_with("#/steps/0/"), "{cex}");
    let removal = "kernel [manager] remove_inode_hugepages:mutex_lock";
    let dom = render(&scratch, &format!("{base}{cex}"), &[removal]);
    let path = links_under(&dom, "Path of Actions");
    // Pre-init, then one entry per index after `#/steps`.
    assert_eq!(path.len(), cex.split('/').count() - 1, "{path:#?}");
    assert!(
        path.last().unwrap().class.contains("is-selected-state"),
        "{path:#?}"
    );
    let texts: Vec<_> = path.iter().map(|l| l.text.as_str()).collect();
    for want in [
        fallocate,
        mutex_lock,
        "manager → kernel: Syscall(PunchHole { start: 1, end: 2 })",
        "mapper0 → kernel: Access { page: 1, write: false }",
        removal,
    ] {
        assert!(
            texts.contains(&want),
            "the counterexample lacks {want:?}: {texts:#?}"
        );
    }

    // The server is still up, and wrote nothing alarming.
    assert!(
        server.proc.running(),
        "the server exited:\n{}",
        tail(&server.log, 20)
    );
    drop(server.proc);
    let log = fs::read_to_string(&server.log).unwrap_or_default();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    eprintln!(
        "explorer browser test: {} Chromium runs (5 pages), {:?}",
        RUNS.load(Ordering::Relaxed),
        started.elapsed()
    );
}

#[test]
fn explore_refuses_all_variants_and_non_loopback_addresses() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hugepunch"))
            .arg("explore")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run hugepunch");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--variant", "all", "--addr", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the Explorer serves one variant"), "{err}");
    for addr in ["0.0.0.0:0", "[::]:0", "10.1.2.3:3000"] {
        let (code, err) = run(&["--addr", addr]);
        assert_eq!(code, Some(2), "{addr}: {err}");
        assert!(err.contains("is not a loopback address"), "{addr}: {err}");
    }
}
