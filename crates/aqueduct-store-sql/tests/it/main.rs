//! Integration tests of the SQL store: the conformance suite on SQLite (always) and PostgreSQL
//! (when `AQ_TEST_POSTGRES_URL` is set), and SQLite durability across restarts.

mod copy;
mod postgres;
mod restart;
mod shares;
mod sqlite;
