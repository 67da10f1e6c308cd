//! The `partnersync` binary: parses the command line and hands over to the
//! library. Wiring only.

use clap::Parser;

/// mimalloc instead of the system allocator: loading a million records
/// allocates and frees tens of millions of small blocks (sqlx rows and
/// values, records, hash maps), and glibc's malloc was a fifth of a first
/// window load's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::init_tracing();
    let cli = server::cli::Cli::parse();
    match server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("partnersync: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
