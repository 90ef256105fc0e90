//! Process-wide memory settings, applied once at start: transparent huge pages off.
//!
//! mimalloc asks the kernel for transparent huge pages on its arenas
//! (`madvise(MADV_HUGEPAGE)`), so the first touch of an arena region faults in and
//! zeroes 2 MiB at a time. A proxy's memory is many small per-connection pieces:
//! with huge pages a fleet's idle connections cost more resident memory (pages
//! only partly used) and an admission storm spends its time in the kernel zeroing
//! them (`clear_page_erms`, ~10 % of the proxy's CPU under `scripts/bench.sh
//! connect`). Small pages fault in only what is used. `MIMALLOC_ALLOW_THP` in the
//! environment is the operator's own choice and is left to mimalloc. Not here: the
//! allocator itself (`main.rs`) or any per-connection accounting (`footprint.rs`).

/// Turns transparent huge pages off for this process (`PR_SET_THP_DISABLE`),
/// unless `MIMALLOC_ALLOW_THP` says otherwise: `Ok(true)` when they are off now,
/// `Ok(false)` when the operator chose, the kernel's refusal otherwise.
pub fn small_pages() -> std::io::Result<bool> {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return Ok(false);
    }
    // SAFETY: `prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)` takes integer arguments only,
    // touches no memory of ours, and only sets a flag of this process.
    match unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } {
        0 => Ok(true),
        _ => Err(std::io::Error::last_os_error()),
    }
}
