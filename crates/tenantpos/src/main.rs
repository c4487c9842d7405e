#[tokio::main]
async fn main() -> std::process::ExitCode {
    match tenantpos::cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tenantpos: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
