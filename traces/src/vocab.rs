//! The names a trace may use: variants, properties, actions and what each action needs.

use crate::schema::{Args, Level};

/// Kernel variants of the model.
pub const VARIANTS: [&str; 8] = [
    "v4_4",
    "v4_5",
    "hole_marker",
    "hole_marker_fixed",
    "v5_7",
    "v5_10",
    "v5_10_unlocked",
    "v6_1",
];

/// Property ids of the model.
pub const PROPERTIES: [&str; 14] = [
    "hole_freed_on_return",
    "hole_touch_caught",
    "no_stale_mapping",
    "accounting",
    "no_bug_on",
    "no_deadlock",
    "punch_returns",
    "race_window_fault",
    "hole_touch_missing",
    "uffd_copy_eexist",
    "uffd_copy_enomem",
    "fault_waits_on_marker",
    "vmdelete_skips_vma",
    "punch_frees_hole",
];

/// Properties whose counterexample is a kernel that hangs: no thread can move (`no_deadlock`),
/// or the punch never returns (`punch_returns`; the model has no other way not to return).
pub const HANG_PROPERTIES: [&str; 2] = ["no_deadlock", "punch_returns"];

/// Kernel steps of the model (`function:lock operation`); the checker's tests keep this list
/// equal to the model's.
pub const KERNEL_STEPS: [&str; 24] = [
    "hugetlb_fault:i_private",
    "hugetlb_fault:schedule",
    "hugetlb_fault:i_mmap_lock_read",
    "hugetlb_fault:mutex_lock",
    "hugetlb_fault:hugetlb_vma_lock_read",
    "hugetlb_no_page",
    "handle_userfault",
    "hugetlbfs_punch_hole:inode_lock",
    "hugetlb_vmdelete_list:i_mmap_lock_write",
    "remove_inode_hugepages:mutex_lock",
    "remove_inode_hugepages:i_mmap_lock_write",
    "remove_inode_hugepages:mutex_lock_again",
    "hugetlb_unmap_file_folio:i_mmap_lock_write",
    "hugetlb_unmap_file_folio:down_write",
    "hugetlb_unmap_file_folio:retry",
    "remove_inode_hugepages:lock_page",
    "hugetlbfs_fallocate:mutex_lock",
    "hugetlbfs_file_mmap",
    "userfaultfd_register",
    "__mcopy_atomic_hugetlb:i_mmap_lock_read",
    "__mcopy_atomic_hugetlb:mutex_lock",
    "__mcopy_atomic_hugetlb:hugetlb_vma_lock_read",
    "hugetlb_mcopy_atomic_pte",
    "userfaultfd_wake",
];

/// System calls a process can make.
pub const SYSCALLS: [&str; 6] = [
    "fallocate",
    "punch_hole",
    "mmap",
    "uffdio_register",
    "uffdio_copy",
    "uffdio_wake",
];

/// An argument an action needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    Page,
    Start,
    End,
    Write,
    Hit,
    Call,
    Ret,
    Value,
}

impl Arg {
    pub fn name(self) -> &'static str {
        match self {
            Arg::Page => "page",
            Arg::Start => "start",
            Arg::End => "end",
            Arg::Write => "write",
            Arg::Hit => "hit",
            Arg::Call => "call",
            Arg::Ret => "ret",
            Arg::Value => "value",
        }
    }

    /// Whether `args` has this argument.
    pub fn present(self, args: &Args) -> bool {
        match self {
            Arg::Page => args.page.is_some(),
            Arg::Start => args.start.is_some(),
            Arg::End => args.end.is_some(),
            Arg::Write => args.write.is_some(),
            Arg::Hit => args.hit.is_some(),
            Arg::Call => args.call.is_some(),
            Arg::Ret => args.ret.is_some(),
            Arg::Value => args.value.is_some(),
        }
    }

    pub const ALL: [Arg; 8] = [
        Arg::Page,
        Arg::Start,
        Arg::End,
        Arg::Write,
        Arg::Hit,
        Arg::Call,
        Arg::Ret,
        Arg::Value,
    ];
}

/// The level and arguments of a known action; `None` for an unknown name. Kernel steps may
/// name the page they work on.
pub fn action(name: &str) -> Option<(Level, &'static [Arg], &'static [Arg])> {
    use Arg::*;
    let (level, required, optional): (Level, &[Arg], &[Arg]) = match name {
        "start" | "mmap" | "uffdio_register" => (Level::Syscall, &[], &[]),
        "fallocate" | "punch_hole" => (Level::Syscall, &[Start, End], &[]),
        "uffdio_copy" | "uffdio_wake" => (Level::Syscall, &[Page], &[]),
        "return" => (Level::Syscall, &[Call, Ret], &[]),
        "touch" => (Level::Access, &[Page, Write], &[]),
        "mmu" => (Level::Access, &[Page, Write, Hit], &[]),
        "touched" => (Level::Access, &[Page, Write, Value], &[]),
        "sigbus" => (Level::Uffd, &[Page], &[]),
        "uffd_missing" => (Level::Uffd, &[Page, Write], &[]),
        k if KERNEL_STEPS.contains(&k) => (Level::Kernel, &[], &[Page]),
        _ => return None,
    };
    Some((level, required, optional))
}

/// Errno names a `return` may carry besides `ok`.
pub const ERRNOS: [&str; 3] = ["EEXIST", "ENOMEM", "ENOSPC"];
