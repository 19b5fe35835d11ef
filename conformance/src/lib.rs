//! Replays hugepunch traces on this Linux host: real processes, real hugetlbfs, real
//! userfaultfd; compares, step by step, what the host does with what the model predicts.
//!
//! It reads traces (crate `traces`), whose vocabulary is the model's (`spec`, pure), and never
//! runs the model. All `unsafe` and every system call live in [`sys`].
#![deny(unsafe_code)]
pub mod act;
pub mod actors;
pub mod aim;
pub mod error;
pub mod evidence;
pub mod host;
pub mod layout;
pub mod mailbox;
pub mod observe;
pub mod plan;
pub mod protocol;
pub mod replay;
pub mod report;
pub mod separation;
#[allow(unsafe_code)]
pub mod sys;
pub mod vm;
pub mod window;
