//! `aqueduct db migrate|status|copy`: the database without a running server. Moving from the
//! embedded SQLite to PostgreSQL is `aqueduct db copy --from sqlite://... --to postgres://...`
//! with the server stopped, then `aqueduct up --database postgres://...`.

use std::path::PathBuf;

use anyhow::Context;
use aqueduct_store_sql::{MigrationState, SqlStore, redact};
use comfy_table::Table;

use crate::args::{DatabaseArgs, DbCommand};
use crate::exit;

pub(crate) fn db(command: DbCommand) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            DbCommand::Migrate { database } => migrate(&database_of(database)?).await,
            DbCommand::Status { database } => status(&database_of(database)?).await,
            DbCommand::Copy { from, to } => copy(&from, &to).await,
        }
    })
}

/// The database URL of `args`: `--database`, or the SQLite file of the home directory (created
/// if missing).
pub(crate) fn database_of(args: DatabaseArgs) -> anyhow::Result<String> {
    if let Some(url) = args.database {
        return Ok(url);
    }
    let home = args
        .home
        .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_HOME));
    let home = std::path::absolute(home)?;
    std::fs::create_dir_all(&home)
        .with_context(|| format!("failed to create {}", home.display()))?;
    Ok(crate::config::database_url(&home))
}

async fn open(url: &str) -> anyhow::Result<SqlStore> {
    let opened = SqlStore::open(url).await;
    opened.with_context(|| format!("failed to open database {}", redact(url)))
}

async fn migrate(url: &str) -> anyhow::Result<u8> {
    let store = open(url).await?;
    let states = store.migrations().await?;
    store.close().await;
    print_states(url, &states);
    Ok(exit::SUCCESS)
}

async fn status(url: &str) -> anyhow::Result<u8> {
    let states = SqlStore::migration_status(url)
        .await
        .with_context(|| format!("failed to read the migrations of {}", redact(url)))?;
    print_states(url, &states);
    let pending = states.iter().filter(|state| !state.applied).count();
    if pending > 0 {
        anstream::println!("{pending} pending: run `aqueduct db migrate` (or start the server)");
        return Ok(exit::FAILURE);
    }
    Ok(exit::SUCCESS)
}

fn print_states(url: &str, states: &[MigrationState]) {
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(["version", "migration", "state"]);
    for state in states {
        let applied = if state.applied { "applied" } else { "pending" };
        table.add_row([
            format!("{:04}", state.version),
            state.description.to_owned(),
            applied.to_owned(),
        ]);
    }
    anstream::println!("database {}\n{table}", redact(url));
}

async fn copy(from: &str, to: &str) -> anyhow::Result<u8> {
    let source = open(from).await?;
    let destination = open(to).await?;
    let copied = source.copy_into(&destination).await.with_context(|| {
        format!(
            "failed to copy {} into {} (nothing was written)",
            redact(from),
            redact(to)
        )
    })?;
    source.close().await;
    destination.close().await;
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(["table", "rows"]);
    for table_copy in &copied {
        table.add_row([
            table_copy.table.to_owned(),
            table_copy.destination_rows.to_string(),
        ]);
    }
    anstream::println!("copied {} into {}\n{table}", redact(from), redact(to));
    Ok(exit::SUCCESS)
}
