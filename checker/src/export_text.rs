//! The one-line description and expected host outcome of a trace.

use spec::{ModelCfg, UffdPolicy};
use traces::Kind;

/// What happens in the trace, in one line.
pub fn description(cfg: &ModelCfg, id: &str, kind: Kind) -> String {
    let v = cfg.variant;
    let hole = format!("[{}, {})", cfg.hole_start, cfg.hole_end);
    let caught = match cfg.uffd {
        UffdPolicy::Sigbus => "SIGBUS (UFFD_FEATURE_SIGBUS)",
        _ => "a MISSING event",
    };
    let text = match (id, kind) {
        ("hole_freed_on_return", Kind::Counterexample) => format!(
            "A fault maps a page of the hole {hole} after hugetlb_vmdelete_list and before \
             remove_inode_hugepages reaches it; {v} skips the mapped page, so the punch returns \
             with it still in the file."
        ),
        ("hole_touch_caught", Kind::Counterexample) => format!(
            "A page the race left in the hole {hole} is still cached, so a touch after the \
             punch returned reads the old data and userfaultfd never sees it."
        ),
        ("no_deadlock" | "punch_returns", Kind::Counterexample) => format!(
            "{}A fault maps a page of the hole {hole} in the race window; the removal loop takes \
             its page lock before the mapped check (the backport of 7b7387650dcf), drops the \
             fault mutex and waits for i_mmap_rwsem (write). The other mapper's fault holds \
             i_mmap_rwsem (read), takes the fault mutex and waits for the page lock in \
             find_lock_page: neither can move.",
            if id == "punch_returns" {
                "The punch never returns. "
            } else {
                ""
            }
        ),
        ("race_window_fault", _) => format!(
            "A fault maps a page of the hole {hole} between hugetlb_vmdelete_list and \
             remove_inode_hugepages (the 2015 race window){}.",
            if v.features().skips_mapped_page() {
                "; the removal loop then skips it"
            } else {
                "; the removal loop unmaps it again under the fault mutex and frees it"
            }
        ),
        ("hole_touch_missing", _) => format!(
            "After the punch a touch of the hole {hole} misses the page cache and raises {caught}."
        ),
        ("uffd_copy_eexist", _) => "The handler's UFFDIO_COPY finds the page back in the page \
             cache (hole reuse or another mapper's copy) and fails with EEXIST; UFFDIO_WAKE lets \
             the fault retry and map the cached page."
            .to_string(),
        ("uffd_copy_enomem", _) => "Before 5.13 the handler's UFFDIO_COPY allocates a huge page \
             before it learns the page is back in the page cache (hole reuse or another mapper's \
             copy); every pool page is in the file, so the allocation fails with ENOMEM where \
             5.13+ (8cc5fcbb5be8) returns EEXIST. The handler gives up; the faulting thread is \
             never woken."
            .to_string(),
        ("fault_waits_on_marker", _) => "A fault finds the hole marker in inode->i_private and \
             sleeps until the punch clears it and wakes the wait queue."
            .to_string(),
        ("vmdelete_skips_vma", _) => "hugetlb_vmdelete_list cannot trylock the vma_lock a \
             concurrent fault holds and skips that VMA; the removal loop unmaps the folio later \
             (hugetlb_unmap_file_folio)."
            .to_string(),
        ("punch_frees_hole", _) => format!(
            "The punch returns with every page of the hole {hole} out of the file: the manager \
             gets its pages back."
        ),
        (id, kind) => format!("{kind:?} of {id} in {v}."),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What replaying the trace on a Linux host is expected to show.
pub fn host_outcome(cfg: &ModelCfg, id: &str, kind: Kind) -> String {
    let v = cfg.variant;
    let text = match kind {
        Kind::Counterexample if v.features().skips_mapped_page() => format!(
            "A kernel with the 4.5 fix (4aae8d1c051e) unmaps the raced page again and frees it: \
             once the interleaving is achieved the host diverges from this trace where the page \
             stays ({id} holds on the host). A host that follows the trace to the end behaves \
             like {v}."
        ),
        Kind::Counterexample if spec::properties::by_id(id).is_some_and(|p| p.hangs) => format!(
            "Not replayed without --allow-hang: a kernel with this deadlock hangs for good (the \
             punch in i_mmap_lock_write holding the page lock, the fault in find_lock_page \
             holding i_mmap_rwsem). A host whose faults do not take i_mmap_rwsem (6.x) or that \
             locks the page after the re-unmap does not hang. A host that follows it behaves \
             like {v}."
        ),
        Kind::Counterexample => format!(
            "A counterexample of {id} in {v}: a host that follows it to the end shows the \
             violation."
        ),
        Kind::Witness if id == "race_window_fault" => format!(
            "The touch faults during the punch and succeeds without an event (the page was still \
             cached); {}",
            if v.features().skips_mapped_page() {
                "a host with the 4.5 fix then removes the page anyway, unlike this trace."
            } else {
                "the host then removes the page: every observable as predicted on 4.5 and later."
            }
        ),
        Kind::Witness if id == "uffd_copy_enomem" => "A host with 8cc5fcbb5be8 (5.13+, and 5.10.y \
             stable) checks the page cache before it allocates, and its pool is larger than the \
             model's: UFFDIO_COPY returns EEXIST, not ENOMEM, so the replay diverges at that \
             return. Only a kernel before 5.13 with every pool page in use follows the trace."
            .to_string(),
        Kind::Witness if v.features().hole_marker && id == "fault_waits_on_marker" => {
            "No released kernel has the hole marker: a host shows the same observables with \
             the fault not waiting (the wait is not visible from user space)."
                .to_string()
        }
        Kind::Witness => format!(
            "Every observable as predicted on a kernel that {v} stands for and on later ones."
        ),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
