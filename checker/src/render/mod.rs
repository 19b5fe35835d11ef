//! `hugepunch render`: a trace as a sequence diagram for design review, as text (a table for a
//! terminal), Mermaid (a Markdown page GitHub renders) or SVG.
//!
//! One lifeline per thread: the manager, each mapper and its uffd handler, and each of them
//! running in the kernel (`kernel:manager` is the punch, `kernel:mapper0` mapper0's fault).
//! The race window (from the punch's `hugetlb_vmdelete_list` to the step after which
//! `remove_inode_hugepages` is done with the raced page, as the model defines it and the trace
//! records it) is highlighted, and the fault that maps a hole page inside it marked.

pub mod diagram;
pub mod lifeline;
pub mod mermaid;
pub mod show;
pub mod summary;
pub mod svg;
pub mod text;
pub mod window;

use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use traces::{Trace, TraceError};

pub use diagram::Diagram;
pub use traces::{RaceWindow, RacedFault};
pub use window::{race_window, Phrases};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table, one step a row, for a terminal.
    Text,
    /// A Markdown page with a Mermaid sequence diagram (GitHub renders it).
    Mermaid,
    /// A self-contained SVG sequence diagram.
    Svg,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Mermaid => "mermaid",
            Format::Svg => "svg",
        }
    }
}

#[derive(Args)]
pub struct RenderArgs {
    /// The trace file (e.g. traces/corpus/v4_4.hole_freed_on_return.counterexample.json).
    pub trace: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Where a rendering comes from, as the rendering names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The trace file as given.
    pub trace: String,
    /// The `hugepunch` arguments that regenerate it: `render TRACE --format F [--out FILE]`.
    pub args: String,
}

impl Origin {
    /// The origin of `hugepunch render trace --format format [--out out]`.
    pub fn new(trace: &Path, format: Format, out: Option<&Path>) -> Origin {
        let trace = slashes(trace);
        let mut args = format!("render {trace} --format {}", format.name());
        if let Some(out) = out {
            args.push_str(&format!(" --out {}", slashes(out)));
        }
        Origin { trace, args }
    }
}

fn slashes(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// Renders a (validated) trace.
pub fn render(trace: &Trace, format: Format, origin: &Origin) -> String {
    let d = Diagram::new(trace);
    match format {
        Format::Text => text::render(&d, origin),
        Format::Mermaid => mermaid::render(&d, origin),
        Format::Svg => svg::render(&d, origin),
    }
}

/// Loads the trace file and renders it as `hugepunch render` does (with `out` named in the
/// regeneration command, not written).
pub fn render_file(trace: &Path, format: Format, out: Option<&Path>) -> Result<String, TraceError> {
    let t = traces::load(trace)?;
    Ok(render(&t, format, &Origin::new(trace, format, out)))
}

/// One line: a message's newlines would break the one-line promise.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `hugepunch render`: exit 0 with the rendering on stdout (or in `--out`); exit 2 with one
/// line on stderr, naming the file, the step and the field, and nothing on stdout, when the
/// trace is rejected or the output cannot be written.
pub fn command(args: RenderArgs) -> ExitCode {
    let rendered = match render_file(&args.trace, args.format, args.out.as_deref()) {
        Ok(r) => r,
        Err(mut e) => {
            if e.field == "." || e.field.is_empty() {
                e.field = "(top level)".into();
            }
            eprintln!("hugepunch render: {}", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    match &args.out {
        Some(out) => {
            if let Err(e) = std::fs::write(out, rendered) {
                eprintln!(
                    "hugepunch render: {}: cannot write: {}",
                    out.display(),
                    one_line(&e.to_string())
                );
                return ExitCode::from(2);
            }
        }
        None => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(rendered.as_bytes()).is_err() || stdout.flush().is_err() {
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
