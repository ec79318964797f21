//! Queries on pipelines and their versions.

use aqueduct_store::{Error as StoreError, Page, PipelineRow, PipelineVersion};
use jiff::Timestamp;
use sqlx::{AnyConnection, AnyPool};

use crate::codec::{decode_pipeline, decode_version, micros, pipeline_columns, version_columns};
use crate::error::Result;

const SELECT_VERSION_BY_HASH: &str = concat!(
    "SELECT ",
    version_columns!(),
    " FROM pipeline_versions WHERE pipeline = $1 AND hash = $2"
);

/// Records a version (or finds the known one) and makes it the pipeline's latest.
pub(crate) async fn record_version(
    connection: &mut AnyConnection,
    pipeline: &str,
    hash: &str,
    definition: &str,
    source: &str,
    at: Timestamp,
) -> Result<PipelineVersion> {
    let version = match find_version(connection, pipeline, hash).await? {
        Some(known) => known,
        None => {
            // DO NOTHING: a concurrent writer may have inserted the same hash meanwhile.
            let insert = concat!(
                "INSERT INTO pipeline_versions (pipeline, hash, definition, source, created_at) ",
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (pipeline, hash) DO NOTHING"
            );
            sqlx::query(insert)
                .bind(pipeline)
                .bind(hash)
                .bind(definition)
                .bind(source)
                .bind(micros(at))
                .execute(&mut *connection)
                .await?;
            let inserted = find_version(connection, pipeline, hash).await?;
            inserted.ok_or_else(|| StoreError::NotFound(format!("version {hash} of {pipeline}")))?
        }
    };
    make_latest(connection, &version, at).await?;
    Ok(version)
}

async fn find_version(
    connection: &mut AnyConnection,
    pipeline: &str,
    hash: &str,
) -> Result<Option<PipelineVersion>> {
    let row = sqlx::query(SELECT_VERSION_BY_HASH)
        .bind(pipeline)
        .bind(hash)
        .fetch_optional(connection)
        .await?;
    row.as_ref().map(decode_version).transpose()
}

/// Points the pipeline (created unpaused if new) at `version`.
async fn make_latest(
    connection: &mut AnyConnection,
    version: &PipelineVersion,
    at: Timestamp,
) -> Result<()> {
    let upsert = "INSERT INTO pipelines (name, paused, latest_version, created_at, updated_at) \
                  VALUES ($1, 0, $2, $3, $3) \
                  ON CONFLICT (name) DO UPDATE SET \
                  updated_at = CASE WHEN pipelines.latest_version = excluded.latest_version \
                  THEN pipelines.updated_at ELSE excluded.updated_at END, \
                  latest_version = excluded.latest_version";
    sqlx::query(upsert)
        .bind(&version.pipeline)
        .bind(version.id)
        .bind(micros(at))
        .execute(connection)
        .await?;
    Ok(())
}

pub(crate) async fn get_pipeline(pool: &AnyPool, name: &str) -> Result<PipelineRow> {
    let query = concat!(
        "SELECT ",
        pipeline_columns!(),
        " FROM pipelines WHERE name = $1"
    );
    let row = sqlx::query(query).bind(name).fetch_optional(pool).await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("pipeline {name}")))?;
    decode_pipeline(&row)
}

/// The `LIKE` pattern matching names that contain `search` literally, ASCII case-insensitively
/// (the query compares `LOWER(name)`, which folds ASCII only on both backends).
fn contains_pattern(search: Option<&str>) -> String {
    let Some(search) = search else {
        return "%".to_owned();
    };
    let mut pattern = String::from("%");
    for character in search.to_ascii_lowercase().chars() {
        if matches!(character, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

pub(crate) async fn list_pipelines(
    pool: &AnyPool,
    search: Option<&str>,
    page: Page,
) -> Result<(Vec<PipelineRow>, u64)> {
    let pattern = contains_pattern(search);
    let select = concat!(
        "SELECT ",
        pipeline_columns!(),
        " FROM pipelines WHERE LOWER(name) LIKE $1 ESCAPE '\\' ORDER BY name LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(select)
        .bind(&pattern)
        .bind(i64::from(page.limit))
        .bind(offset(page))
        .fetch_all(pool)
        .await?;
    let count_query =
        "SELECT COUNT(*) AS total FROM pipelines WHERE LOWER(name) LIKE $1 ESCAPE '\\'";
    let total: i64 = sqlx::query_scalar(count_query)
        .bind(&pattern)
        .fetch_one(pool)
        .await?;
    let pipelines = rows.iter().map(decode_pipeline).collect::<Result<_>>()?;
    Ok((pipelines, count(total)))
}

/// A page's offset as the databases take it (beyond `i64::MAX` nothing is left anyway).
pub(crate) fn offset(page: Page) -> i64 {
    i64::try_from(page.offset).unwrap_or(i64::MAX)
}

/// A `COUNT(*)` as the store reports it.
pub(crate) fn count(total: i64) -> u64 {
    u64::try_from(total).unwrap_or(0)
}

pub(crate) async fn set_paused(
    connection: &mut AnyConnection,
    name: &str,
    paused: bool,
) -> Result<()> {
    let result = sqlx::query("UPDATE pipelines SET paused = $1 WHERE name = $2")
        .bind(i64::from(paused))
        .bind(name)
        .execute(connection)
        .await?;
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("pipeline {name}")).into());
    }
    Ok(())
}

pub(crate) async fn get_version(pool: &AnyPool, id: i64) -> Result<PipelineVersion> {
    let query = concat!(
        "SELECT ",
        version_columns!(),
        " FROM pipeline_versions WHERE id = $1"
    );
    let row = sqlx::query(query).bind(id).fetch_optional(pool).await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("pipeline version {id}")))?;
    decode_version(&row)
}

pub(crate) async fn list_versions(pool: &AnyPool, pipeline: &str) -> Result<Vec<PipelineVersion>> {
    let query = concat!(
        "SELECT ",
        version_columns!(),
        " FROM pipeline_versions WHERE pipeline = $1 ORDER BY id DESC"
    );
    let rows = sqlx::query(query).bind(pipeline).fetch_all(pool).await?;
    rows.iter().map(decode_version).collect()
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn search_patterns_are_literal_and_lowercase() {
        assert_eq!(contains_pattern(None), "%");
        assert_eq!(contains_pattern(Some("ETL")), "%etl%");
        assert_eq!(contains_pattern(Some("a_b%c\\d")), "%a\\_b\\%c\\\\d%");
    }
}
