//! The GitOps half of the Prometheus metrics: per app, its sync status and health (one-hot
//! gauges, as Argo CD's `argocd_app_info` carries them in labels), its syncs by result and how
//! long they took, the time of its last successful sync, and its git fetches' latency and
//! errors. Labels are the app's name (bounded: apps are declared by admins) and fixed state
//! names; never a commit or a repository URL (a URL may carry credentials).

use std::time::Duration;

use aqueduct_core::reconcile::{HealthCode, SyncCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

const SYNC_CODES: [SyncCode; 3] = [SyncCode::Synced, SyncCode::OutOfSync, SyncCode::Unknown];
const HEALTH_CODES: [HealthCode; 6] = [
    HealthCode::Healthy,
    HealthCode::Suspended,
    HealthCode::Progressing,
    HealthCode::Missing,
    HealthCode::Degraded,
    HealthCode::Unknown,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    app: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppStatusLabels {
    app: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppResultLabels {
    app: String,
    result: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// 1 ms .. ~65 s: git fetches and syncs.
fn git_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every GitOps metric; part of [`crate::Metrics`].
#[derive(Debug)]
pub struct AppMetrics {
    sync_status: Family<AppStatusLabels, Gauge>,
    health_status: Family<AppStatusLabels, Gauge>,
    syncs: Family<AppResultLabels, Counter>,
    sync_duration: HistogramFamily<AppLabels>,
    last_sync_success: Family<AppLabels, Gauge>,
    fetch_duration: HistogramFamily<AppLabels>,
    fetch_errors: Family<AppLabels, Counter>,
}

impl AppMetrics {
    pub(crate) fn new() -> AppMetrics {
        AppMetrics {
            sync_status: Family::default(),
            health_status: Family::default(),
            syncs: Family::default(),
            sync_duration: Family::new_with_constructor(git_buckets),
            last_sync_success: Family::default(),
            fetch_duration: Family::new_with_constructor(git_buckets),
            fetch_errors: Family::default(),
        }
    }

    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "app_sync_status",
            "1 for an app's current sync status (Synced, OutOfSync, Unknown), 0 for the others",
            self.sync_status.clone(),
        );
        registry.register(
            "app_health_status",
            "1 for an app's current health (Healthy, Suspended, Progressing, Missing, Degraded, Unknown), 0 for the others",
            self.health_status.clone(),
        );
        registry.register(
            "app_syncs",
            "Syncs of an app that ended, by result (succeeded, failed)",
            self.syncs.clone(),
        );
        registry.register(
            "app_sync_duration_seconds",
            "Time to decide and apply (or refuse) one sync of an app, after its fetch",
            self.sync_duration.clone(),
        );
        registry.register(
            "app_last_sync_success_timestamp_seconds",
            "Unix time of an app's last successful sync",
            self.last_sync_success.clone(),
        );
        registry.register(
            "git_fetch_duration_seconds",
            "Time to fetch an app's repository and read its folder at the resolved commit",
            self.fetch_duration.clone(),
        );
        registry.register(
            "git_fetch_errors",
            "Fetches of an app's repository that failed (git server down, bad credential, unknown revision)",
            self.fetch_errors.clone(),
        );
    }

    /// An app's sync status and health are now `sync` and `health`.
    pub fn app_status_changed(&self, app: &str, sync: SyncCode, health: HealthCode) {
        for code in SYNC_CODES {
            let labels = status_labels(app, code.as_str());
            self.sync_status
                .get_or_create(&labels)
                .set(i64::from(code == sync));
        }
        for code in HEALTH_CODES {
            let labels = status_labels(app, code.as_str());
            self.health_status
                .get_or_create(&labels)
                .set(i64::from(code == health));
        }
    }

    /// A sync of `app` ended after `elapsed`; `succeeded` when it was applied. `finished_at` is
    /// the Unix time in seconds.
    pub fn app_sync_finished(
        &self,
        app: &str,
        succeeded: bool,
        elapsed: Duration,
        finished_at: i64,
    ) {
        let result = if succeeded { "succeeded" } else { "failed" };
        let labels = AppResultLabels {
            app: app.to_owned(),
            result,
        };
        self.syncs.get_or_create(&labels).inc();
        self.sync_duration
            .get_or_create(&app_labels(app))
            .observe(elapsed.as_secs_f64());
        if succeeded {
            self.last_sync_success
                .get_or_create(&app_labels(app))
                .set(finished_at);
        }
    }

    /// A fetch of `app`'s repository ended after `elapsed`, failed unless `ok`.
    pub fn git_fetch_finished(&self, app: &str, ok: bool, elapsed: Duration) {
        self.fetch_duration
            .get_or_create(&app_labels(app))
            .observe(elapsed.as_secs_f64());
        let errors = self.fetch_errors.get_or_create(&app_labels(app));
        if !ok {
            errors.inc();
        }
    }

    /// `app` was deleted: its status series go (its counters stay until the restart, as
    /// Prometheus counters should).
    pub fn app_removed(&self, app: &str) {
        for code in SYNC_CODES {
            self.sync_status.remove(&status_labels(app, code.as_str()));
        }
        for code in HEALTH_CODES {
            self.health_status
                .remove(&status_labels(app, code.as_str()));
        }
    }
}

fn app_labels(app: &str) -> AppLabels {
    AppLabels {
        app: app.to_owned(),
    }
}

fn status_labels(app: &str, status: &'static str) -> AppStatusLabels {
    AppStatusLabels {
        app: app.to_owned(),
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(metrics: &AppMetrics) -> String {
        let mut registry = Registry::with_prefix("aqueduct");
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        text
    }

    #[test]
    fn status_gauges_are_one_hot_and_go_with_the_app() {
        let metrics = AppMetrics::new();
        metrics.app_status_changed("dev", SyncCode::OutOfSync, HealthCode::Degraded);
        metrics.app_status_changed("dev", SyncCode::Synced, HealthCode::Healthy);
        let text = render(&metrics);
        assert!(
            text.contains(r#"aqueduct_app_sync_status{app="dev",status="Synced"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"aqueduct_app_sync_status{app="dev",status="OutOfSync"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"aqueduct_app_health_status{app="dev",status="Healthy"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"aqueduct_app_health_status{app="dev",status="Degraded"} 0"#),
            "{text}"
        );
        metrics.app_removed("dev");
        let text = render(&metrics);
        assert!(!text.contains(r#"app_sync_status{app="dev""#), "{text}");
        assert!(!text.contains(r#"app_health_status{app="dev""#), "{text}");
    }

    #[test]
    fn syncs_and_fetches_are_counted_by_result() {
        let metrics = AppMetrics::new();
        metrics.app_sync_finished("dev", true, Duration::from_millis(5), 1_700_000_000);
        metrics.app_sync_finished("dev", false, Duration::from_millis(5), 1_700_000_100);
        metrics.git_fetch_finished("dev", true, Duration::from_millis(20));
        metrics.git_fetch_finished("dev", false, Duration::from_millis(20));
        let text = render(&metrics);
        for expected in [
            r#"aqueduct_app_syncs_total{app="dev",result="succeeded"} 1"#,
            r#"aqueduct_app_syncs_total{app="dev",result="failed"} 1"#,
            r#"aqueduct_app_last_sync_success_timestamp_seconds{app="dev"} 1700000000"#,
            r#"aqueduct_app_sync_duration_seconds_count{app="dev"} 2"#,
            r#"aqueduct_git_fetch_duration_seconds_count{app="dev"} 2"#,
            r#"aqueduct_git_fetch_errors_total{app="dev"} 1"#,
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }
}
