//! Copying a whole database to another, of either backend (`aqueduct db copy`): every table in
//! the order its foreign keys need, every row with its ids, in one transaction on the
//! destination, then the destination's id counters moved past the copied ids, so the event
//! log's numbers and every id go on where the source stopped.
//!
//! Every column is a BIGINT or a TEXT (the crate's encoding rule), so a row is read and written
//! as a list of optional integers and texts, typed by the destination's declared column types.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row, SqlSafeStr};

use crate::SqlStore;
use crate::connect::{Backend, begin};
use crate::error::{Error, Result};

/// The tables, parents before children (`pipelines` and `runs` refer to `pipeline_versions`,
/// `task_instances` and `task_attempts` to `runs`), each with its identity column, if it has one.
const TABLES: [(&str, Option<&str>); 11] = [
    ("pipeline_versions", Some("id")),
    ("pipelines", None),
    ("backfills", Some("id")),
    ("runs", None),
    ("task_instances", None),
    ("task_attempts", None),
    ("api_tokens", Some("id")),
    ("apps", None),
    ("app_syncs", Some("id")),
    ("events", Some("seq")),
    ("notifications", Some("id")),
];

/// How a column is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
}

/// One table's copy: its name and how many rows each side holds after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub table: &'static str,
    pub source_rows: i64,
    pub destination_rows: i64,
}

impl SqlStore {
    /// Copies every row of `self` into `destination`, which must be empty (a copy never
    /// merges), in one transaction: on any error nothing is written. Both databases are at the
    /// same migration version (opening them migrated them). Returns the row counts of both
    /// sides, checked equal.
    pub async fn copy_into(&self, destination: &SqlStore) -> Result<Vec<CopiedTable>> {
        let mut target = begin(&destination.pool, destination.backend).await?;
        for (table, _) in TABLES {
            if count(&mut target, table).await? > 0 {
                return Err(Error::NotEmpty(table));
            }
        }
        let mut source = self.pool.acquire().await?;
        for (table, _) in TABLES {
            let columns = columns(&mut target, destination.backend, table).await?;
            copy_table(&mut source, &mut target, table, &columns).await?;
        }
        if destination.backend == Backend::Postgres {
            for (table, identity) in TABLES {
                if let Some(column) = identity {
                    move_identity(&mut target, table, column).await?;
                }
            }
        }
        let mut copied = Vec::with_capacity(TABLES.len());
        for (table, _) in TABLES {
            let source_rows = count(&mut source, table).await?;
            let destination_rows = count(&mut target, table).await?;
            if source_rows != destination_rows {
                return Err(Error::CopyMismatch {
                    table,
                    source_rows,
                    destination_rows,
                });
            }
            copied.push(CopiedTable {
                table,
                source_rows,
                destination_rows,
            });
        }
        target.commit().await?;
        Ok(copied)
    }
}

async fn count(connection: &mut AnyConnection, table: &str) -> Result<i64> {
    // table names come from TABLES, never from input
    let row = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(connection)
        .await?;
    Ok(row.try_get(0)?)
}

/// The destination's columns of `table`, in declaration order, with their kinds.
async fn columns(
    connection: &mut AnyConnection,
    backend: Backend,
    table: &str,
) -> Result<Vec<(String, Kind)>> {
    let query = match backend {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => concat!(
            "SELECT column_name::text, data_type::text FROM information_schema.columns ",
            "WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position"
        ),
    };
    let rows = sqlx::query(query).bind(table).fetch_all(connection).await?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get(0)?;
            let declared: String = row.try_get(1)?;
            let kind = match declared.to_ascii_uppercase().contains("INT") {
                true => Kind::Integer,
                false => Kind::Text,
            };
            Ok((name, kind))
        })
        .collect()
}

async fn copy_table(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
    table: &str,
    columns: &[(String, Kind)],
) -> Result<()> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
    let list = names.join(", ");
    let placeholders: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
    let select = format!("SELECT {list} FROM {table}");
    let insert = format!(
        "INSERT INTO {table} ({list}) VALUES ({})",
        placeholders.join(", ")
    );
    // table names come from TABLES, column names from the destination's own schema
    let insert = AssertSqlSafe(insert).into_sql_str();
    let select = sqlx::query(AssertSqlSafe(select));
    let rows: Vec<AnyRow> = select.fetch_all(&mut *source).await?;
    for row in &rows {
        let mut query = sqlx::query(insert.clone());
        for (index, (_, kind)) in columns.iter().enumerate() {
            query = match kind {
                Kind::Integer => query.bind(row.try_get::<Option<i64>, _>(index)?),
                Kind::Text => query.bind(row.try_get::<Option<String>, _>(index)?),
            };
        }
        query.execute(&mut *target).await?;
    }
    Ok(())
}

/// Moves PostgreSQL's identity counter of `table.column` past the greatest copied value, so the
/// next row gets the next number (SQLite's AUTOINCREMENT follows inserted ids by itself).
async fn move_identity(connection: &mut AnyConnection, table: &str, column: &str) -> Result<()> {
    let query = format!(
        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
         COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
    );
    sqlx::query(AssertSqlSafe(query))
        .fetch_one(connection)
        .await?;
    Ok(())
}
