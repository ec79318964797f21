//! Commands from the API (or any other client) to the server loop, each with a reply.

use aqueduct_core::scheduler::{RunInfo, RunKey};
use aqueduct_store::Reprocess;
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the server is shutting down")]
    Unavailable,
    /// No GitOps app has this name.
    #[error("{0}")]
    UnknownApp(String),
    /// An app's repository has no such branch, tag or commit.
    #[error("{0}")]
    UnknownRevision(String),
    /// An app's repository could not be reached or read.
    #[error("{0}")]
    SourceUnreadable(String),
    #[error("{0}")]
    Internal(String),
    /// A live edit of a pipeline that a file of the plain pipelines folder defines: the folder
    /// is its source of truth, so the edit is refused (edit the file instead).
    #[error("{0}")]
    DefinedInFolder(String),
    /// Another of several active servers schedules the pipeline or syncs the app (a request is
    /// sent there before it reaches this loop; this answers one that arrived between a hand-over
    /// and the next look at who holds what).
    #[error("{0}")]
    Elsewhere(String),
}

type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

/// What a client may ask of the server loop.
#[derive(Debug)]
pub(crate) enum Command {
    Trigger {
        pipeline: String,
        params: Vec<(String, String)>,
        logical_date: Option<Timestamp>,
        reply: Reply<RunInfo>,
    },
    SetPaused {
        pipeline: String,
        paused: bool,
        reply: Reply<()>,
    },
    Cancel {
        run: RunKey,
        reply: Reply<()>,
    },
    Clear {
        run: RunKey,
        task: Option<String>,
        downstream: bool,
        reply: Reply<()>,
    },
    SyncApp {
        app: String,
        revision: Option<String>,
        initiator: String,
        reply: Reply<super::SyncOutcome>,
    },
    AddApp {
        spec: crate::gitops::AppSpec,
        reply: Reply<super::AppView>,
    },
    DeleteApp {
        app: String,
        reply: Reply<()>,
    },
    InspectApp {
        app: String,
        revision: Option<String>,
        reply: Reply<super::Inspection>,
    },
    RefreshApp {
        app: String,
        reply: Reply<super::AppView>,
    },
    RollbackApp {
        app: String,
        sync_id: i64,
        initiator: String,
        reply: Reply<super::SyncOutcome>,
    },
    Backfill {
        request: BackfillRequest,
        reply: Reply<Vec<RunKey>>,
    },
    ReplacePipeline {
        pipeline: String,
        text: String,
        initiator: String,
        reply: Reply<super::LiveEdit>,
    },
}

impl Command {
    /// The unit of work the command acts on, when only the server holding it may carry it out
    /// (see [`super::shares`]); inspecting, refreshing, adding and deleting apps work on any
    /// server.
    pub(crate) fn unit(&self) -> Option<String> {
        use super::shares::{unit_of_app, unit_of_pipeline};
        match self {
            Command::Trigger { pipeline, .. }
            | Command::SetPaused { pipeline, .. }
            | Command::ReplacePipeline { pipeline, .. } => Some(unit_of_pipeline(pipeline)),
            Command::Backfill { request, .. } => Some(unit_of_pipeline(&request.pipeline)),
            Command::Cancel { run, .. } | Command::Clear { run, .. } => {
                Some(unit_of_pipeline(&run.pipeline))
            }
            Command::SyncApp { app, .. } | Command::RollbackApp { app, .. } => {
                Some(unit_of_app(app))
            }
            // a refresh elsewhere fetches and follows the holder: the git webhook reaches every
            // server, and the holder's own refresh syncs
            Command::RefreshApp { .. }
            | Command::AddApp { .. }
            | Command::DeleteApp { .. }
            | Command::InspectApp { .. } => None,
        }
    }

    /// Answers the command with `error` without carrying it out.
    pub(crate) fn refuse(self, error: CommandError) {
        match self {
            Command::Trigger { reply, .. } => drop(reply.send(Err(error))),
            Command::SetPaused { reply, .. }
            | Command::Cancel { reply, .. }
            | Command::Clear { reply, .. }
            | Command::DeleteApp { reply, .. } => drop(reply.send(Err(error))),
            Command::SyncApp { reply, .. } | Command::RollbackApp { reply, .. } => {
                drop(reply.send(Err(error)))
            }
            Command::AddApp { reply, .. } | Command::RefreshApp { reply, .. } => {
                drop(reply.send(Err(error)))
            }
            Command::InspectApp { reply, .. } => drop(reply.send(Err(error))),
            Command::Backfill { reply, .. } => drop(reply.send(Err(error))),
            Command::ReplacePipeline { reply, .. } => drop(reply.send(Err(error))),
        }
    }
}

/// A backfill of a date range.
#[derive(Debug, Clone)]
pub struct BackfillRequest {
    pub pipeline: String,
    /// `YYYY-MM-DD` (midnight in the pipeline's time zone) or RFC 3339.
    pub from: String,
    pub to: String,
    pub reprocess: Reprocess,
    /// Most runs of this backfill active at once.
    pub max_active_runs: u32,
}

/// A cheap, cloneable handle to a running server loop.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    pub(crate) tx: mpsc::Sender<Command>,
}

impl ServerHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, CommandError> {
        let (reply, response) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| CommandError::Unavailable)?;
        response.await.map_err(|_| CommandError::Unavailable)?
    }

    /// Triggers a manual run with `name=value` parameter overrides.
    pub async fn trigger(
        &self,
        pipeline: &str,
        params: Vec<(String, String)>,
        logical_date: Option<Timestamp>,
    ) -> Result<RunInfo, CommandError> {
        let pipeline = pipeline.to_owned();
        self.ask(|reply| Command::Trigger {
            pipeline,
            params,
            logical_date,
            reply,
        })
        .await
    }

    /// Pauses or unpauses a pipeline's schedule.
    pub async fn set_paused(&self, pipeline: &str, paused: bool) -> Result<(), CommandError> {
        let pipeline = pipeline.to_owned();
        self.ask(|reply| Command::SetPaused {
            pipeline,
            paused,
            reply,
        })
        .await
    }

    /// Cancels an active run.
    pub async fn cancel(&self, run: RunKey) -> Result<(), CommandError> {
        self.ask(|reply| Command::Cancel { run, reply }).await
    }

    /// Creates (or clears) the runs of a date range; returns them, oldest first.
    pub async fn backfill(&self, request: BackfillRequest) -> Result<Vec<RunKey>, CommandError> {
        self.ask(|reply| Command::Backfill { request, reply }).await
    }

    /// Syncs a GitOps app to its revision, or to `revision` (a branch, tag or commit), whatever
    /// its sync policy; `initiator` is kept in the history (`user:<token name>`, ...).
    pub async fn sync_app(
        &self,
        app: &str,
        revision: Option<String>,
        initiator: &str,
    ) -> Result<super::SyncOutcome, CommandError> {
        let (app, initiator) = (app.to_owned(), initiator.to_owned());
        self.ask(|reply| Command::SyncApp {
            app,
            revision,
            initiator,
            reply,
        })
        .await
    }

    /// Declares a GitOps app (kept in the store as declared through the API).
    pub async fn add_app(
        &self,
        spec: crate::gitops::AppSpec,
    ) -> Result<super::AppView, CommandError> {
        self.ask(|reply| Command::AddApp { spec, reply }).await
    }

    /// Deletes a GitOps app declared through the API; its runs and history stay.
    pub async fn delete_app(&self, app: &str) -> Result<(), CommandError> {
        let app = app.to_owned();
        self.ask(|reply| Command::DeleteApp { app, reply }).await
    }

    /// Fetches a revision of a GitOps app (its own when `None`) and says what syncing it would
    /// do, without applying anything.
    pub async fn inspect_app(
        &self,
        app: &str,
        revision: Option<String>,
    ) -> Result<super::Inspection, CommandError> {
        let app = app.to_owned();
        self.ask(|reply| Command::InspectApp {
            app,
            revision,
            reply,
        })
        .await
    }

    /// Fetches a GitOps app now (auto-sync applies as usual) and returns it.
    pub async fn refresh_app(&self, app: &str) -> Result<super::AppView, CommandError> {
        let app = app.to_owned();
        self.ask(|reply| Command::RefreshApp { app, reply }).await
    }

    /// Syncs a GitOps app back to the commit of an earlier sync and turns its automated sync
    /// off until it is re-enabled, as Argo CD does.
    pub async fn rollback_app(
        &self,
        app: &str,
        sync_id: i64,
        initiator: &str,
    ) -> Result<super::SyncOutcome, CommandError> {
        let (app, initiator) = (app.to_owned(), initiator.to_owned());
        self.ask(|reply| Command::RollbackApp {
            app,
            sync_id,
            initiator,
            reply,
        })
        .await
    }

    /// Replaces a GitOps pipeline's definition live (`text` is its YAML document, already
    /// validated by the caller): a new version marked as changed live, used by the next runs
    /// (runs in flight keep theirs). The app shows it as drift; under `selfHeal` it is reverted
    /// to git right after the reply. `initiator` is logged (`token:<id>`).
    pub async fn replace_pipeline(
        &self,
        pipeline: &str,
        text: &str,
        initiator: &str,
    ) -> Result<super::LiveEdit, CommandError> {
        let (pipeline, text, initiator) =
            (pipeline.to_owned(), text.to_owned(), initiator.to_owned());
        self.ask(|reply| Command::ReplacePipeline {
            pipeline,
            text,
            initiator,
            reply,
        })
        .await
    }

    /// Clears a whole run, one task, or a task and everything downstream of it.
    pub async fn clear(
        &self,
        run: RunKey,
        task: Option<String>,
        downstream: bool,
    ) -> Result<(), CommandError> {
        self.ask(|reply| Command::Clear {
            run,
            task,
            downstream,
            reply,
        })
        .await
    }
}

impl From<crate::gitops::FetchError> for CommandError {
    fn from(error: crate::gitops::FetchError) -> CommandError {
        match error {
            crate::gitops::FetchError::UnknownRevision(what) => CommandError::UnknownRevision(what),
            crate::gitops::FetchError::Unreadable(what) => CommandError::SourceUnreadable(what),
        }
    }
}
