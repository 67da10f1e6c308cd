//! The `partnersync` binary: parses the command line and hands over to the
//! library. Wiring only.

use clap::Parser;

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
