//! The crate's [`Error`] and its conversion into the store's error at the trait boundary.

use aqueduct_store::Error as StoreError;

/// What can fail in the SQL store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names no supported backend (`sqlite:`, `postgres:`, `postgresql:`).
    #[error("unsupported database url {0}: expected sqlite: or postgres:")]
    UnsupportedUrl(String),
    /// Connecting or preparing the connection failed.
    #[error("failed to open database {url}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("failed to migrate database {url}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
    /// A stored value could not be read back into a record.
    #[error("invalid value in column {column}: {value}")]
    Decode { column: &'static str, value: String },
    /// A copy's destination already holds rows (a copy never merges).
    #[error("the destination database is not empty: table {0} has rows")]
    NotEmpty(&'static str),
    /// A copied table does not hold as many rows as its source.
    #[error("table {table}: {source_rows} rows in the source, {destination_rows} copied")]
    CopyMismatch {
        table: &'static str,
        source_rows: i64,
        destination_rows: i64,
    },
    /// A domain outcome decided by the SQL code (conflict, not found).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns this crate's errors into the store's, saying what was being done.
pub(crate) trait Context<T> {
    fn context(self, doing: &str) -> aqueduct_store::Result<T>;
}

impl<T> Context<T> for Result<T> {
    fn context(self, doing: &str) -> aqueduct_store::Result<T> {
        self.map_err(|error| match error {
            Error::Store(error) => error,
            other => StoreError::backend(format!("failed to {doing}"), other),
        })
    }
}

/// `url` with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        let cases = [
            (
                "postgres://aq:s3cret@db:5432/aq",
                "postgres://aq:***@db:5432/aq",
            ),
            ("postgres://aq@db/aq", "postgres://aq@db/aq"),
            (
                "postgres://aq:p@ss@db/aq?x=a@b",
                "postgres://aq:***@db/aq?x=a@b",
            ),
            (
                "sqlite:///var/lib/aq/aqueduct.db",
                "sqlite:///var/lib/aq/aqueduct.db",
            ),
            ("sqlite:aq.db", "sqlite:aq.db"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact(url), expected);
        }
    }
}
