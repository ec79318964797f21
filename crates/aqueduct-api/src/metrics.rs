//! Prometheus metrics: one [`Metrics`] value owns its registry (no global state), so every server
//! instance and every test has its own.
//!
//! One method per event (STYLE §6): callers say what happened (`run_finished`), never which
//! counter to bump. Labels are bounded: pipeline, state, pool, store operation, HTTP method and
//! the *matched route* — never a run id, a raw URL or a commit.

use std::time::Duration;

use aqueduct_core::{RunState, TaskState};
use axum::http::{Method, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s output.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Route label of requests that matched no route (keeps the label set bounded).
const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    path: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRouteLabels {
    method: &'static str,
    path: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineStateLabels {
    pipeline: String,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabels {
    pipeline: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    forge: &'static str,
    result: &'static str,
}

/// How a webhook delivery ended (the `result` label of `aqueduct_webhook_deliveries_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    /// Verified; the matching apps were refreshed (possibly none).
    Accepted,
    /// No forge event header, no signature, a malformed one, or one no secret verifies (401).
    InvalidSignature,
    /// A body that is not JSON or names no repository (400).
    InvalidRequest,
    /// The backend failed while matching or refreshing (5xx).
    Failed,
}

impl WebhookResult {
    fn as_str(self) -> &'static str {
        match self {
            WebhookResult::Accepted => "accepted",
            WebhookResult::InvalidSignature => "invalid_signature",
            WebhookResult::InvalidRequest => "invalid_request",
            WebhookResult::Failed => "failed",
        }
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric aqueduct exports, and the registry they are registered in.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<HttpRouteLabels>,
    runs: Family<PipelineStateLabels, Counter>,
    task_attempts: Family<PipelineStateLabels, Counter>,
    task_duration: HistogramFamily<PipelineLabels>,
    running_tasks: Gauge,
    queued_tasks: Gauge,
    units_held: Gauge,
    scheduler_tick: Histogram,
    scheduler_loop_lag: Histogram,
    store_operation: HistogramFamily<OpLabels>,
    pool_slots_used: Family<PoolLabels, Gauge>,
    task_log_write_errors: Family<PipelineLabels, Counter>,
    apps: crate::app_metrics::AppMetrics,
    notify: crate::notify_metrics::NotifyMetrics,
    queues: crate::queue_metrics::QueueMetrics,
    webhook_deliveries: Family<WebhookLabels, Counter>,
}

/// 1 ms .. ~33 s: HTTP requests.
fn http_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}
/// 1 s .. ~9 h: task attempts.
fn task_buckets() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}
/// 0.1 ms .. ~3.3 s: scheduler ticks, loop lag and store operations.
fn fast_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Metrics {
    /// A fresh registry with every aqueduct metric registered (prefix `aqueduct_`).
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("aqueduct"),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(http_buckets),
            runs: Family::default(),
            task_attempts: Family::default(),
            task_duration: Family::new_with_constructor(task_buckets),
            running_tasks: Gauge::default(),
            queued_tasks: Gauge::default(),
            units_held: Gauge::default(),
            scheduler_tick: fast_buckets(),
            scheduler_loop_lag: fast_buckets(),
            store_operation: Family::new_with_constructor(fast_buckets),
            pool_slots_used: Family::default(),
            task_log_write_errors: Family::default(),
            apps: crate::app_metrics::AppMetrics::new(),
            notify: crate::notify_metrics::NotifyMetrics::new(),
            queues: crate::queue_metrics::QueueMetrics::new(),
            webhook_deliveries: Family::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, matched route and status",
            metrics.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (until the response head)",
            metrics.http_duration.clone(),
        );
        registry.register(
            "runs",
            "Runs that finished, by pipeline and final state",
            metrics.runs.clone(),
        );
        registry.register(
            "task_attempts",
            "Task attempts that ended, by pipeline and resulting task state",
            metrics.task_attempts.clone(),
        );
        registry.register(
            "task_duration_seconds",
            "Wall time of task attempts",
            metrics.task_duration.clone(),
        );
        registry.register(
            "running_tasks",
            "Task attempts running now",
            metrics.running_tasks.clone(),
        );
        registry.register(
            "queued_tasks",
            "Tasks ready to run and waiting for a slot",
            metrics.queued_tasks.clone(),
        );
        registry.register(
            "units_held",
            "Units of work (apps, pipelines of the folder) this server schedules, with several servers on one database",
            metrics.units_held.clone(),
        );
        registry.register(
            "scheduler_tick_seconds",
            "Time the scheduler spent handling one input",
            metrics.scheduler_tick.clone(),
        );
        registry.register(
            "scheduler_loop_lag_seconds",
            "How late the event loop woke up after its planned wake time",
            metrics.scheduler_loop_lag.clone(),
        );
        registry.register(
            "store_operation_seconds",
            "Time of store operations, by operation",
            metrics.store_operation.clone(),
        );
        registry.register(
            "pool_slots_used",
            "Slots in use, by pool",
            metrics.pool_slots_used.clone(),
        );
        registry.register(
            "task_log_write_errors",
            "Task attempts whose output could not all be written to their log file",
            metrics.task_log_write_errors.clone(),
        );
        metrics.apps.register(registry);
        metrics.notify.register(registry);
        metrics.queues.register(registry);
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries of POST /api/v1/webhooks/git, by forge (github, gitlab, gitea, \
             unknown) and result",
            metrics.webhook_deliveries.clone(),
        );
        metrics
    }

    /// The GitOps apps' metrics.
    pub fn apps(&self) -> &crate::app_metrics::AppMetrics {
        &self.apps
    }

    /// The remote workers' queue metrics.
    pub fn queues(&self) -> &crate::queue_metrics::QueueMetrics {
        &self.queues
    }

    /// The notification outbox's metrics.
    pub fn notifications(&self) -> &crate::notify_metrics::NotifyMetrics {
        &self.notify
    }

    /// The registry, for the server to register metrics of its own before serving.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Everything in OpenMetrics text format ([`OPENMETRICS_CONTENT_TYPE`]).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// An HTTP request was answered. `matched_route` is the route pattern
    /// (`/api/v1/pipelines/{name}/runs/{run_id}`), `None` when no route matched.
    pub fn http_request_finished(
        &self,
        method: &Method,
        matched_route: Option<&str>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        let path = matched_route.unwrap_or(UNMATCHED_ROUTE).to_owned();
        self.http_duration
            .get_or_create(&HttpRouteLabels {
                method,
                path: path.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                path,
                status: status.as_u16(),
            })
            .inc();
    }

    /// A run reached its final state.
    pub fn run_finished(&self, pipeline: &str, state: RunState) {
        let labels = PipelineStateLabels {
            pipeline: pipeline.to_owned(),
            state: state.as_str(),
        };
        self.runs.get_or_create(&labels).inc();
    }

    /// A task attempt ended; `state` is the task's state afterwards (`success`, `failed`,
    /// `up_for_retry`, `skipped`, `cancelled`, ...).
    pub fn task_attempt_finished(&self, pipeline: &str, state: TaskState, elapsed: Duration) {
        let labels = PipelineStateLabels {
            pipeline: pipeline.to_owned(),
            state: state.as_str(),
        };
        self.task_attempts.get_or_create(&labels).inc();
        let labels = PipelineLabels {
            pipeline: pipeline.to_owned(),
        };
        self.task_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The number of running attempts and of queued tasks changed.
    pub fn task_counts_changed(&self, running: u64, queued: u64) {
        self.running_tasks.set(saturating_i64(running));
        self.queued_tasks.set(saturating_i64(queued));
    }

    /// The number of units of work this server holds changed (several active servers).
    pub fn units_held_changed(&self, held: usize) {
        self.units_held.set(saturating_i64(held as u64));
    }

    /// The scheduler handled one input (tick, exit, command) in `elapsed`.
    pub fn scheduler_tick_finished(&self, elapsed: Duration) {
        self.scheduler_tick.observe(elapsed.as_secs_f64());
    }

    /// The event loop woke up `lag` after the wake time it had planned.
    pub fn scheduler_woke_late(&self, lag: Duration) {
        self.scheduler_loop_lag.observe(lag.as_secs_f64());
    }

    /// A store operation (a fixed name such as `"persist_task_state"`) took `elapsed`.
    pub fn store_operation_finished(&self, op: &'static str, elapsed: Duration) {
        self.store_operation
            .get_or_create(&OpLabels { op })
            .observe(elapsed.as_secs_f64());
    }

    /// Some of an attempt's output could not be written to its log file.
    pub fn task_log_write_failed(&self, pipeline: &str) {
        let labels = PipelineLabels {
            pipeline: pipeline.to_owned(),
        };
        self.task_log_write_errors.get_or_create(&labels).inc();
    }

    /// A pool's used slot count changed.
    pub fn pool_slots_changed(&self, pool: &str, used: u64) {
        let labels = PoolLabels {
            pool: pool.to_owned(),
        };
        self.pool_slots_used
            .get_or_create(&labels)
            .set(saturating_i64(used));
    }
}

impl Metrics {
    /// A delivery to the git webhook ended; `forge` is `None` when no event header named one.
    pub fn webhook_delivery_finished(
        &self,
        forge: Option<crate::webhook::Forge>,
        result: WebhookResult,
    ) {
        let labels = WebhookLabels {
            forge: forge.map_or("unknown", crate::webhook::Forge::as_str),
            result: result.as_str(),
        };
        self.webhook_deliveries.get_or_create(&labels).inc();
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Standard methods by name; anything else is `other`, so clients cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
