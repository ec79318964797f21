//! The notifications of GitOps apps (issue #7): `sync_failed` and `sync_succeeded` are put in
//! the outbox in the sync's own transaction (`NewSync::notifications`); `health_degraded` is
//! written with the `app_health` event that records the change of the app's health, in one
//! batch. Both go to the app's notifications and the server's defaults (the config file's
//! `apps[].notifications` and `notifications.defaults`).

use aqueduct_core::notify::{NotifyOn, targets};
use aqueduct_core::reconcile::HealthCode;
use aqueduct_store::{Change, EventKind, NewEvent, NewNotification, NewSync, Store};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{AppView, Server};

/// A change of an app's health noticed when the apps' views were published, not yet recorded.
#[derive(Debug, Clone)]
pub(super) struct HealthChange {
    app: String,
    previous: HealthCode,
    health: HealthCode,
    reason: String,
}

impl<S: Store> Server<S> {
    /// The outbox entries of `app`'s event `on`: its notifications and the server's defaults
    /// listening for it, told `facts`.
    fn app_notifications(
        &self,
        app: &str,
        on: NotifyOn,
        facts: &Value,
        now: Timestamp,
    ) -> Vec<NewNotification> {
        let layers = self.config.notifications.layers(Some(app));
        targets(&layers, on)
            .into_iter()
            .map(|spec| self.outbox_entry(spec, facts, now, None))
            .collect()
    }

    /// Puts the notifications of `sync` (failed with `failure`, or applied) into it, so the
    /// store writes them in the sync's transaction.
    pub(super) fn notify_sync(&self, sync: &mut NewSync, failure: Option<&str>, now: Timestamp) {
        let on = match failure {
            Some(_) => NotifyOn::SyncFailed,
            None => NotifyOn::SyncSucceeded,
        };
        let facts = json!({
            "event": on.as_str(),
            "at": now.to_string(),
            "app": sync.app,
            "commit": sync.commit,
            "revision": sync.revision,
            "commit_message": sync.message.lines().next().unwrap_or_default(),
            "author": sync.author,
            "initiator": sync.initiator,
            "reason": failure,
            "url": self.app_url(&sync.app),
        });
        sync.notifications = self.app_notifications(&sync.app.clone(), on, &facts, now);
    }

    /// Compares the health of each app in `views` with the last one seen, and keeps the
    /// changes for [`Server::record_health_changes`]. The first health seen of an app (after a
    /// start, or when it is added) is its baseline, not a change.
    pub(super) fn notice_health(&mut self, views: &[AppView]) {
        for view in views {
            let health = &view.status.health.app;
            let app = &view.spec.name;
            let previous = self.app_health.insert(app.clone(), health.code);
            if let Some(previous) = previous.filter(|previous| *previous != health.code) {
                self.health_changes.push(HealthChange {
                    app: app.clone(),
                    previous,
                    health: health.code,
                    reason: health.reason.clone(),
                });
            }
        }
    }

    /// Records the health changes noticed since the last call: an `app_health` event each, and
    /// a change to `Degraded` alerts `health_degraded`, in one transaction.
    pub(super) async fn record_health_changes(&mut self) -> anyhow::Result<()> {
        if self.health_changes.is_empty() {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut changes = Vec::new();
        for change in std::mem::take(&mut self.health_changes) {
            let data = json!({
                "health": change.health.as_str(),
                "previous": change.previous.as_str(),
                "reason": change.reason,
            });
            changes.push(Change::Event(NewEvent {
                at: now,
                kind: EventKind::AppHealth,
                pipeline: None,
                run_id: None,
                task: None,
                app: Some(change.app.clone()),
                data_json: data.to_string(),
            }));
            if change.health == HealthCode::Degraded {
                tracing::warn!(app = %change.app, reason = %change.reason, "app degraded");
                let on = NotifyOn::HealthDegraded;
                let facts = json!({
                    "event": on.as_str(),
                    "at": now.to_string(),
                    "app": change.app,
                    "health": change.health.as_str(),
                    "previous": change.previous.as_str(),
                    "reason": change.reason,
                    "url": self.app_url(&change.app),
                });
                let entries = self.app_notifications(&change.app, on, &facts, now);
                changes.extend(entries.into_iter().map(Change::Notify));
            }
        }
        self.store.apply(changes).await?;
        self.status.ring_event_bell();
        Ok(())
    }

    /// The app's page under the server's public URL, when it is known.
    fn app_url(&self, app: &str) -> Option<String> {
        let base = self.config.public_url.as_ref()?;
        Some(format!("{}/apps/{app}", base.trim_end_matches('/')))
    }
}

/// The default text of an app event's notification.
pub(super) fn default_app_message(facts: &Value) -> String {
    let text = |field: &str| facts[field].as_str().unwrap_or_default().to_owned();
    let app = text("app");
    let commit: String = text("commit").chars().take(7).collect();
    let what = match NotifyOn::parse(&text("event")) {
        Some(NotifyOn::SyncFailed) => format!(
            "sync to {commit} failed: {}; the app stays on its last good commit",
            text("reason")
        ),
        Some(NotifyOn::SyncSucceeded) => {
            format!("synced to {commit} ({})", text("commit_message"))
        }
        _ => format!(
            "health {} (was {}): {}",
            text("health"),
            text("previous"),
            text("reason")
        ),
    };
    let link = match facts["url"].as_str() {
        Some(url) => format!(" {url}"),
        None => String::new(),
    };
    format!("[aqueduct] app {app}: {what}{link}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_messages_say_what_happened_to_the_app() {
        let mut facts = json!({"event": "sync_failed", "app": "dev",
            "commit": "0123456789abcdef", "reason": "etl.yaml:3:5: unknown field `tsks`",
            "url": "http://aq/apps/dev"});
        assert_eq!(
            default_app_message(&facts),
            "[aqueduct] app dev: sync to 0123456 failed: etl.yaml:3:5: unknown field `tsks`; \
             the app stays on its last good commit http://aq/apps/dev"
        );
        facts["event"] = json!("sync_succeeded");
        facts["commit_message"] = json!("load: retry twice");
        facts["url"] = Value::Null;
        assert_eq!(
            default_app_message(&facts),
            "[aqueduct] app dev: synced to 0123456 (load: retry twice)"
        );
        let degraded = json!({"event": "health_degraded", "app": "dev", "health": "Degraded",
            "previous": "Healthy", "reason": "dev/etl: last run manual__1 failed"});
        assert_eq!(
            default_app_message(&degraded),
            "[aqueduct] app dev: health Degraded (was Healthy): dev/etl: last run manual__1 failed"
        );
    }
}
