fn main() -> std::process::ExitCode {
    keep_large_blocks_out_of_the_heap();
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

/// The size from which glibc's malloc maps a block of its own, given back to the system when
/// freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;

/// Each argon2 hash allocates a ~19 MiB block. glibc maps the first one, and on freeing it
/// raises its mmap threshold above that size (the "dynamic threshold"), so every later block
/// is carved from a thread's arena instead, where freed memory stays with the process: with
/// hashes on many blocking threads, every tenant created kept ~16 MiB (a heap profile shows no
/// leak, only this retention). A fixed threshold turns the dynamic one off, so large blocks are
/// always mapped and given back when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_blocks_out_of_the_heap() {
    // SAFETY: `mallopt` only changes an allocator parameter; it is called before any thread
    // of ours exists, and a refusal (0) leaves glibc's defaults, which are still correct.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_blocks_out_of_the_heap() {}
