/// mimalloc rather than glibc's malloc: a request allocates and frees many small blocks, often
/// on another thread than the one that allocated them, and glibc spent ~14% of tenantpos's CPU
/// on a read of an order there (`malloc`, `free`, `malloc_consolidate` and the arenas' locks in
/// `perf`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (`include/mimalloc.h` of the version
/// Cargo.lock pins; the crate's bindings do not name it).
const MIMALLOC_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    give_freed_memory_back_at_once();
    keep_pages_small();
    run()
}

/// Freed memory goes back to the system at once rather than after mimalloc's delay, which it
/// counts only while the process allocates: a process that went idle after a burst of password
/// hashes (~19 MiB each) kept 23–33 MiB of them (`memory` tests: 51 MiB before the burst, 74
/// and 83 after); at once, 32 before and 32–39 after. Measured at no cost on the routes.
fn give_freed_memory_back_at_once() {
    // SAFETY: `mi_option_set` only stores an option's value, before any thread of ours exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MIMALLOC_PURGE_DELAY, 0);
    }
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    match tenantpos::cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tenantpos: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process. Where the kernel backs every aligned
/// region with 2 MiB pages (`/sys/kernel/mm/transparent_hugepage/enabled` = `always`),
/// mimalloc's regions are such, and a few blocks in use held whole 2 MiB pages: the process's
/// peak RSS under load was 56 MiB with huge pages and 37 MiB without, at the same speed.
#[cfg(target_os = "linux")]
fn keep_pages_small() {
    // SAFETY: `prctl(PR_SET_THP_DISABLE)` only sets a flag of this process; it is called
    // before any thread of ours exists, and a refusal leaves the kernel's default, which is
    // still correct, only larger.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn keep_pages_small() {}
