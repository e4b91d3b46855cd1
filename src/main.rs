use std::process::ExitCode;

use clap::Parser;

use fenghua_registry::cli::{Cli, Command, GlobalArgs, ImportCommand, LogFormat};
use fenghua_registry::config::Config;
use fenghua_registry::config::FieldKeys;
use fenghua_registry::{startup, telemetry};

/// Large blocks go back to the system when freed. glibc otherwise raises its mmap threshold to
/// the largest block it has seen freed (up to 32 MiB), and from then on keeps blocks up to that
/// size in the arenas of whichever threads freed them: a few large transient buffers (an
/// import's file, a report) stay resident for the life of the process. The password hashes,
/// which first showed it (500 MiB after fifty sign-ins), now reuse one buffer per hashing
/// thread (`auth::password`). Setting the threshold explicitly is what turns the raising off.
#[cfg(target_env = "gnu")]
fn return_large_blocks_to_the_system() {
    // SAFETY: mallopt only sets an allocator parameter; called once, before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(target_env = "gnu"))]
fn return_large_blocks_to_the_system() {}

fn main() -> ExitCode {
    return_large_blocks_to_the_system();
    let cli = Cli::parse();
    telemetry::init(&cli.global);
    let log_format = cli.global.log_format;
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::new(cli.serve)));
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
        Command::Migrate => Config::migration_database_url(&cli.global)
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
        Command::Import {
            what: ImportCommand::Residents { file },
        } => import_residents(&cli.global, &file),
        Command::Import {
            what: ImportCommand::Areas { file },
        } => import_areas(&cli.global, &file),
        Command::SeedDemo(args) => fenghua_registry::demo::command(
            &cli.global,
            &fenghua_registry::demo::Options {
                residents: args.residents,
                seed: args.seed,
                force: args.force,
            },
        ),
        Command::CreateAdmin {
            username,
            password_stdin: _,
        } => Config::database_url(&cli.global)
            .map_err(Into::into)
            .and_then(|url| {
                let password = read_password_from_stdin()?;
                FieldKeys::install_audit_key_only(&cli.global)?;
                let migration_url = Config::migration_database_url(&cli.global)?;
                let outcome = startup::create_admin(&url, &migration_url, &username, &password)?;
                println!("admin {username} {outcome}");
                Ok(())
            }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One report, in the log format asked for: a collector reading JSON gets JSON.
            match log_format {
                LogFormat::Json => tracing::error!(%error, "cannot continue"),
                LogFormat::Human => eprintln!("error: {error}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// One line from standard input, without its line ending.
fn read_password_from_stdin() -> Result<String, Box<dyn std::error::Error>> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(password)
}

fn import_residents(
    global: &GlobalArgs,
    file: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let url = Config::database_url(global)?;
    let migration_url = Config::migration_database_url(global)?;
    let keys = FieldKeys::resolve(global)?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let format = fenghua_registry::csv_file::SheetFormat::of_path(file);
    let report = startup::import_residents(&url, &migration_url, &keys, &bytes, format)?;
    println!(
        "rows {}: created {}, updated {}, unchanged {}, rejected {}",
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        report.rejected.len()
    );
    print_rejected(&report.rejected);
    Ok(())
}

fn import_areas(
    global: &GlobalArgs,
    file: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let url = Config::database_url(global)?;
    let migration_url = Config::migration_database_url(global)?;
    FieldKeys::install_audit_key_only(global)?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let report = startup::import_villages(&url, &migration_url, &bytes)?;
    println!(
        "rows {}: created {}, unchanged {}, rejected {}",
        report.rows,
        report.created,
        report.unchanged,
        report.rejected.len()
    );
    print_rejected(&report.rejected);
    Ok(())
}

fn print_rejected(rejected: &[fenghua_registry::csv_file::RejectedRow]) {
    for row in rejected {
        for error in &row.errors {
            println!(
                "line {}: {}: {} ({})",
                row.row, error.field, error.message, error.code
            );
        }
    }
}
