//! Queries on pipelines and their versions.

use std::collections::HashMap;

use aqueduct_store::{
    Error as StoreError, NewVersion, Page, PipelineFilter, PipelineRow, PipelineVersion,
};
use jiff::Timestamp;
// The dynamic statements below interpolate only `$N` placeholders, never values.
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe};

use crate::codec::{decode_pipeline, decode_version, micros, pipeline_columns, version_columns};
use crate::error::Result;

/// Rows per multi-row statement: 5 binds each stays far below every backend's bind limit.
const CHUNK: usize = 100;

/// Records versions (finding the known ones) and makes each its pipeline's latest, in order, with
/// a handful of statements per hundred versions.
pub(crate) async fn record_versions(
    connection: &mut AnyConnection,
    versions: &[NewVersion],
    at: Timestamp,
) -> Result<Vec<PipelineVersion>> {
    let mut known = find_versions(connection, versions).await?;
    let missing: Vec<&NewVersion> = versions
        .iter()
        .filter(|version| !known.contains_key(&key_of(version)))
        .collect();
    if !missing.is_empty() {
        insert_versions(connection, &missing, at).await?;
        known = find_versions(connection, versions).await?;
    }
    let recorded = versions
        .iter()
        .map(|version| {
            known.get(&key_of(version)).cloned().ok_or_else(|| {
                StoreError::NotFound(format!("version {} of {}", version.hash, version.pipeline))
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    make_latest(connection, &recorded, at).await?;
    Ok(recorded)
}

fn key_of(version: &NewVersion) -> (String, String) {
    (version.pipeline.clone(), version.hash.clone())
}

/// `$first, $first+1, … ($count of them)`, for an `IN (…)` list or a `VALUES (…)` row.
fn placeholders(first: usize, count: usize) -> String {
    let numbers = (first..first + count).map(|n| format!("${n}"));
    numbers.collect::<Vec<_>>().join(", ")
}

/// The stored versions among `versions`, by `(pipeline, hash)`.
async fn find_versions(
    connection: &mut AnyConnection,
    versions: &[NewVersion],
) -> Result<HashMap<(String, String), PipelineVersion>> {
    let mut found = HashMap::new();
    for chunk in versions.chunks(CHUNK) {
        let select = format!(
            "SELECT {} FROM pipeline_versions WHERE hash IN ({})",
            version_columns!(),
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(select));
        for version in chunk {
            query = query.bind(&version.hash);
        }
        for row in query.fetch_all(&mut *connection).await? {
            let version = decode_version(&row)?;
            found.insert((version.pipeline.clone(), version.hash.clone()), version);
        }
    }
    Ok(found)
}

async fn insert_versions(
    connection: &mut AnyConnection,
    versions: &[&NewVersion],
    at: Timestamp,
) -> Result<()> {
    for chunk in versions.chunks(CHUNK) {
        let rows = (0..chunk.len()).map(|row| format!("({})", placeholders(row * 5 + 1, 5)));
        // DO NOTHING: a concurrent writer may have inserted the same hash meanwhile.
        let insert = format!(
            "INSERT INTO pipeline_versions (pipeline, hash, definition, source, created_at) \
             VALUES {} ON CONFLICT (pipeline, hash) DO NOTHING",
            rows.collect::<Vec<_>>().join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(insert));
        for version in chunk {
            query = query
                .bind(&version.pipeline)
                .bind(&version.hash)
                .bind(&version.definition)
                .bind(&version.source)
                .bind(micros(at));
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// Points each pipeline (created unpaused if new) at its last version in `versions`.
async fn make_latest(
    connection: &mut AnyConnection,
    versions: &[PipelineVersion],
    at: Timestamp,
) -> Result<()> {
    // one row per pipeline: an upsert may not touch the same row twice (PostgreSQL)
    let mut latest: Vec<(&str, i64)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for version in versions {
        match position.get(version.pipeline.as_str()) {
            Some(&index) => latest[index].1 = version.id,
            None => {
                position.insert(&version.pipeline, latest.len());
                latest.push((&version.pipeline, version.id));
            }
        }
    }
    for chunk in latest.chunks(CHUNK) {
        let rows = (0..chunk.len()).map(|row| {
            format!(
                "({}, 0, ${at}, ${at})",
                placeholders(row * 2 + 1, 2),
                at = chunk.len() * 2 + 1
            )
        });
        let upsert = format!(
            "INSERT INTO pipelines (name, latest_version, paused, created_at, updated_at) \
             VALUES {} \
             ON CONFLICT (name) DO UPDATE SET \
             updated_at = CASE WHEN pipelines.latest_version = excluded.latest_version \
             THEN pipelines.updated_at ELSE excluded.updated_at END, \
             latest_version = excluded.latest_version",
            rows.collect::<Vec<_>>().join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(upsert));
        for (name, id) in chunk {
            query = query.bind(*name).bind(*id);
        }
        query.bind(micros(at)).execute(&mut *connection).await?;
    }
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

/// The latest run's state (greatest logical date, then greatest id, as `list_runs` orders): a
/// correlated subquery that the runs' primary key `(pipeline, id)` narrows to one pipeline.
const LATEST_RUN_STATE: &str = "(SELECT runs.state FROM runs WHERE runs.pipeline = pipelines.name \
     ORDER BY runs.logical_date DESC, runs.id DESC LIMIT 1)";

pub(crate) async fn find_pipelines(
    pool: &AnyPool,
    filter: &PipelineFilter,
    page: Page,
) -> Result<(Vec<PipelineRow>, u64)> {
    let pattern = contains_pattern(filter.search.as_deref());
    // $1 is the pattern; each filter given adds one condition and its placeholder, in order
    let mut conditions = vec!["LOWER(name) LIKE $1 ESCAPE '\\'".to_owned()];
    if filter.paused.is_some() {
        conditions.push(format!("paused = ${}", conditions.len() + 1));
    }
    if filter.last_run_state.is_some() {
        let placeholder = conditions.len() + 1;
        conditions.push(format!("{LATEST_RUN_STATE} = ${placeholder}"));
    }
    let condition = conditions.join(" AND ");
    let next = conditions.len() + 1;
    let select = format!(
        "SELECT {} FROM pipelines WHERE {condition} ORDER BY name LIMIT ${next} OFFSET ${}",
        pipeline_columns!(),
        next + 1
    );
    let count_query = format!("SELECT COUNT(*) AS total FROM pipelines WHERE {condition}");
    let mut rows = sqlx::query(AssertSqlSafe(select)).bind(pattern.clone());
    let mut total = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_query)).bind(pattern);
    if let Some(paused) = filter.paused {
        rows = rows.bind(i64::from(paused));
        total = total.bind(i64::from(paused));
    }
    if let Some(state) = filter.last_run_state {
        rows = rows.bind(state.as_str());
        total = total.bind(state.as_str());
    }
    let rows = rows
        .bind(i64::from(page.limit))
        .bind(offset(page))
        .fetch_all(pool)
        .await?;
    let total = total.fetch_one(pool).await?;
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

/// Records a live edit: the version, made the latest, and the pipeline's live-edit mark.
pub(crate) async fn record_live_edit(
    connection: &mut AnyConnection,
    version: &NewVersion,
    at: Timestamp,
) -> Result<PipelineVersion> {
    let exists = sqlx::query("SELECT name FROM pipelines WHERE name = $1")
        .bind(&version.pipeline)
        .fetch_optional(&mut *connection)
        .await?;
    if exists.is_none() {
        let missing = format!("pipeline {}", version.pipeline);
        return Err(StoreError::NotFound(missing).into());
    }
    let recorded = record_versions(connection, std::slice::from_ref(version), at).await?;
    let recorded = recorded
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::NotFound(format!("the live version of {}", version.pipeline)))?;
    sqlx::query("UPDATE pipelines SET live_version = $1 WHERE name = $2")
        .bind(recorded.id)
        .bind(&version.pipeline)
        .execute(&mut *connection)
        .await?;
    Ok(recorded)
}

/// Clears the live-edit mark of each pipeline of `versions` (a sync applied them from git).
pub(crate) async fn clear_live_edits(
    connection: &mut AnyConnection,
    versions: &[PipelineVersion],
) -> Result<()> {
    for chunk in versions.chunks(CHUNK) {
        let update = format!(
            "UPDATE pipelines SET live_version = NULL WHERE name IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(update));
        for version in chunk {
            query = query.bind(&version.pipeline);
        }
        query.execute(&mut *connection).await?;
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
