//! Command-line flags (clap). Every flag that configures state has an `AQUEDUCT_*` twin.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// aqueduct: pipelines as YAML in Git, scheduled the Airflow way, reconciled the Argo CD way.
#[derive(Debug, Parser)]
#[command(name = "aqueduct", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check pipeline files and report every problem with file:line:col, excerpt and hint.
    ///
    /// Exit status: 0 when every pipeline is valid, 1 when any problem was found, 2 on usage
    /// errors (e.g. a path that does not exist).
    Validate(ValidateArgs),
    /// Run a pipeline once, locally, with live progress.
    ///
    /// Exit status: 0 when the run succeeded, 1 when it failed, 2 when it could not start
    /// (invalid pipeline or parameters), 130 when cancelled with Ctrl-C.
    Run(RunArgs),
    /// Print the JSON Schema of the pipeline format (for editors and CI).
    Schema,
    /// Show the next scheduled runs of a pipeline: logical date, data interval and run time.
    ///
    /// Reads `schedule`, `timezone`, `startDate`, `endDate` and `dataIntervals` from the file
    /// and prints times in the pipeline's time zone. Given the name of a pipeline instead of a
    /// file, asks the running server (`--url`, `--token`) and prints times in UTC.
    ///
    /// Exit status: 0 on success (also for a pipeline without a schedule), 1 when the server
    /// refuses, 2 when the file is invalid or the arguments are wrong.
    NextRuns(NextRunsArgs),
    /// Start the server: scheduler, local executor, SQLite store, HTTP API and web UI in one process.
    ///
    /// Serves the pipelines of a folder (the bundled examples by default), watched for changes,
    /// and the web UI at / (log in with a token from `aqueduct token create`).
    /// State (database and task logs) lives in the home directory. Stops on Ctrl-C or SIGTERM;
    /// running attempts are stopped and retried after the next start.
    Up(Box<UpArgs>),
    /// Run a server's task attempts on this machine: a remote worker.
    ///
    /// Long-polls the server for attempts of its queues while it has free slots, fetches each
    /// task's files into a verified cache under --home, runs the command there, renews the
    /// attempt's lease, streams its log and reports how it ended. Needs a token of role
    /// `worker`. With several --server URLs (servers sharing one database) it claims from each
    /// and reports an attempt to the server that leased it; one that is down is skipped. SIGTERM or Ctrl-C drains: no new attempts; running ones get --grace to
    /// finish, then are stopped and handed back to the server to run elsewhere. A second
    /// signal hands back at once.
    ///
    /// Exit status: 0 after a drain, 1 when the server refuses to hand out work (a server
    /// without the worker protocol), 2 when the token is refused (401/403) or on usage errors.
    Worker(WorkerArgs),
    /// Manage API tokens (works on the database without a running server).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The database: apply migrations, show them, copy everything to another database.
    #[command(subcommand)]
    Db(DbCommand),
    /// The client verbs (pipelines, runs, tasks, logs, trigger, ...): talk to a running server.
    #[command(flatten)]
    Client(crate::client::ClientCommand),
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    /// [default: 127.0.0.1:8080]
    #[arg(long, env = "AQUEDUCT_LISTEN", value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// The home directory and the database (migrated at start; config keys home, database).
    #[command(flatten)]
    pub(crate) state: DatabaseArgs,
    /// Folder of pipeline files, watched for changes. Without it, --repo or apps in the config
    /// file, a server started at the top of an aqueduct clone syncs the clone's examples/
    /// folder as the GitOps app `examples`; elsewhere it serves the folder ./examples.
    #[arg(long, env = "AQUEDUCT_PIPELINES", value_name = "DIR")]
    pub(crate) pipelines: Option<PathBuf>,
    /// Git repository to reconcile pipelines from (local path, file://, https://, http://,
    /// ssh://), as an automated GitOps app named after the repository.
    #[arg(long, env = "AQUEDUCT_REPO", value_name = "PATH_OR_URL")]
    pub(crate) repo: Option<String>,
    /// Folder inside --repo that holds the pipeline files. [default: the root]
    #[arg(
        long,
        env = "AQUEDUCT_REPO_PATH",
        value_name = "DIR",
        requires = "repo"
    )]
    pub(crate) path: Option<String>,
    /// Branch, tag or commit of --repo to follow. [default: main]
    #[arg(long, env = "AQUEDUCT_REVISION", value_name = "REF", requires = "repo")]
    pub(crate) revision: Option<String>,
    /// Environment overlay folder inside --repo: its PipelineOverlay documents patch the
    /// schedule, params, env and resources of --path's pipelines. [default: none]
    #[arg(long, env = "AQUEDUCT_OVERLAY", value_name = "DIR", requires = "repo")]
    pub(crate) overlay: Option<String>,
    /// Environment variable holding the webhook secret of --repo's app: with it, a signed POST
    /// to /api/v1/apps/<app>/webhook or /api/v1/webhooks/git (GitHub, Gitea or GitLab) fetches
    /// the repository at once.
    #[arg(
        long,
        env = "AQUEDUCT_WEBHOOK_SECRET_ENV",
        value_name = "NAME",
        requires = "repo"
    )]
    pub(crate) webhook_secret_env: Option<String>,
    /// Environment variable holding the server's GitHub webhook secret: with it, a push signed
    /// with it and POSTed to /api/v1/webhooks/git refreshes every app of the pushed repository.
    /// [config: webhooks.github.secretEnv]
    #[arg(long, env = "AQUEDUCT_GITHUB_WEBHOOK_SECRET_ENV", value_name = "NAME")]
    pub(crate) github_webhook_secret_env: Option<String>,
    /// Environment variable holding the server's GitLab webhook secret (its secret token), for
    /// /api/v1/webhooks/git. [config: webhooks.gitlab.secretEnv]
    #[arg(long, env = "AQUEDUCT_GITLAB_WEBHOOK_SECRET_ENV", value_name = "NAME")]
    pub(crate) gitlab_webhook_secret_env: Option<String>,
    /// Environment variable holding the server's Gitea webhook secret, for
    /// /api/v1/webhooks/git. [config: webhooks.gitea.secretEnv]
    #[arg(long, env = "AQUEDUCT_GITEA_WEBHOOK_SECRET_ENV", value_name = "NAME")]
    pub(crate) gitea_webhook_secret_env: Option<String>,
    /// Config file (YAML) with the keys listen, home, pipelines, apps, webhooks, parallelism,
    /// pools, retentionDays, otlpEndpoint; flags and environment variables win over it.
    #[arg(long, env = "AQUEDUCT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Most tasks running at once across all pipelines. [default: 32]
    #[arg(long, env = "AQUEDUCT_PARALLELISM", value_name = "N")]
    pub(crate) parallelism: Option<usize>,
    /// Log format on stderr.
    #[arg(long, env = "AQUEDUCT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    /// OpenTelemetry collector (OTLP/HTTP, protobuf) to export runs to, as its base URL
    /// (http://127.0.0.1:4318): each run is a trace, each task attempt a span, sent to
    /// URL/v1/traces, and every task gets its attempt's span as TRACEPARENT in its
    /// environment. Falls back to OTEL_EXPORTER_OTLP_ENDPOINT. [default: no traces]
    /// [config: otlpEndpoint]
    #[arg(long, env = "AQUEDUCT_OTLP_ENDPOINT", value_name = "URL")]
    pub(crate) otlp_endpoint: Option<String>,
    /// A queue the server's own executor runs (repeatable; AQUEDUCT_LOCAL_QUEUES takes a
    /// comma-separated list); tasks of other queues wait for a remote worker (`aqueduct
    /// worker --queue NAME`). [default: default] [config: localQueues]
    #[arg(
        long,
        env = "AQUEDUCT_LOCAL_QUEUES",
        value_delimiter = ',',
        value_name = "NAME",
        conflicts_with = "no_local_executor"
    )]
    pub(crate) local_queue: Vec<String>,
    /// Run no task on the server itself: every queue waits for remote workers.
    /// [config: localQueues: []]
    #[arg(long, env = "AQUEDUCT_NO_LOCAL_EXECUTOR")]
    pub(crate) no_local_executor: bool,
    /// How long a remote worker's lease on an attempt lasts without a heartbeat; after that
    /// the attempt is lost and retried per its policy, and the worker's late result is
    /// refused. Workers renew three times per lease. [default: 30s] [config: workerLease]
    #[arg(long, env = "AQUEDUCT_WORKER_LEASE", value_name = "DURATION", value_parser = parse_lease)]
    pub(crate) worker_lease: Option<std::time::Duration>,
    /// With several servers on one PostgreSQL database (they share the work), the URL the
    /// others reach this one at: requests about a pipeline or app it holds are forwarded
    /// there. [default: http://LISTEN, with this host's name for 0.0.0.0]
    /// [config: advertiseUrl]
    #[arg(long, env = "AQUEDUCT_ADVERTISE_URL", value_name = "URL")]
    pub(crate) advertise_url: Option<String>,
}

/// A lease of at least 300 ms.
pub(crate) fn parse_lease(text: &str) -> Result<std::time::Duration, String> {
    let lease = aqueduct_core::quantity::parse_duration(text).map_err(|e| e.to_string())?;
    if lease < std::time::Duration::from_millis(300) {
        return Err("a lease must last at least 300ms".to_owned());
    }
    Ok(lease)
}

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Base URL of a server (http:// or https://). Repeat for servers that share the work
    /// (active/active on one PostgreSQL): the worker claims from each and talks to the server
    /// that issued a lease about it; a server that is down (or a standby that does not listen)
    /// is skipped and tried again later. The environment variable takes a comma-separated list.
    #[arg(long = "server", env = "AQUEDUCT_SERVERS", value_name = "URL", required = true,
          value_delimiter = ',', value_parser = parse_server_url)]
    pub(crate) servers: Vec<String>,
    /// API token of role `worker` (`aqueduct token create --role worker`), sent as a bearer
    /// token.
    #[arg(
        long,
        env = "AQUEDUCT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: String,
    /// Queue to take attempts from; repeat (or separate with commas) for several.
    #[arg(
        long = "queue",
        env = "AQUEDUCT_QUEUES",
        value_name = "NAME",
        value_delimiter = ',',
        default_value = "default"
    )]
    pub(crate) queues: Vec<String>,
    /// How many attempts run at once. [default: the number of CPUs]
    #[arg(long, env = "AQUEDUCT_SLOTS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) slots: Option<u32>,
    /// A label shown in the server's workers list, as KEY=VALUE; repeat for several.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub(crate) labels: Vec<(String, String)>,
    /// The worker's name, unique among the server's workers. [default: HOSTNAME-PID]
    #[arg(long, env = "AQUEDUCT_WORKER_NAME", value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// Directory for the file cache, the tasks' trees and the running attempts' logs; one
    /// worker per directory.
    #[arg(
        long,
        env = "AQUEDUCT_WORKER_HOME",
        value_name = "DIR",
        default_value = ".aqueduct-worker"
    )]
    pub(crate) home: PathBuf,
    /// How long a drain lets running attempts finish before handing them back (30s, 5m).
    #[arg(long, env = "AQUEDUCT_GRACE", value_name = "DURATION", default_value = "60s",
          value_parser = parse_duration_arg)]
    pub(crate) grace: std::time::Duration,
    /// Log format on stderr.
    #[arg(long, env = "AQUEDUCT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// `http://HOST[:PORT]` or `https://...`, without a trailing slash.
fn parse_server_url(text: &str) -> Result<String, String> {
    let base = text.trim().trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() => Ok(base.to_owned()),
        _ => Err(format!(
            "expected http://HOST:PORT or https://HOST, got `{text}`"
        )),
    }
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    aqueduct_core::quantity::parse_duration(text).map_err(|error| error.to_string())
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create an API token and print it (only the token, on stdout). It is stored hashed and
    /// cannot be shown again.
    Create {
        /// What the token may do: viewer (read), operator (also trigger, pause, clear,
        /// cancel), admin, or worker (only `aqueduct worker`: claim and run tasks, nothing
        /// else).
        #[arg(long, value_parser = ["viewer", "operator", "admin", "worker"])]
        role: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Where the server's state is: the home directory, and the database, `--database` or the
/// SQLite file of the home.
#[derive(Debug, Args)]
pub(crate) struct DatabaseArgs {
    /// State directory: task logs, git mirrors, and the SQLite database unless --database
    /// names another. [default: ./.aqueduct]
    #[arg(long, env = "AQUEDUCT_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// Database URL: `sqlite:///path/aqueduct.db` or `postgres://user:password@host/db`.
    /// [default: aqueduct.db in the home directory]
    #[arg(
        long,
        env = "AQUEDUCT_DATABASE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Apply the migrations the database does not have yet (`aqueduct up` also does at
    /// start), then list them.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List this build's migrations and whether the database has each; exit 1 when some are
    /// pending. Changes nothing.
    Status {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Copy every row of one database into another, empty one (e.g. SQLite to PostgreSQL),
    /// in one transaction, keeping every id and the event log's numbers; prints each table's
    /// rows. Stop the server first. Task logs stay in the home directory.
    Copy {
        /// The database to read (`sqlite:///home/.aqueduct/aqueduct.db`).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to write: migrated first, and refused unless empty.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// For people.
    Text,
    /// One JSON document on stdout, for scripts.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Pipeline files or directories (searched recursively for *.yaml and *.yml).
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// Environment overlay folder: validate PATH's pipelines with its PipelineOverlay documents
    /// applied (and its own pipelines), as a GitOps app with this overlay would read them.
    #[arg(long, value_name = "DIR")]
    pub(crate) overlay: Option<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The pipeline file.
    pub(crate) file: PathBuf,
    /// Which pipeline of the file to run, when it holds several.
    #[arg(long)]
    pub(crate) pipeline: Option<String>,
    /// Set a parameter, as NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    pub(crate) params: Vec<(String, String)>,
    /// Logical date of the run: YYYY-MM-DD (midnight UTC) or RFC 3339. Default: now.
    #[arg(long, value_name = "DATE")]
    pub(crate) date: Option<String>,
    /// Maximum number of tasks running at once. Default: the number of CPU cores.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) parallelism: Option<u32>,
    /// Output format: live progress and a summary table, or one JSON document at the end.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// Stream every task's output, prefixed by the task name.
    #[arg(long)]
    pub(crate) logs: bool,
    /// State directory; logs go to HOME/logs/PIPELINE/RUN_ID/TASK/ATTEMPT.log.
    #[arg(
        long,
        env = "AQUEDUCT_HOME",
        default_value = ".aqueduct",
        value_name = "DIR"
    )]
    pub(crate) home: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct NextRunsArgs {
    /// The pipeline file, or the name of a pipeline of a running server (`--url`, `--token`).
    pub(crate) file: PathBuf,
    /// Which pipeline of the file, when it holds several.
    #[arg(long)]
    pub(crate) pipeline: Option<String>,
    /// List the runs that happen (run_after) strictly after this instant, in RFC 3339
    /// (e.g. 2026-03-28T00:00:00Z). Default: now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_timestamp)]
    pub(crate) after: Option<jiff::Timestamp>,
    /// How many runs to list (at most 1000).
    #[arg(long, short = 'n', value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) count: u32,
    /// Output format: a table, or one JSON document.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// Server to ask when a pipeline name is given instead of a file.
    #[arg(
        long,
        env = "AQUEDUCT_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub(crate) url: String,
    /// API token for the server.
    #[arg(
        long,
        env = "AQUEDUCT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Option<String>,
}

fn parse_timestamp(text: &str) -> Result<jiff::Timestamp, String> {
    text.parse()
        .map_err(|error| format!("expected RFC 3339 such as 2026-03-28T00:00:00Z: {error}"))
}

pub(crate) fn parse_param(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got `{text}`"))?;
    Ok((name.to_owned(), value.to_owned()))
}
