//! The command line: `serve` (default), `openapi [--yaml]`, `keygen`, `check`.

use base64::Engine;
use clap::{Parser, Subcommand};
use oidc_bff::{App, Config};
use std::process::ExitCode;

/// A stateless OIDC Backend-for-Frontend.
#[derive(Parser)]
#[command(name = "oidc-bff", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Print the OpenAPI document (JSON, or YAML with --yaml).
    Openapi {
        /// Print YAML instead of JSON.
        #[arg(long)]
        yaml: bool,
    },
    /// Print a new random session key (base64 of 32 bytes).
    Keygen,
    /// Validate the configuration and print it with secrets redacted.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi { yaml } => {
            let spec = if yaml {
                oidc_bff::app::spec_yaml()
            } else {
                oidc_bff::app::spec_json()
            };
            print!("{spec}");
            ExitCode::SUCCESS
        }
        Command::Keygen => {
            let key: [u8; 32] = rand::random();
            println!("{}", base64::engine::general_purpose::STANDARD.encode(key));
            ExitCode::SUCCESS
        }
        Command::Check => match Config::load() {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    eprintln!("warning: {warning}");
                }
                println!("{}", loaded.config.redacted_json());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        },
        Command::Serve => serve(),
    }
}

fn serve() -> ExitCode {
    init_tracing();
    let loaded = match Config::load() {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let profile = loaded.config.profile.clone();
    runtime.block_on(async move {
        let app = match App::build(loaded.config).await {
            Ok(app) => app,
            Err(error) => {
                eprintln!("cannot start: {error:#}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(port = app.port(), profile = %profile, "oidc-bff listening");
        match app.run_until(shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("server failed: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BFF_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("BFF_LOG_FORMAT").is_ok_and(|f| f == "json");
    // Colours only on a terminal: escape codes in a collected log are noise at best.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
