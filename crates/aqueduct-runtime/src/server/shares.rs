//! Several active servers on one database: each schedules a share of the work.
//!
//! The work is cut into **units**: each GitOps app (its git sync, its pipelines, their runs) and
//! each pipeline of the plain folder. A server schedules the units it holds, and only those;
//! every server still loads every pipeline, so any of them answers reads. Holding a unit is a
//! lock in the database ([`Shares`]: a PostgreSQL advisory lock on a connection of the server's
//! own, released by PostgreSQL when the server dies), so no two servers ever schedule one
//! pipeline. Every second the loop compares its share with a fair one (units over live
//! servers, rounded up): it claims free units up to it and releases idle ones above it, so a
//! new server gets work and a dead server's units are taken over at once (their active runs
//! restored from the store, their running attempts lost and retried per policy).
//!
//! Without [`Shares`] (SQLite, or one server) the server holds every unit.

use futures_util::future::BoxFuture;

/// The unit of a pipeline: its app's for a GitOps pipeline (named `<app>/<name>`), its own for
/// a pipeline of the folder.
pub fn unit_of_pipeline(pipeline: &str) -> String {
    match pipeline.split_once('/') {
        Some((app, _)) => unit_of_app(app),
        None => format!("pipeline:{pipeline}"),
    }
}

/// The unit of a GitOps app.
pub fn unit_of_app(app: &str) -> String {
    format!("app:{app}")
}

/// The database's locks on units, as the server loop needs them.
pub trait Shares: Send + Sync + 'static {
    /// How many servers share the database now (this one included).
    fn members(&self) -> BoxFuture<'_, anyhow::Result<usize>>;
    /// Takes `unit` if no server holds it; whether this server holds it now.
    fn try_claim<'a>(&'a self, unit: &'a str) -> BoxFuture<'a, anyhow::Result<bool>>;
    /// Gives `unit` up.
    fn release<'a>(&'a self, unit: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
}
