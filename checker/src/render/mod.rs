//! `hugepunch render`: a trace as a sequence diagram for design review.
//! (Being written; see the issue on traces.)

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct RenderArgs {
    /// The trace file.
    pub trace: PathBuf,
}

/// `hugepunch render`.
pub fn command(_args: RenderArgs) -> ExitCode {
    eprintln!("hugepunch render: not written yet");
    ExitCode::from(2)
}
