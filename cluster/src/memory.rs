//! How the process's memory is handed out and given back: mimalloc's options
//! and the kernel's transparent huge pages.

// The symbol comes from libmimalloc-sys, linked through the `mimalloc` crate
// even into a team's binary that chose another global allocator (then the
// options only tune an allocator nobody uses).
use mimalloc as _;

/// mimalloc's option numbers (`mi_option_e` in `mimalloc.h`; the same in
/// the v2 and v3 sources libmimalloc-sys 0.1 builds, which default to v3).
/// The crate names only some of them, so they are written out here, and
/// `option_numbers_are_mimallocs` checks them against the defaults
/// compiled in.
mod mi_option {
    pub(super) const ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
    pub(super) const PURGE_DELAY: std::ffi::c_int = 15;
}

#[allow(unsafe_code)]
mod mi_ffi {
    unsafe extern "C" {
        pub(super) fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
        #[cfg(test)]
        pub(super) fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    }
}

/// Under `--memory-limit`, mimalloc gives freed memory back to the system at
/// once instead of after a delay, and commits arenas as they fill. (Off by
/// default: the delay saves system calls on hosts with memory to spare.)
/// Until December the arena setting went to option 1, `show_stats`, not
/// `arena_eager_commit` (4); the measured gain below came from the purge
/// delay alone: on a 60,000-record ORC day under `--memory-limit 256M`, peak
/// RSS 203 MiB instead of 296 MiB with the delay (274 MiB without a limit),
/// at the same speed.
#[allow(unsafe_code)]
pub(crate) fn return_memory_promptly() {
    // SAFETY: setting an option is thread-safe in mimalloc and takes plain
    // integers; the symbol is linked through the `mimalloc` dependency.
    unsafe {
        mi_ffi::mi_option_set(mi_option::ARENA_EAGER_COMMIT, 0);
        mi_ffi::mi_option_set(mi_option::PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod mimalloc_tests {
    use super::{mi_ffi, mi_option};

    /// The numbers name the options meant: their values before anything
    /// sets them are mimalloc's compiled defaults for exactly those options
    /// (2 = eager commit on overcommitting systems; a purge delay of 1,000 ms
    /// in v3, 10 in v2). No test of this binary sets them.
    #[test]
    #[allow(unsafe_code)]
    fn option_numbers_are_mimallocs() {
        // SAFETY: reading an option is thread-safe and takes an integer.
        let (eager, delay) = unsafe {
            (
                mi_ffi::mi_option_get(mi_option::ARENA_EAGER_COMMIT),
                mi_ffi::mi_option_get(mi_option::PURGE_DELAY),
            )
        };
        assert_eq!(eager, 2, "arena_eager_commit");
        assert!(delay == 1000 || delay == 10, "purge_delay is {delay}");
    }
}

/// Transparent huge pages off for the whole process, unless
/// `MIMALLOC_ALLOW_THP` asks for them (then mimalloc's own option decides).
///
/// mimalloc asks for huge pages on its arenas (`MADV_HUGEPAGE`), and on the
/// common `defrag = madvise` setting each such fault may compact memory
/// before it zeroes 2 MiB. Measured on the 2-core VM (December, 200,000
/// records, three alternating pairs): with huge pages a day spent 0.75–1.62 s
/// of system time (JSON lines) and 1.13–1.40 s (ORC), and took 2.02–2.65 s
/// and 2.80–2.90 s; without, 0.32–0.37 s and 0.59–0.68 s of system time,
/// 2.01–2.02 s and 2.49–2.66 s, at the same user time and a peak RSS lower
/// by ~80 MB. The batches are touched once, so huge pages save no TLB misses
/// worth the stalls. The flag is the process's (`PR_SET_THP_DISABLE`), so it
/// holds for every allocator and for arenas mapped before `main`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn no_transparent_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // SAFETY: prctl with PR_SET_THP_DISABLE takes four integer arguments and
    // only sets a flag of this process; a kernel without it returns EINVAL,
    // which changes nothing, so the result is not needed.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn no_transparent_huge_pages() {}

#[cfg(all(test, target_os = "linux"))]
mod thp_tests {
    /// After the call the kernel reports the process's flag set (the
    /// `THP_enabled` line of `/proc/self/status`, Linux 5.0 and later).
    #[test]
    fn huge_pages_are_off_for_the_process() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return;
        }
        super::no_transparent_huge_pages();
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let line = status
            .lines()
            .find(|l| l.starts_with("THP_enabled:"))
            .expect("a THP_enabled line");
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}
