//! The command line: `serve` (default), `openapi [--merged] [--yaml]`, `keygen`, `check`,
//! `revoke`.

use base64::Engine;
use clap::{Parser, Subcommand};
use oidc_bff::{App, Config};
use std::process::ExitCode;

/// jemalloc rather than glibc's malloc. A relayed request is allocated on one worker thread and
/// often freed on the other (the upstream connection's task runs where tokio puts it): glibc
/// then takes the owning arena's lock, and under load those locks were contended enough to
/// make a quarter of a futex call per request. jemalloc batches such frees per thread.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts: two arenas (one per worker thread on the one- and
/// two-core replicas this is sized for, instead of four per core, each keeping its own free
/// pages) and freed pages returned within a second rather than ten, so the peak RSS stays near
/// glibc's. `_RJEM_MALLOC_CONF` in the environment overrides them (README, "Sizing").
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_OPTIONS: &[u8; 47] = b"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

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
        /// Merge in the upstreams' documents (`openapi` of each route in the configuration),
        /// as the service serves it; a document that cannot be read is a warning.
        #[arg(long)]
        merged: bool,
    },
    /// Print a new random session key (base64 of 32 bytes).
    Keygen,
    /// Validate the configuration and print it with secrets redacted.
    Check,
    /// End sessions before their cookies expire, on every replica (needs `store.url`).
    Revoke {
        /// Every session of this user signed in until now (the ID token's `sub`).
        #[arg(long, conflicts_with = "sid", required_unless_present = "sid")]
        sub: Option<String>,
        /// Every session of this SSO session (the ID token's `sid`).
        #[arg(long)]
        sid: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi { yaml, merged: true } => merged_openapi(yaml),
        Command::Openapi {
            yaml,
            merged: false,
        } => {
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
        Command::Revoke { sub, sid } => revoke(sub, sid),
        Command::Serve => serve(),
    }
}

/// `oidc-bff openapi --merged`: the routes of the configuration (nothing else of it is needed),
/// each upstream document read once and merged; the ones left out are warned about on stderr
/// and the rest is still printed (exit 0), as the service would serve it.
fn merged_openapi(yaml: bool) -> ExitCode {
    let routes = match Config::load_routes() {
        Ok(routes) => routes,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (doc, left_out) = runtime.block_on(oidc_bff::app::merged_spec(&routes));
    for left_out in left_out {
        eprintln!("warning: {left_out}");
    }
    let spec = if yaml {
        oidc_bff::spec::served::render_yaml(&doc)
    } else {
        oidc_bff::spec::served::render_json(&doc)
    };
    print!("{spec}");
    ExitCode::SUCCESS
}

/// `oidc-bff revoke`: records the entry in the store with the same configuration the service
/// uses; running replicas learn it through pub/sub within moments.
fn revoke(sub: Option<String>, sid: Option<String>) -> ExitCode {
    use oidc_bff::store::deny::{Entry, Kind};
    let config = match Config::load() {
        Ok(loaded) => loaded.config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let (entry, what) = match (&sub, &sid) {
        (Some(sub), _) => (
            Entry::new(Kind::Subject, sub),
            "every session of that subject",
        ),
        (None, Some(sid)) => (
            Entry::new(Kind::SsoSession, sid),
            "every session of that SSO session",
        ),
        (None, None) => {
            eprintln!("name what to revoke: --sub or --sid");
            return ExitCode::from(2);
        }
    };
    let metrics = std::sync::Arc::new(oidc_bff::metrics::Metrics::default());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let store = match oidc_bff::store::Store::open(&config.store, metrics) {
            Ok(Some(store)) => store,
            Ok(None) => {
                eprintln!("revoke needs a session store: set store.url (BFF_STORE__URL)");
                return ExitCode::from(2);
            }
            Err(error) => {
                eprintln!("cannot open the session store: {error:#}");
                return ExitCode::FAILURE;
            }
        };
        let now = oidc_bff::session::now();
        match store
            .revoke(&entry, now, config.session.absolute_lifetime)
            .await
        {
            Ok(()) => {
                println!(
                    "revoked {what}; replicas refuse those sessions from now on (kept {})",
                    humantime::format_duration(config.session.absolute_lifetime)
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        }
    })
}

fn serve() -> ExitCode {
    // Kept until the process ends: dropping it flushes the log writer and the span exporter.
    let _telemetry = oidc_bff::telemetry::init();
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
        let signal = shutdown_signal();
        tracing::info!(port = app.port(), profile = %profile, "oidc-bff listening");
        match app.run_until_signal(signal).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("server failed: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

/// SIGTERM or Ctrl-C. The handlers are installed when this is called, not when the future is
/// first polled, so a signal that arrives right after the "listening" line is not lost to the
/// default action (which would end the process without draining).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}
