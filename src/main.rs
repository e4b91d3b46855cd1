use std::process::ExitCode;

use clap::Parser;

use fenghua_registry::cli::{Cli, Command};
use fenghua_registry::config::Config;
use fenghua_registry::{startup, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&cli.global);
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    let outcome: Result<(), Box<dyn std::error::Error>> = match command {
        Command::Serve(args) => Config::resolve(&cli.global, &args)
            .map_err(Into::into)
            .and_then(|config| {
                actix_web::rt::System::new().block_on(async move {
                    let state = startup::prepare(config)?;
                    startup::serve(state).await
                })?;
                Ok(())
            }),
        Command::Migrate => Config::database_url(&cli.global)
            .map_err(Into::into)
            .and_then(|url| {
                let applied = startup::migrate_only(&url)?;
                if applied.is_empty() {
                    println!("no pending migrations");
                } else {
                    for version in applied {
                        println!("applied {version}");
                    }
                }
                Ok(())
            }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "cannot continue");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
