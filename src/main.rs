//! The `storefront` command: serve the API, or run an operator task.

use std::process::ExitCode;

use std::io::Write as _;

use clap::{Parser, Subcommand};
use storefront::app::{Actor, NewAccount};
use storefront::config::Config;

#[derive(Parser)]
#[command(version, about = "The Storefront API server", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, `serve` runs with these options.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
    /// Load the tutorials' demo catalog (idempotent), then exit.
    SeedDemo {
        #[command(flatten)]
        config: Config,
    },
    /// Create an admin account (the first one, typically), then exit.
    CreateAdmin {
        #[command(flatten)]
        config: Config,
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (otherwise from STOREFRONT_ADMIN_PASSWORD).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print the OpenAPI document the server implements.
    PrintSpec {
        /// yaml (as written) or json.
        #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
        format: String,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    config: Config,
    /// Load the demo catalog before serving.
    #[arg(long, env = "STOREFRONT_DEMO")]
    demo: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("storefront: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate { config }) => {
            storefront::open_for_operator(&config, true).await?.store().close().await;
            println!("migrations applied");
            Ok(())
        }
        Some(Command::SeedDemo { config }) => {
            let app = storefront::open_for_operator(&config, false).await?;
            let seeded = app.seed_demo().await;
            app.store().close().await;
            let seeded = seeded.map_err(|e| format!("loading the demo catalog: {e}"))?;
            println!(
                "demo catalog loaded: {} categories, {} products added",
                seeded.categories, seeded.products
            );
            Ok(())
        }
        Some(Command::CreateAdmin { config, username, email, password_stdin }) => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
                line.trim_end_matches(['\r', '\n']).to_string()
            } else {
                std::env::var("STOREFRONT_ADMIN_PASSWORD").map_err(|_| {
                    "give the password on standard input (--password-stdin) or in STOREFRONT_ADMIN_PASSWORD"
                })?
            };
            let app = storefront::open_for_operator(&config, false).await?;
            let new = NewAccount { username, email, password };
            let created = app.create_admin(&Actor::Operator, &new).await;
            app.store().close().await;
            let user = created.map_err(|e| format!("creating the admin: {}", describe(&e)))?;
            println!("admin {} created (id {})", user.username, user.id);
            Ok(())
        }
        Some(Command::PrintSpec { format }) => {
            let spec =
                if format == "json" { storefront::api::OPENAPI_JSON } else { storefront::api::OPENAPI_YAML };
            // A reader that stops early (`| head`) is not an error.
            match std::io::stdout().write_all(spec.as_bytes()).and_then(|()| std::io::stdout().flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing the spec: {e}")),
                _ => Ok(()),
            }
        }
    }
}

/// An error for a person at a terminal: the fields at fault, or the message.
fn describe(error: &storefront::error::Error) -> String {
    match error {
        storefront::error::Error::Invalid(fields) => {
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let log = storefront::logging::logger(args.config.log_format, args.config.log_level);
    if args.demo {
        let app = storefront::open_for_operator(&args.config, false).await?;
        let seeded = app.seed_demo().await;
        app.store().close().await;
        seeded.map_err(|e| format!("loading the demo catalog: {e}"))?;
    }
    let server = storefront::start(args.config, log.clone()).await?;
    shutdown_signal().await;
    slog::info!(log, "shutting down");
    server.shutdown().await
}

/// Ctrl-C or SIGTERM (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
