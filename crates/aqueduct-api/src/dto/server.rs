//! `GET /api/v1/servers`: the servers sharing one PostgreSQL database and the units of work
//! each holds (docs/scaling.md). Empty on SQLite, where one server does all the work.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A live server of the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServerInfo {
    /// Where the other servers reach it (`--advertise-url`).
    pub url: String,
    /// When it joined, RFC 3339.
    pub joined_at: String,
    /// The units of work it schedules, sorted: `app:<name>` (an app, its git sync and its
    /// pipelines) and `pipeline:<name>` (a pipeline of the folder).
    pub units: Vec<String>,
    /// Whether it is the server that answered.
    pub this_server: bool,
}
