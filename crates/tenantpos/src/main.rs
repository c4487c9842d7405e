/// mimalloc rather than glibc's malloc: a request allocates and frees many small blocks, often
/// on another thread than the one that allocated them, and glibc spent ~14% of tenantpos's CPU
/// on a read of an order there (`malloc`, `free`, `malloc_consolidate` and the arenas' locks in
/// `perf`). mimalloc also gives large blocks (an argon2 hash's ~19 MiB) back to the system
/// once freed, after a second, so the process keeps no more than it uses (`memory` tests).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    keep_pages_small();
    run()
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
