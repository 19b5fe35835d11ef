//! The `hugepunch` command's library: model checking runs, trace export, the corpus,
//! rendering, and the conformance commands' front end.
#![forbid(unsafe_code)]

pub mod bounded;
pub mod cfg_args;
pub mod cli;
pub mod conformance_cli;
pub mod corpus;
pub mod dfs;
pub mod explore;
pub mod export;
pub mod export_text;
pub mod progress;
pub mod render;
pub mod report;
pub mod run;
pub mod separate;
pub mod shortest;
pub mod vm_cli;
