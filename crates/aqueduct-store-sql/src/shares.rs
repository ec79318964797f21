//! Several active servers on one PostgreSQL database: who is here, and who holds which unit of
//! work (issue #6, docs/scaling.md).
//!
//! Each server keeps a connection of its own, outside the pool, and holds on it:
//! - a **membership lock**, the advisory lock `(MEMBER_CLASS, backend pid)`: the live servers
//!   are the holders of such locks, counted in `pg_locks`;
//! - one advisory lock per **unit** it schedules (an app, a pipeline of the folder), keyed by a
//!   64-bit hash of the unit's name.
//!
//! Locks of a connection are released by PostgreSQL when the connection ends, so a server that
//! dies (its process, its host, or its network) gives up everything at once and another one can
//! claim it, and no two servers ever hold one unit. The `servers` table maps the pid of each
//! connection to the URL its server answers at, so a request about a unit can be sent to the
//! server that holds it.

use sqlx::{AnyConnection, Connection, Row};
use tokio::sync::Mutex;

use crate::connect::Backend;
use crate::error::{Error, Result, redact};

/// The first key of membership locks: "aqdm" in ASCII. The second is the backend pid.
const MEMBER_CLASS: i32 = 0x6171_646d;

/// The current database's oid, for reading `pg_locks` (advisory locks are per database); a
/// macro so that the queries stay string literals.
macro_rules! this_database {
    () => {
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    };
}

/// The backend pids of the live servers' lock connections, as a subquery.
macro_rules! live_pids {
    () => {
        concat!(
            "(SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 ",
            "AND classid::bigint = 1634821229 AND granted AND database = ",
            this_database!(),
            ")"
        )
    };
}

/// A live server as the `servers` table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow {
    /// Where it answers (`--advertise-url`).
    pub url: String,
    /// When it joined (RFC 3339).
    pub joined_at: String,
    /// The units it holds, sorted.
    pub units: Vec<String>,
    /// Whether it is the server asking.
    pub this_server: bool,
}

/// A server's seat on the database: its membership and its units.
#[derive(Debug)]
pub struct Shares {
    connection: Mutex<AnyConnection>,
    pid: i64,
}

impl Shares {
    /// Joins the servers of the PostgreSQL database at `url`, recording that this server
    /// answers at `advertise` (its URL as the other servers reach it). `None` for SQLite,
    /// whose file serves one server.
    pub async fn join(url: &str, advertise: &str) -> Result<Option<Shares>> {
        if Backend::of_url(url)? != Backend::Postgres {
            return Ok(None);
        }
        sqlx::any::install_default_drivers();
        let mut connection = AnyConnection::connect(url)
            .await
            .map_err(|source| Error::Open {
                url: redact(url),
                source,
            })?;
        let row = sqlx::query("SELECT pg_backend_pid()")
            .fetch_one(&mut connection)
            .await?;
        let pid = i64::from(row.try_get::<i32, _>(0)?);
        // `void` has no Any type: read it as text
        sqlx::query("SELECT pg_advisory_lock($1, pg_backend_pid())::text")
            .bind(MEMBER_CLASS)
            .fetch_one(&mut connection)
            .await?;
        // rows of servers that are gone (and one that had this pid before) go
        let stale = concat!(
            "DELETE FROM servers WHERE pid = $1 OR pid NOT IN ",
            live_pids!()
        );
        sqlx::query(stale)
            .bind(pid)
            .execute(&mut connection)
            .await?;
        // slots and waits a server with this pid held before are no one's now
        sqlx::query("UPDATE pool_slots SET holder = NULL WHERE holder = $1")
            .bind(pid)
            .execute(&mut connection)
            .await?;
        sqlx::query("DELETE FROM pool_waits WHERE pid = $1")
            .bind(pid)
            .execute(&mut connection)
            .await?;
        sqlx::query("INSERT INTO servers (pid, url, joined_at) VALUES ($1, $2, $3)")
            .bind(pid)
            .bind(advertise)
            .bind(jiff::Timestamp::now().to_string())
            .execute(&mut connection)
            .await?;
        Ok(Some(Shares {
            connection: Mutex::new(connection),
            pid,
        }))
    }

    /// How many servers share the database now, this one included.
    pub async fn members(&self) -> Result<usize> {
        let query = concat!("SELECT COUNT(*) FROM ", live_pids!(), " AS live");
        let mut connection = self.connection.lock().await;
        let row = sqlx::query(query).fetch_one(&mut *connection).await?;
        let count: i64 = row.try_get(0)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Takes `unit` unless another server holds it; whether this server holds it now.
    pub async fn try_claim(&self, unit: &str) -> Result<bool> {
        let mut connection = self.connection.lock().await;
        let row = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(unit_key(unit))
            .fetch_one(&mut *connection)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Those of `units` no server holds now, in their order: one read of `pg_locks`, so a
    /// server looking for work does not try every unit of a large installation in turn.
    pub async fn free_units(&self, units: &[String]) -> Result<Vec<String>> {
        let query = concat!(
            "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' ",
            "AND objsubid = 1 AND granted AND database = ",
            this_database!()
        );
        let mut connection = self.connection.lock().await;
        let rows = sqlx::query(query).fetch_all(&mut *connection).await?;
        let mut held = std::collections::HashSet::with_capacity(rows.len());
        for row in &rows {
            let (high, low): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            held.insert(((high as u64) << 32 | (low as u64 & 0xffff_ffff)) as i64);
        }
        let free = units.iter().filter(|unit| !held.contains(&unit_key(unit)));
        Ok(free.cloned().collect())
    }

    /// Gives `unit` up (nothing happens when this server does not hold it).
    pub async fn release(&self, unit: &str) -> Result<()> {
        let mut connection = self.connection.lock().await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(unit_key(unit))
            .fetch_one(&mut *connection)
            .await?;
        Ok(())
    }

    /// The URL of the server that holds `unit`, when another server than this one does.
    pub async fn elsewhere(&self, unit: &str) -> Result<Option<String>> {
        let key = unit_key(unit);
        // a bigint key shows in pg_locks as its high and low 32 bits
        let (high, low) = (i64::from((key >> 32) as u32), i64::from(key as u32));
        let query = concat!(
            "SELECT l.pid, s.url FROM pg_locks l JOIN servers s ON s.pid = l.pid ",
            "WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted ",
            "AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.database = ",
            this_database!()
        );
        let mut connection = self.connection.lock().await;
        let row = sqlx::query(query)
            .bind(high)
            .bind(low)
            .fetch_optional(&mut *connection)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let pid = i64::from(row.try_get::<i32, _>(0)?);
        Ok((pid != self.pid).then(|| row.try_get(1)).transpose()?)
    }

    /// Takes up to `count` free slots of the first `size` of `pool` (free: held by no live
    /// server) and returns how many it took. Rows are claimed with `FOR UPDATE SKIP LOCKED`,
    /// so servers claiming at once never take one slot twice nor wait for each other.
    pub async fn claim_pool_slots(&self, pool: &str, size: u32, count: u32) -> Result<u32> {
        let mut connection = self.connection.lock().await;
        sqlx::query(
            "INSERT INTO pool_slots (pool, slot) SELECT $1, g FROM generate_series(0, $2 - 1) AS g \
             ON CONFLICT DO NOTHING",
        )
        .bind(pool)
        .bind(i64::from(size))
        .execute(&mut *connection)
        .await?;
        let claim = concat!(
            "UPDATE pool_slots SET holder = $1 WHERE (pool, slot) IN (",
            "SELECT pool, slot FROM pool_slots WHERE pool = $2 AND slot < $3 ",
            "AND (holder IS NULL OR holder NOT IN ",
            live_pids!(),
            ") ORDER BY slot LIMIT $4 FOR UPDATE SKIP LOCKED)"
        );
        let claimed = sqlx::query(claim)
            .bind(self.pid)
            .bind(pool)
            .bind(i64::from(size))
            .bind(i64::from(count))
            .execute(&mut *connection)
            .await?;
        Ok(u32::try_from(claimed.rows_affected()).unwrap_or(u32::MAX))
    }

    /// Gives `count` of this server's slots of `pool` back.
    pub async fn release_pool_slots(&self, pool: &str, count: u32) -> Result<()> {
        let mut connection = self.connection.lock().await;
        sqlx::query(
            "UPDATE pool_slots SET holder = NULL WHERE (pool, slot) IN (SELECT pool, slot \
             FROM pool_slots WHERE pool = $1 AND holder = $2 ORDER BY slot DESC LIMIT $3)",
        )
        .bind(pool)
        .bind(self.pid)
        .bind(i64::from(count))
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// Records how many slots of each pool this server's ready tasks wait for (replacing what
    /// it recorded before) and returns the pools another live server's tasks wait for.
    pub async fn pool_waits(
        &self,
        waiting: &std::collections::BTreeMap<String, u32>,
    ) -> Result<std::collections::BTreeSet<String>> {
        let mut connection = self.connection.lock().await;
        let mut transaction = connection.begin().await?;
        sqlx::query("DELETE FROM pool_waits WHERE pid = $1")
            .bind(self.pid)
            .execute(&mut *transaction)
            .await?;
        for (pool, slots) in waiting.iter().filter(|(_, slots)| **slots > 0) {
            sqlx::query("INSERT INTO pool_waits (pool, pid, waiting) VALUES ($1, $2, $3)")
                .bind(pool)
                .bind(self.pid)
                .bind(i64::from(*slots))
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        let others = concat!(
            "SELECT DISTINCT pool FROM pool_waits WHERE pid <> $1 AND waiting > 0 AND pid IN ",
            live_pids!()
        );
        let rows = sqlx::query(others)
            .bind(self.pid)
            .fetch_all(&mut *connection)
            .await?;
        first_column(&rows)
    }

    /// Records the units this server holds, for [`Shares::servers`].
    pub async fn record_units(&self, units: &[String]) -> Result<()> {
        // one per line: a unit's name never holds a line break
        let lines = units.join("\n");
        let mut connection = self.connection.lock().await;
        sqlx::query("UPDATE servers SET units = $1 WHERE pid = $2")
            .bind(lines)
            .bind(self.pid)
            .execute(&mut *connection)
            .await?;
        Ok(())
    }

    /// The live servers, oldest first: each one's URL, when it joined, the units it holds and
    /// whether it is this one.
    pub async fn servers(&self) -> Result<Vec<ServerRow>> {
        let query = concat!(
            "SELECT pid, url, joined_at, units FROM servers WHERE pid IN ",
            live_pids!(),
            " ORDER BY joined_at, pid"
        );
        let mut connection = self.connection.lock().await;
        let rows = sqlx::query(query).fetch_all(&mut *connection).await?;
        rows.iter()
            .map(|row| {
                let units: String = row.try_get(3)?;
                Ok(ServerRow {
                    url: row.try_get(1)?,
                    joined_at: row.try_get(2)?,
                    units: units.lines().map(str::to_owned).collect(),
                    this_server: row.try_get::<i64, _>(0)? == self.pid,
                })
            })
            .collect()
    }

    /// The value every server of the database uses for `name`: `proposed` when no server
    /// recorded one before, else the one recorded first.
    pub async fn shared_value(&self, name: &str, proposed: &str) -> Result<String> {
        let mut connection = self.connection.lock().await;
        sqlx::query(
            "INSERT INTO shared_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(proposed)
        .execute(&mut *connection)
        .await?;
        let row = sqlx::query("SELECT value FROM shared_settings WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *connection)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Whether the connection holding the locks still answers. Once it does not, PostgreSQL
    /// may have released them and another server may schedule this one's units: the server
    /// must stop.
    pub async fn is_held(&self) -> bool {
        let mut connection = self.connection.lock().await;
        let probe = sqlx::query("SELECT 1").execute(&mut *connection);
        probe.await.is_ok()
    }
}

/// The text of the first column of `rows`, collected.
fn first_column<C: FromIterator<String>>(rows: &[sqlx::any::AnyRow]) -> Result<C> {
    rows.iter()
        .map(|row| row.try_get::<String, _>(0).map_err(Error::from))
        .collect()
}

/// The advisory lock key of a unit: FNV-1a, 64 bits, of its name. Every server and every
/// version must compute the same key, so no hasher of the standard library (whose output may
/// change between releases) is used.
fn unit_key(unit: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in unit.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_pids_query_names_the_membership_class() {
        assert!(live_pids!().contains(&MEMBER_CLASS.to_string()));
    }

    #[test]
    fn unit_keys_are_fnv_1a_and_differ_between_units() {
        // FNV-1a's published value for "a"
        assert_eq!(unit_key("a") as u64, 0xaf63_dc4c_8601_ec8c);
        assert_ne!(unit_key("app:etl"), unit_key("app:etm"));
        assert_ne!(unit_key("pipeline:a"), unit_key("app:a"));
    }
}
