//! `aqueduct up`: the server: scheduler, executor, SQLite store, HTTP API and web UI in one process.

mod apps;
mod backend;
mod convert;
mod events;
mod follow;
mod forward;
mod notifications;
mod sharing;
mod traces;
mod workers;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use aqueduct_api::WebhookSecret;
use aqueduct_core::Pipeline;
use aqueduct_core::scheduler::Limits;
use aqueduct_runtime::server::{self, Observer, SecretResolver, ServerConfig, ServerEvent};
use aqueduct_store::Store;
use aqueduct_store_sql::SqlStore;
use tokio::sync::watch;

use crate::args::UpArgs;
use crate::config::{ConfigFile, OtlpSources, RepoFlags, Settings};
use crate::exit;

/// How often the pipelines folder is checked for changes.
const RELOAD_INTERVAL: Duration = Duration::from_secs(2);
/// Wait between SIGTERM and SIGKILL when a task times out or is cancelled.
const KILL_GRACE: Duration = Duration::from_secs(10);
/// How often old runs are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

pub(crate) fn up(args: UpArgs) -> anyhow::Result<u8> {
    let file = ConfigFile::load(args.config.as_deref())?;
    let forge_flags = crate::webhooks_config::WebhookFlags {
        github: args.github_webhook_secret_env,
        gitlab: args.gitlab_webhook_secret_env,
        gitea: args.gitea_webhook_secret_env,
    };
    let forge_envs = crate::webhooks_config::forge_secret_envs(forge_flags, &file.webhooks);
    let executors = crate::config::executor_settings(
        args.no_local_executor,
        args.local_queue,
        args.worker_lease,
        &file,
    )?;
    let advertise_url = args.advertise_url.or_else(|| file.advertise_url.clone());
    let settings = Settings::resolve(
        args.listen,
        args.state,
        args.pipelines,
        RepoFlags {
            repo: args.repo,
            path: args.path,
            revision: args.revision,
            webhook_secret_env: args.webhook_secret_env,
            overlay: args.overlay,
        },
        args.parallelism,
        OtlpSources {
            flag: args.otlp_endpoint,
            otel_env: otel_endpoint_env(),
        },
        file,
    )?;
    let webhook_secrets = webhook_secrets(&settings.sources.webhook_secret_envs)?;
    let forge_webhook_secrets = crate::webhooks_config::read_forge_secrets(&forge_envs)?;
    crate::logging::init(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let (local_queues, lease) = executors;
    let executors = ExecutorSettings {
        local_queues,
        lease,
        hidden_env: hidden_env(&settings, forge_envs.values()),
        advertise_url,
    };
    runtime.block_on(serve(
        settings,
        executors,
        webhook_secrets,
        forge_webhook_secrets,
    ))?;
    Ok(exit::SUCCESS)
}

/// Which queues the server's own executor runs, how long remote workers' leases last, and
/// which of the server's environment variables its tasks must not see.
struct ExecutorSettings {
    local_queues: std::collections::BTreeSet<String>,
    lease: Duration,
    hidden_env: Vec<String>,
    /// The URL other servers of the database reach this one at (`--advertise-url`).
    advertise_url: Option<String>,
}

/// The variables of the server's environment that hold its own secrets: the database URL, an
/// API token, the SMTP login and every webhook secret the configuration names. Tasks inherit
/// the server's environment, and see these empty (unless their pipeline declares one as a
/// secret of its own).
fn hidden_env<'a>(
    settings: &Settings,
    forge_envs: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    let mut names: std::collections::BTreeSet<String> = ["AQUEDUCT_DATABASE", "AQUEDUCT_TOKEN"]
        .map(str::to_owned)
        .into();
    names.extend(settings.sources.webhook_secret_envs.values().cloned());
    names.extend(forge_envs.cloned());
    if let Some(smtp) = &settings.smtp {
        names.extend(smtp.username_env.iter().chain(&smtp.password_env).cloned());
    }
    names.into_iter().collect()
}

async fn serve(
    settings: Settings,
    executors: ExecutorSettings,
    webhook_secrets: BTreeMap<String, WebhookSecret>,
    forge_webhook_secrets: BTreeMap<aqueduct_api::Forge, WebhookSecret>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.home)
        .with_context(|| format!("failed to create {}", settings.home.display()))?;
    if let Some(folder) = &settings.sources.folder {
        anyhow::ensure!(
            folder.is_dir(),
            "pipelines folder {} does not exist",
            folder.display()
        );
    }
    let url = &settings.database;
    let store = Arc::new(SqlStore::open(url).await.with_context(|| {
        let url = aqueduct_store_sql::redact(url);
        format!("failed to open database {url}")
    })?);
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("failed to listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let advertise = sharing::advertise_url(executors.advertise_url.clone(), address);
    let seat = sharing::join(url, &advertise).await?;
    let (stop, shutdown) = watch::channel(false);
    let metrics = Arc::new(aqueduct_api::Metrics::new());
    let traces = match settings.otlp_endpoint.clone() {
        Some(endpoint) => {
            let key = traces::load_or_create_key(&settings.home)?;
            let key = sharing::shared_trace_key(seat.as_deref(), key).await?;
            let start = move || traces::TraceExport::start(&endpoint);
            let export = tokio::task::spawn_blocking(start).await??;
            Some((export, key))
        }
        None => None,
    };
    let claimed = metrics.clone();
    let dispatcher = aqueduct_runtime::dispatch::Dispatcher::start(
        aqueduct_runtime::dispatch::DispatchConfig {
            lease: executors.lease,
        },
        Some(Arc::new(move |queue: &str, waited| {
            claimed.queues().attempt_claimed(queue, waited);
        })),
    );
    tokio::spawn(workers::sample_queues(dispatcher.clone(), metrics.clone()));
    let mut limits = Limits::new(settings.parallelism);
    limits.pools = settings.pools.clone();
    let config = ServerConfig {
        home: settings.home.clone(),
        pipelines_dir: settings.sources.folder.clone(),
        apps: settings.sources.apps.clone(),
        limits,
        kill_grace: KILL_GRACE,
        reload_interval: RELOAD_INTERVAL,
        secrets: secret_resolver(),
        observer: Some(observer(metrics.clone())),
        public_url: Some(
            settings
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{address}")),
        ),
        group_window: settings.notify_group_window,
        notifications: settings.notifications.clone(),
        traces: traces.as_ref().map(|(export, key)| export.config(key)),
        executors: server::Executors {
            local_queues: executors.local_queues.clone(),
            remote: Some(dispatcher.clone()),
        },
        hidden_env: executors.hidden_env.clone(),
        shares: seat
            .clone()
            .map(|seat| seat as Arc<dyn aqueduct_runtime::server::Shares>),
    };
    let (handle, status, loop_task) =
        server::start(store.clone(), config, shutdown.clone()).await?;
    let stop = Arc::new(stop);
    let lost_locks = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = aqueduct_runtime::notify::run_sender(
        store.clone(),
        status.event_bell(),
        shutdown.clone(),
        aqueduct_runtime::notify::SenderConfig {
            env: notify_env(),
            retry: settings.notify_retry,
            observer: Some(sender_observer(metrics.clone())),
            smtp: settings.smtp.clone(),
        },
    );
    tokio::spawn(send_notifications(
        url.clone(),
        sender,
        stop.clone(),
        lost_locks.clone(),
    ));
    if let Some(seat) = &seat {
        tokio::spawn(sharing::watch_seat(
            seat.clone(),
            stop.clone(),
            lost_locks.clone(),
        ));
        // events other servers commit reach this one's streams within a second
        let bell = status.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                bell.ring_event_bell();
            }
        });
    }
    let backend = backend::ServerBackend {
        store: store.clone(),
        handle,
        status,
        home: settings.home.clone(),
        verified: Mutex::new(HashMap::new()),
        webhook_secrets,
        forge_webhook_secrets,
        workers: Arc::new(workers::Workers(dispatcher)),
        seat: seat.clone(),
    };
    let backend = Arc::new(backend);
    // the web UI beside the API: its own cookie sessions; the API's bearer-token layer covers
    // only the API's routes (ARCHITECTURE.md, aqueduct-ui)
    let mut app = aqueduct_api::app(backend.clone(), metrics).merge(aqueduct_ui::router(backend));
    if let Some(seat) = &seat {
        let forwarder = forward::Forwarder::new(seat.clone());
        app = app.layer(axum::middleware::from_fn_with_state(
            forwarder,
            forward::forward,
        ));
    }
    anstream::println!("aqueduct listening on http://{address}");
    let folder = settings.sources.folder.as_deref().map(Path::display);
    let apps: Vec<&str> = settings
        .sources
        .apps
        .iter()
        .map(|app| app.name.as_str())
        .collect();
    tracing::info!(%address, pipelines = ?folder, apps = ?apps, home = %settings.home.display(), retention_days = settings.retention_days, otlp_endpoint = ?settings.otlp_endpoint, "server started");
    log_smtp(settings.smtp.as_ref());
    tokio::spawn(prune_loop(
        store.clone(),
        settings.home.clone(),
        settings.retention_days,
    ));
    tokio::spawn(prune_events_loop(
        store.clone(),
        settings.event_retention_days,
    ));
    let mut shutdown_http = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop.send(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown_http.wait_for(|stop| *stop).await;
        })
        .await?;
    let stopped = loop_task.await;
    // the loop's last spans (attempts it stopped end after the next start) go out first
    if let Some((export, _)) = traces {
        export.shutdown().await;
    }
    stopped.context("the server loop panicked")??;
    anyhow::ensure!(
        !lost_locks.load(std::sync::atomic::Ordering::SeqCst),
        "stopped: the connection holding this server's locks was lost, so another server may hold its work by now; start it again (under a supervisor it restarts by itself) and it rejoins"
    );
    tracing::info!("server stopped");
    Ok(())
}

/// Sends the notification outbox: at once on SQLite; on PostgreSQL once this server holds the
/// sender's lock, so one of several servers sends at a time (and another takes over when it
/// dies).
async fn send_notifications(
    database: String,
    sender: impl std::future::Future<Output = ()>,
    stop: Arc<watch::Sender<bool>>,
    lost: Arc<std::sync::atomic::AtomicBool>,
) {
    match sharing::sender_lock(&database).await {
        Ok(Some(lock)) => drop(tokio::spawn(sharing::watch_sender(lock, stop, lost))),
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, "cannot take the notification sender's lock; stopping");
            lost.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = stop.send(true);
            return;
        }
    }
    sender.await;
}

async fn wait_for_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match terminate.as_mut() { Some(signal) => { signal.recv().await; } None => std::future::pending().await } } => {}
    }
}

/// Prunes finished runs older than the retention and their log folders, never active runs.
async fn prune_loop<S: Store>(store: Arc<S>, home: PathBuf, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    let mut interval = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        interval.tick().await;
        let cutoff = jiff::Timestamp::now()
            - jiff::SignedDuration::from_hours(24 * i64::from(retention_days));
        match aqueduct_runtime::retention::prune_runs(&*store, &home, cutoff).await {
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "failed to prune old runs"),
        }
    }
}

/// Deletes events, and delivered notifications, older than the event retention.
async fn prune_events_loop<S: Store>(store: Arc<S>, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    let mut interval = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        interval.tick().await;
        let cutoff = jiff::Timestamp::now()
            - jiff::SignedDuration::from_hours(24 * i64::from(retention_days));
        match store.prune_events(cutoff).await {
            Ok(0) => {}
            Ok(pruned) => {
                tracing::info!(events = pruned, %cutoff, "pruned events older than the event retention")
            }
            Err(error) => tracing::warn!(error = %error, "failed to prune old events"),
        }
        match store.prune_notifications(cutoff).await {
            Ok(0) => {}
            Ok(pruned) => {
                tracing::info!(notifications = pruned, %cutoff, "pruned delivered notifications older than the event retention")
            }
            Err(error) => tracing::warn!(error = %error, "failed to prune delivered notifications"),
        }
    }
}

/// Feeds the server loop's events into the Prometheus registry.
fn observer(metrics: Arc<aqueduct_api::Metrics>) -> Observer {
    Arc::new(move |event| match event {
        ServerEvent::RunFinished { pipeline, state } => metrics.run_finished(&pipeline, state),
        ServerEvent::AttemptFinished {
            pipeline,
            state,
            duration,
        } => {
            metrics.task_attempt_finished(&pipeline, state, duration.unwrap_or_default());
        }
        ServerEvent::Step { took } => metrics.scheduler_tick_finished(took),
        ServerEvent::WokeLate { lag } => metrics.scheduler_woke_late(lag),
        ServerEvent::TaskCounts { running, queued } => metrics.task_counts_changed(running, queued),
        ServerEvent::UnitsHeld { count } => metrics.units_held_changed(count),
        ServerEvent::Store { operation, took } => metrics.store_operation_finished(operation, took),
        ServerEvent::PoolSlots { used } => {
            for (pool, slots) in used {
                metrics.pool_slots_changed(&pool, u64::from(slots));
            }
        }
        ServerEvent::LogWriteFailed { pipeline } => metrics.task_log_write_failed(&pipeline),
        ServerEvent::GitFetched { app, ok, took } => {
            metrics.apps().git_fetch_finished(&app, ok, took);
        }
        ServerEvent::SyncFinished {
            app,
            succeeded,
            took,
            at,
        } => metrics
            .apps()
            .app_sync_finished(&app, succeeded, took, at.as_second()),
        ServerEvent::AppStatus { app, sync, health } => {
            metrics.apps().app_status_changed(&app, sync, health);
        }
        ServerEvent::AppRemoved { app } => metrics.apps().app_removed(&app),
    })
}

/// The standard `OTEL_EXPORTER_OTLP_ENDPOINT`, the OTLP endpoint's last fallback.
fn otel_endpoint_env() -> Option<String> {
    #[allow(clippy::disallowed_methods)] // the binary is the one place that reads the environment
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok()
}

/// Secrets are read from the process environment or files when an attempt starts.
/// The variables notification sinks name (`secretEnv`, `urlEnv`, and the SMTP relay's
/// `usernameEnv`, `passwordEnv`), read when a notification is sent; an unset one fails the
/// attempt, which is retried.
fn notify_env() -> aqueduct_runtime::notify::EnvReader {
    #[allow(clippy::disallowed_methods)] // the binary is the one place that reads the environment
    Arc::new(|name: &str| std::env::var(name).ok())
}

/// Says where e-mail notifications go, and warns when a login would cross the network in
/// clear text.
fn log_smtp(smtp: Option<&aqueduct_runtime::notify::SmtpConfig>) {
    use aqueduct_runtime::notify::SmtpTls;
    let Some(smtp) = smtp else {
        return;
    };
    tracing::info!(host = %smtp.host, port = smtp.port, tls = ?smtp.tls, from = %smtp.from, "e-mail notifications go through an SMTP relay");
    let loopback = matches!(smtp.host.as_str(), "localhost" | "127.0.0.1" | "::1");
    if smtp.tls == SmtpTls::None && smtp.username_env.is_some() && !loopback {
        tracing::warn!(host = %smtp.host, "smtp.tls is none: the SMTP login is sent unencrypted");
    }
}

/// Feeds the notification sender's events into the Prometheus metrics.
fn sender_observer(
    metrics: Arc<aqueduct_api::Metrics>,
) -> aqueduct_runtime::notify::SenderObserver {
    use aqueduct_api::DeliveryResult;
    use aqueduct_runtime::notify::{AttemptOutcome, SenderEvent};
    Arc::new(move |event| match event {
        SenderEvent::Attempt {
            kind,
            outcome,
            took,
        } => {
            let result = match outcome {
                AttemptOutcome::Delivered => DeliveryResult::Delivered,
                AttemptOutcome::Retried => DeliveryResult::Failed,
                AttemptOutcome::Dead => DeliveryResult::Dead,
            };
            metrics
                .notifications()
                .delivery_finished(kind, result, took);
        }
        SenderEvent::Round {
            sinks_pending,
            breakers_open,
        } => metrics
            .notifications()
            .outbox_changed(sinks_pending, breakers_open),
    })
}

fn secret_resolver() -> SecretResolver {
    Arc::new(|pipeline: &Pipeline| {
        crate::run_cmd::resolve_secrets(pipeline).map_err(|error| format!("{error:#}"))
    })
}

/// Reads each app's webhook secret from the environment variable its config names (app name →
/// variable name). An unset, empty or non-UTF-8 variable is a startup error that names the
/// variable and the app, never a value.
fn webhook_secrets(
    envs: &BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, WebhookSecret>> {
    let mut secrets = BTreeMap::new();
    for (app, var) in envs {
        anyhow::ensure!(
            !var.is_empty(),
            "app {app}: webhookSecretEnv is empty: name the environment variable holding the webhook secret"
        );
        // The binary is the one place that reads the environment (clippy.toml).
        #[allow(clippy::disallowed_methods)]
        let value = std::env::var(var).map_err(|error| match error {
            std::env::VarError::NotPresent => anyhow::anyhow!(
                "app {app}: environment variable {var} (its webhook secret) is not set"
            ),
            std::env::VarError::NotUnicode(_) => anyhow::anyhow!(
                "app {app}: environment variable {var} (its webhook secret) is not valid UTF-8"
            ),
        })?;
        let secret = WebhookSecret::new(value).with_context(|| {
            format!("app {app}: environment variable {var} (its webhook secret) is empty")
        })?;
        secrets.insert(app.clone(), secret);
    }
    Ok(secrets)
}

/// `aqueduct token create`: works on the database without a running server.
pub(crate) fn create_token(database: crate::args::DatabaseArgs, role: &str) -> anyhow::Result<u8> {
    let role = aqueduct_store::Role::parse(role)
        .with_context(|| format!("unknown role `{role}`: use viewer, operator or admin"))?;
    let url = crate::db_cmd::database_of(database)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let token = runtime.block_on(async {
        let store = SqlStore::open(&url).await?;
        let token = aqueduct_api::generate_token();
        let id = aqueduct_api::token_id(&token)
            .context("invariant: a generated token is well formed")?
            .to_owned();
        let hash = aqueduct_api::hash_token(&token);
        store
            .create_token(&id, role, &hash, jiff::Timestamp::now())
            .await?;
        anyhow::Ok(token)
    })?;
    anstream::println!("{token}");
    Ok(exit::SUCCESS)
}
