//! Flags of the client verbs (`aqueduct pipelines`, `runs`, `trigger`, ...): which server, which
//! token, which output format, and each verb's own arguments.

use clap::{Args, Subcommand, ValueEnum};

use crate::args::{Output, parse_param};

/// The exit statuses every client verb shares (`trigger --wait` adds the run's outcome).
const EXIT_STATUS: &str = "Exit status: 0 on success, 1 when the server answers an error or \
cannot be reached, 2 on usage errors.";

/// The verbs that talk to a running `aqueduct up` over its HTTP API.
#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// List a server's pipelines: paused, schedule, last run and next run.
    #[command(after_help = EXIT_STATUS)]
    Pipelines(PipelinesArgs),
    /// Show one pipeline of a server: schedule, params, tasks and versions.
    #[command(after_help = EXIT_STATUS)]
    Pipeline(PipelineArgs),
    /// List a server's runs, newest first.
    #[command(after_help = EXIT_STATUS)]
    Runs(RunsArgs),
    /// Show one run and its tasks: state, attempts, exit code, duration.
    #[command(after_help = EXIT_STATUS)]
    Tasks(RunArgs),
    /// Print the log of a task attempt; with --follow, stream it until the attempt ends.
    #[command(after_help = EXIT_STATUS)]
    Logs(LogsArgs),
    /// Print the event log (state changes of runs, tasks, pipelines and apps) after a
    /// sequence number; with --follow, keep printing new events as they happen.
    ///
    /// Each line is `SEQ TIME KIND SUBJECT DATA`; with --output json, one JSON event per line
    /// (JSON Lines). Resume a consumer with --after set to the last SEQ it saw.
    #[command(after_help = EXIT_STATUS)]
    Events(EventsArgs),
    /// Trigger a manual run and print its run id.
    ///
    /// Exit status: 0 when the run was created (with --wait: when it succeeded), 1 when the
    /// server answers an error or cannot be reached (with --wait: also when the run failed or
    /// was cancelled), 2 on usage errors.
    Trigger(TriggerArgs),
    /// Create the runs of a date range (a backfill) and list them.
    #[command(after_help = EXIT_STATUS)]
    Backfill(BackfillArgs),
    /// Pause a pipeline's schedule (manual triggers still work).
    #[command(after_help = EXIT_STATUS)]
    Pause(PipelineArgs),
    /// Resume a pipeline's schedule.
    #[command(after_help = EXIT_STATUS)]
    Unpause(PipelineArgs),
    /// Clear a run's tasks so they run again: all of them, or one (and what depends on it).
    #[command(after_help = EXIT_STATUS)]
    Clear(ClearArgs),
    /// Cancel a run: running attempts are stopped, the rest never start.
    #[command(after_help = EXIT_STATUS)]
    Cancel(RunArgs),
    /// Replace a pipeline's definition live with a YAML file (admin token), as `kubectl
    /// replace -f` does.
    ///
    /// The file is validated by the server (every diagnostic is printed as line:col) and must
    /// name the pipeline: a GitOps pipeline APP/NAME is written `name: NAME`. The next runs use
    /// it; runs in flight keep theirs. For a GitOps pipeline this is drift: the app shows
    /// OutOfSync ("changed live through the API") and `aqueduct app diff` the fields until a
    /// sync reverts it to git, at once when the app's selfHeal is on. Pipelines of a plain
    /// --pipelines folder are refused: edit their file instead.
    #[command(after_help = EXIT_STATUS)]
    Replace(ReplaceArgs),
    /// Manage a server's GitOps apps: pipelines reconciled from git, the Argo CD way.
    ///
    /// An app binds a repository, a revision and a path to the server; each app and each of
    /// its pipelines has a sync status (Synced, OutOfSync, Unknown) and a health (Healthy,
    /// Progressing, Degraded, Suspended, Missing, Unknown), each with the reason.
    #[command(subcommand)]
    App(AppCommand),
    /// The notification outbox: what was delivered, what is pending and why, and the dead
    /// letters (notifications given up after the retry limit), which can be re-sent.
    #[command(subcommand)]
    Notifications(NotificationsCommand),
    /// List the remote workers a server saw in the last five minutes: queues, slots, running
    /// attempts, labels and when each was last seen.
    #[command(after_help = EXIT_STATUS)]
    Workers(WorkersArgs),
    /// List the servers sharing the server's PostgreSQL database and the units of work each
    /// schedules (`app:<name>`, `pipeline:<name>`); none on SQLite, where one server does all.
    #[command(after_help = EXIT_STATUS)]
    Servers(WorkersArgs),
}

/// The flags of `aqueduct workers` and `aqueduct servers`: the connection only.
#[derive(Debug, Args)]
pub(crate) struct WorkersArgs {
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// `aqueduct notifications ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum NotificationsCommand {
    /// List notifications, oldest first: id, state, attempts, sink, event, subject, last error.
    #[command(after_help = EXIT_STATUS)]
    List(NotificationsListArgs),
    /// Re-send a dead notification (operator token): it is pending again, attempts reset.
    #[command(after_help = EXIT_STATUS)]
    Resend(ResendArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NotificationsListArgs {
    /// Only notifications in this state.
    #[arg(long, value_parser = ["pending", "delivered", "dead"])]
    pub(crate) state: Option<String>,
    /// Only notifications with a greater id.
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub(crate) after: u64,
    /// Most notifications to list (1..=500).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=500))]
    pub(crate) limit: u32,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct ResendArgs {
    /// The notification's id.
    pub(crate) id: u64,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// `aqueduct app ...`: the verbs on a server's GitOps apps.
#[derive(Debug, Subcommand)]
pub(crate) enum AppCommand {
    /// List apps: sync status, health, tracked revision, applied commit and why.
    #[command(after_help = EXIT_STATUS)]
    List(AppListArgs),
    /// Show one app: sync status, health, conditions and each of its pipelines.
    ///
    /// Also its source, sync policy, the applied commit and the tracked revision's latest
    /// commit; a SyncFailed condition lists each diagnostic as file:line:col: code: message.
    #[command(after_help = EXIT_STATUS)]
    Get(AppArgs),
    /// Show how the live pipelines differ from git, field by field.
    ///
    /// Per pipeline (`+ name` added in git, `- name` removed from git, `~ name` changed), one
    /// line per field: `+ path: value` added, `- path: value` removed, `~ path: old -> new`
    /// changed. Compares with the app's tracked revision, or with --revision.
    #[command(after_help = EXIT_STATUS)]
    Diff(AppDiffArgs),
    /// Show what syncing a branch, tag or commit would do, without doing it.
    ///
    /// Lists the pipelines added, updated (with their fields) and removed, schedules whose next
    /// run moves, and whether the sync would be blocked, with each diagnostic. A preview for
    /// pull requests.
    ///
    /// Exit status: 0 when the sync could be applied, 1 when it would be blocked or the server
    /// answers an error or cannot be reached, 2 on usage errors.
    Plan(AppPlanArgs),
    /// Sync an app now: all its pipelines move to the commit, or none do.
    ///
    /// Syncs the tracked revision's latest commit, or --revision.
    ///
    /// Exit status: 0 when the sync was applied, 1 when it failed (for example a commit that
    /// fails validation; its diagnostics are printed) or the server answers an error or cannot
    /// be reached, 2 on usage errors.
    Sync(AppSyncArgs),
    /// List an app's syncs, newest first: id, commit, who started it and the result.
    #[command(after_help = EXIT_STATUS)]
    History(AppHistoryArgs),
    /// Go back to the commit of an earlier sync, and turn automated sync off.
    ///
    /// ID is a sync id from `aqueduct app history`. Automated sync of the app stays off until
    /// it is re-enabled, as in Argo CD, so the next poll does not undo the rollback; the output
    /// says so.
    ///
    /// Exit status: 0 when the rollback was applied, 1 when its sync failed or the server
    /// answers an error or cannot be reached, 2 on usage errors.
    Rollback(AppRollbackArgs),
    /// Fetch an app's repository now, instead of waiting for the next poll, and show the app.
    #[command(after_help = EXIT_STATUS)]
    Refresh(AppArgs),
    /// Declare an app (admin token): the server keeps it, fetches it at once, then polls it.
    ///
    /// Its pipelines are named APP/PIPELINE. Without --auto it syncs only when asked
    /// (`aqueduct app sync`); with --auto it syncs on its own, and --prune and --self-heal
    /// follow Argo CD's meaning.
    #[command(after_help = EXIT_STATUS)]
    Add(AppAddArgs),
    /// Delete an app declared with `aqueduct app add` (admin token): its pipelines stop being
    /// scheduled, runs in flight finish, runs and history stay. Apps of the config file are
    /// refused: remove them there.
    #[command(after_help = EXIT_STATUS)]
    Delete(AppArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AppAddArgs {
    /// The app's name (letters, digits, `_`, `-`, `.`).
    pub(crate) app: String,
    /// The repository: a local path, file://, https://, http:// or ssh:// URL.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub(crate) repo: String,
    /// Folder inside the repository. [default: the root]
    #[arg(long, value_name = "DIR")]
    pub(crate) path: Option<String>,
    /// Branch, tag or commit to follow. [default: main]
    #[arg(long, value_name = "REF")]
    pub(crate) revision: Option<String>,
    /// Sync on its own when the revision moves (Argo CD's automated sync policy).
    #[arg(long)]
    pub(crate) auto: bool,
    /// With --auto: remove pipelines deleted from git.
    #[arg(long, requires = "auto")]
    pub(crate) prune: bool,
    /// With --auto: revert live changes.
    #[arg(long, requires = "auto")]
    pub(crate) self_heal: bool,
    /// Seconds between fetches. [default: 180]
    #[arg(long, value_name = "SECONDS")]
    pub(crate) poll_interval: Option<u64>,
    /// Environment overlay folder inside the repository: its PipelineOverlay documents patch
    /// the schedule, params, env and resources of --path's pipelines. [default: none]
    #[arg(long, value_name = "DIR")]
    pub(crate) overlay: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct AppListArgs {
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct AppArgs {
    /// The app's name.
    pub(crate) app: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct AppDiffArgs {
    /// The app's name.
    pub(crate) app: String,
    /// Compare with this branch, tag or commit. [default: the app's tracked revision]
    #[arg(long, value_name = "REF")]
    pub(crate) revision: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct AppPlanArgs {
    /// The app's name.
    pub(crate) app: String,
    /// The branch, tag or commit whose sync is planned.
    #[arg(long, value_name = "REF")]
    pub(crate) revision: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct AppSyncArgs {
    /// The app's name.
    pub(crate) app: String,
    /// Sync this branch, tag or commit instead (the app keeps tracking its own revision).
    /// [default: the app's tracked revision]
    #[arg(long, value_name = "REF")]
    pub(crate) revision: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct AppHistoryArgs {
    /// The app's name.
    pub(crate) app: String,
    #[command(flatten)]
    pub(crate) page: PageArgs,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct AppRollbackArgs {
    /// The app's name.
    pub(crate) app: String,
    /// The id of the sync to go back to, as `aqueduct app history` lists it.
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) id: u64,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// Which server, with which token, and how to print its answers; shared by every client verb.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Server options")]
pub(crate) struct Connection {
    /// Base URL of the server (http only for now).
    #[arg(long, env = "AQUEDUCT_URL", value_name = "URL",
          default_value = "http://127.0.0.1:8080", value_parser = parse_base_url)]
    pub(crate) url: String,
    /// API token, sent as a bearer token (create one with `aqueduct token create`).
    #[arg(
        long,
        env = "AQUEDUCT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Option<String>,
    /// Output format: tables for people, or the API's JSON document for scripts.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct PipelinesArgs {
    /// Only pipelines whose name or description contains this (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub(crate) search: Option<String>,
    /// Only paused pipelines (`true`) or only unpaused ones (`false`).
    #[arg(long, value_name = "BOOL")]
    pub(crate) paused: Option<bool>,
    /// Only the pipelines of this GitOps app (named `<app>/<pipeline>`).
    #[arg(long, value_name = "APP")]
    pub(crate) app: Option<String>,
    /// Only pipelines whose labels carry every pair, e.g. `team=data,tier=gold`.
    #[arg(long, value_name = "KEY=VALUE,...")]
    pub(crate) label: Option<String>,
    /// Only pipelines whose latest run is in this state.
    #[arg(long, value_enum)]
    pub(crate) state: Option<RunStateFilter>,
    #[command(flatten)]
    pub(crate) page: PageArgs,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// A page of a list.
#[derive(Debug, Args)]
pub(crate) struct PageArgs {
    /// How many items to show (1 to 500). [default: 50]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    pub(crate) limit: Option<u32>,
    /// How many items to skip. [default: 0]
    #[arg(long, value_name = "N")]
    pub(crate) offset: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct PipelineArgs {
    /// The pipeline's name.
    pub(crate) pipeline: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct ReplaceArgs {
    /// The pipeline's name (APP/NAME for a GitOps pipeline).
    pub(crate) pipeline: String,
    /// The YAML file with the new definition; `-` reads standard input.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub(crate) filename: std::path::PathBuf,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// Only runs of this pipeline.
    #[arg(long, value_name = "NAME")]
    pub(crate) pipeline: Option<String>,
    /// Only runs in this state.
    #[arg(long, value_enum)]
    pub(crate) state: Option<RunStateFilter>,
    #[command(flatten)]
    pub(crate) page: PageArgs,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// A run state, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RunStateFilter {
    Queued,
    Running,
    Success,
    Failed,
    Cancelled,
}

/// One run, named by its pipeline and run id.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The pipeline's name.
    pub(crate) pipeline: String,
    /// The run id, e.g. manual__2026-01-01T00:00:00+00:00 (as printed by `trigger` and `runs`).
    pub(crate) run_id: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The pipeline's name.
    pub(crate) pipeline: String,
    /// The run id.
    pub(crate) run_id: String,
    /// The task's name.
    pub(crate) task: String,
    /// Which attempt, from 1. [default: the latest]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) attempt: Option<u32>,
    /// Keep printing lines as the task writes them, until the attempt ends.
    #[arg(long, short)]
    pub(crate) follow: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Only events with a greater sequence number. [default: 0, the oldest kept]
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub(crate) after: u64,
    /// Keep printing new events as they happen (until interrupted).
    #[arg(long, short)]
    pub(crate) follow: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct TriggerArgs {
    /// The pipeline's name.
    pub(crate) pipeline: String,
    /// Set a parameter, as NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    pub(crate) params: Vec<(String, String)>,
    /// Logical date of the run: YYYY-MM-DD (midnight UTC) or RFC 3339. [default: now]
    #[arg(long, value_name = "DATE", value_parser = parse_logical_date)]
    pub(crate) date: Option<jiff::Timestamp>,
    /// Wait until the run finishes, then show its tasks (Ctrl-C stops waiting, not the run).
    #[arg(long)]
    pub(crate) wait: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct BackfillArgs {
    /// The pipeline's name.
    pub(crate) pipeline: String,
    /// First logical date: YYYY-MM-DD (midnight in the pipeline's time zone) or RFC 3339.
    #[arg(long, value_name = "DATE")]
    pub(crate) from: String,
    /// Last logical date, inclusive; same formats.
    #[arg(long, value_name = "DATE")]
    pub(crate) to: String,
    /// Which dates of the range run: those without a run, also those whose run failed, or all
    /// (finished runs are cleared and run again).
    #[arg(long, value_enum, default_value_t = Reprocess::Missing)]
    pub(crate) reprocess: Reprocess,
    /// Most runs of this backfill active at once. [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_active: Option<u32>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// Which logical dates of a backfill's range (re)run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Reprocess {
    /// Only dates without a run.
    Missing,
    /// Dates without a run, and dates whose run failed.
    Failed,
    /// Every date.
    All,
}

#[derive(Debug, Args)]
pub(crate) struct ClearArgs {
    /// The pipeline's name.
    pub(crate) pipeline: String,
    /// The run id.
    pub(crate) run_id: String,
    /// Clear only this task. [default: every task]
    #[arg(long, value_name = "TASK")]
    pub(crate) task: Option<String>,
    /// With --task, also clear every task downstream of it.
    #[arg(long, requires = "task")]
    pub(crate) downstream: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

/// `http://HOST[:PORT][/PREFIX]`, without a trailing slash.
fn parse_base_url(text: &str) -> Result<String, String> {
    let base = text.trim_end_matches('/');
    if base.starts_with("https://") {
        return Err("https is not supported yet: use http://".to_owned());
    }
    match base.strip_prefix("http://") {
        Some(rest) if !rest.is_empty() => Ok(base.to_owned()),
        _ => Err(format!("expected http://HOST:PORT, got `{text}`")),
    }
}

/// `YYYY-MM-DD` (midnight UTC, as `aqueduct run --date`) or an RFC 3339 timestamp.
fn parse_logical_date(text: &str) -> Result<jiff::Timestamp, String> {
    aqueduct_core::quantity::parse_date(text, &jiff::tz::TimeZone::UTC).ok_or_else(|| {
        format!("expected YYYY-MM-DD or RFC 3339 (2026-01-31T06:00:00Z), got `{text}`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(parse_base_url("https://example.com").is_err());
        assert!(parse_base_url("127.0.0.1:8080").is_err());
        assert!(parse_base_url("http://").is_err());
    }

    #[test]
    fn logical_dates() {
        assert_eq!(
            parse_logical_date("2026-01-31").unwrap().to_string(),
            "2026-01-31T00:00:00Z"
        );
        assert_eq!(
            parse_logical_date("2026-01-31T06:00:00+01:00")
                .unwrap()
                .to_string(),
            "2026-01-31T05:00:00Z"
        );
        assert!(parse_logical_date("2026-1-31").is_err());
        assert!(parse_logical_date("tomorrow").is_err());
    }
}
