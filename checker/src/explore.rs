//! `hugepunch explore`: Stateright's Explorer over the model, for interactive review.
//! (Being written; see the issue on traces.)

use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct ExploreArgs {}

/// `hugepunch explore`.
pub fn command(_args: ExploreArgs) -> ExitCode {
    eprintln!("hugepunch explore: not written yet");
    ExitCode::from(2)
}
