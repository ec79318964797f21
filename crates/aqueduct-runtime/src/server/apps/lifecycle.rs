//! An app's life: declared at startup (config file or stored), added and deleted through the
//! API, brought back at its applied commit after a restart, and the commands that start a
//! fetch (manual sync, rollback, inspection).

use std::time::Duration;

use aqueduct_core::reconcile;
use aqueduct_core::scheduler::PipelineDef;
use aqueduct_store::Store;
use jiff::Timestamp;

use super::{
    AppState, AppView, Applied, FetchPurpose, Inspection, Reply, SyncOutcome, defs_of, internal,
    spawn_fetch, spawn_poller, unknown_app, versions_of,
};
use crate::gitops::AppSpec;
use crate::server::Server;
use crate::server::commands::CommandError;

impl<S: Store> Server<S> {
    /// Startup: records each declared app and brings back what it had applied, from the
    /// mirror at the applied commit (no network needed when the mirror has it).
    pub(in crate::server) async fn load_apps(&mut self) -> anyhow::Result<()> {
        let mut declared = Vec::new();
        for spec in self.config.apps.clone() {
            let record = self
                .store
                .upsert_app(&spec.name, &spec_json(&spec), "config", Timestamp::now())
                .await?;
            declared.push((spec, record));
        }
        // apps added through the API come back too; config apps win a name
        for record in self.store.list_apps().await? {
            let taken = declared.iter().any(|(spec, _)| spec.name == record.name);
            if record.origin != "api" || taken {
                continue;
            }
            match spec_from_json(&record.name, &record.spec_json) {
                Some(spec) => declared.push((spec, record)),
                None => {
                    tracing::error!(app = %record.name, "stored app declaration unreadable; the app is not served: add it again with `aqueduct app add`")
                }
            }
        }
        for (spec, record) in declared {
            let mut state = AppState::new(spec.clone(), &record.origin, record.auto_sync_suspended);
            self.share_mirror_lock(&mut state);
            if let Some(commit) = record.applied_commit {
                state.applied = self.reapply(&spec, &commit).await?;
            }
            self.apps.insert(spec.name.clone(), state);
        }
        self.publish_apps();
        Ok(())
    }

    /// Declares an app through the API: recorded, then polled like the others.
    pub(in crate::server) async fn add_app(
        &mut self,
        spec: AppSpec,
    ) -> Result<AppView, CommandError> {
        if self.apps.contains_key(&spec.name) {
            return Err(CommandError::Conflict(format!("app {} exists", spec.name)));
        }
        let now = Timestamp::now();
        let record = self
            .store
            .upsert_app(&spec.name, &spec_json(&spec), "api", now)
            .await
            .map_err(internal)?;
        let mut state = AppState::new(spec.clone(), "api", record.auto_sync_suspended);
        self.share_mirror_lock(&mut state);
        if let Some(commit) = record.applied_commit {
            state.applied = self
                .reapply(&spec, &commit)
                .await
                .map_err(|error| CommandError::Internal(format!("{error:#}")))?;
        }
        spawn_poller(&state, self.git.clone(), self.app_tx.clone());
        tracing::info!(app = %spec.name, repo = %spec.repo, "app added");
        self.apps.insert(spec.name.clone(), state);
        self.publish_pipelines()
            .await
            .map_err(|error| CommandError::Internal(format!("{error:#}")))?;
        self.publish_apps();
        self.app_view(&spec.name)
            .ok_or_else(|| unknown_app(&spec.name))
    }

    /// Deletes an app added through the API: its pipelines leave the scheduler (runs in
    /// flight finish), its history and runs stay in the store.
    pub(in crate::server) async fn delete_app(&mut self, name: &str) -> Result<(), CommandError> {
        let state = self.apps.get(name).ok_or_else(|| unknown_app(name))?;
        if state.origin != "api" {
            let message = format!("app {name} is declared in the config file; remove it there");
            return Err(CommandError::Conflict(message));
        }
        self.store.delete_app(name).await.map_err(internal)?;
        if let Some(state) = self.apps.remove(name) {
            state
                .alive
                .store(false, std::sync::atomic::Ordering::SeqCst);
            state.refresh.notify_one();
        }
        tracing::info!(app = %name, "app deleted");
        self.observe(crate::server::ServerEvent::AppRemoved {
            app: name.to_owned(),
        });
        self.publish_pipelines()
            .await
            .map_err(|error| CommandError::Internal(format!("{error:#}")))?;
        self.publish_apps();
        Ok(())
    }

    /// Brings an app this server does not sync (another of several servers does) to what the
    /// store says it applied: its commit, and whether automated sync is suspended.
    pub(in crate::server) async fn follow_app(&mut self, name: &str) -> anyhow::Result<()> {
        let Some(state) = self.apps.get(name) else {
            return Ok(());
        };
        let record = match self.store.get_app(name).await {
            Ok(record) => record,
            Err(aqueduct_store::Error::NotFound(_)) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let current = state.applied.as_ref().map(|a| a.commit.id.to_string());
        let spec = state.spec.clone();
        let mut applied = None;
        if let Some(commit) = record.applied_commit.as_deref()
            && current.as_deref() != Some(commit)
        {
            applied = self.reapply(&spec, commit).await?;
        }
        let Some(state) = self.apps.get_mut(name) else {
            return Ok(());
        };
        state.auto_sync_suspended = record.auto_sync_suspended;
        if let Some(applied) = applied {
            tracing::info!(app = %name, commit = %applied.commit.id, "following the commit another server applied");
            state.applied = Some(applied);
            self.publish_pipelines().await?;
        }
        Ok(())
    }

    /// Learns the apps that another of several servers added or deleted through the API.
    pub(in crate::server) async fn follow_app_list(&mut self) -> anyhow::Result<()> {
        let records = self.store.list_apps().await?;
        let mut changed = false;
        for record in &records {
            if record.origin != "api" || self.apps.contains_key(&record.name) {
                continue;
            }
            let Some(spec) = spec_from_json(&record.name, &record.spec_json) else {
                continue;
            };
            let mut state = AppState::new(spec.clone(), "api", record.auto_sync_suspended);
            self.share_mirror_lock(&mut state);
            if let Some(commit) = &record.applied_commit {
                state.applied = self.reapply(&spec, commit).await?;
            }
            spawn_poller(&state, self.git.clone(), self.app_tx.clone());
            tracing::info!(app = %spec.name, "app added on another server");
            self.apps.insert(spec.name.clone(), state);
            changed = true;
        }
        let deleted: Vec<String> = self
            .apps
            .iter()
            .filter(|(name, state)| {
                state.origin == "api" && !records.iter().any(|record| &record.name == *name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in deleted {
            if let Some(state) = self.apps.remove(&name) {
                state
                    .alive
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                state.refresh.notify_one();
                tracing::info!(app = %name, "app deleted on another server");
            }
            changed = true;
        }
        if changed {
            self.publish_pipelines().await?;
            self.publish_apps();
        }
        Ok(())
    }

    /// Apps of one repository share its mirror, so they share one fetch lock: two fetches into
    /// one bare repository at once fail on its ref updates.
    fn share_mirror_lock(&self, state: &mut AppState) {
        let Ok(key) = aqueduct_gitsync::mirror_key(&state.spec.repo) else {
            return;
        };
        let same_mirror = self.apps.values().find(|other| {
            aqueduct_gitsync::mirror_key(&other.spec.repo).is_ok_and(|other| other == key)
        });
        if let Some(other) = same_mirror {
            state.fetch_lock = other.fetch_lock.clone();
        }
    }

    /// The pipelines an app applied at `commit`, read again after a restart. A commit that
    /// cannot be read is logged and the app waits for its next sync; a store failure is an error.
    async fn reapply(&self, spec: &AppSpec, commit: &str) -> anyhow::Result<Option<Applied>> {
        let (spec_owned, commit_owned, dirs) = (spec.clone(), commit.to_owned(), self.git.clone());
        let read = tokio::task::spawn_blocking(move || {
            crate::gitops::read_app_at(
                &spec_owned,
                &commit_owned,
                &dirs.trees,
                &mut crate::gitops::ParseCache::default(),
            )
        })
        .await?;
        let fetched = match read {
            Ok(fetched) => {
                self.git.trees.write_in_background(commit.to_owned());
                fetched
            }
            Err(error) if self.config.shares.is_some() => {
                // another server applied it; this one's mirror has it after its next fetch
                tracing::info!(app = %spec.name, commit, %error, "the applied commit is not readable here yet; the app follows it after its next fetch");
                return Ok(None);
            }
            Err(error) => {
                tracing::error!(app = %spec.name, commit, %error, "cannot read the applied commit; the app's pipelines wait for its next sync (check the repository, then `aqueduct app sync`)");
                return Ok(None);
            }
        };
        let recorded = self
            .store
            .record_pipeline_versions(versions_of(&fetched), Timestamp::now())
            .await?;
        let mut applied = Applied {
            defs: defs_of(&fetched, &recorded),
            commit: fetched.commit,
            hashes: fetched.desired.pipelines,
            texts: fetched.texts,
            changed_live: Default::default(),
        };
        self.restore_live_edits(&mut applied).await?;
        Ok(Some(applied))
    }

    /// Starts a manual sync: the fetch runs off the loop, the sync happens when it returns.
    pub(in crate::server) fn start_app_sync(
        &mut self,
        app: &str,
        revision: Option<String>,
        initiator: String,
        rollback_of: Option<i64>,
        reply: Reply<SyncOutcome>,
    ) {
        let Some(state) = self.apps.get(app) else {
            let _ = reply.send(Err(unknown_app(app)));
            return;
        };
        let purpose = FetchPurpose::Sync {
            initiator,
            rollback_of,
            reply,
        };
        spawn_fetch(
            state,
            self.git.clone(),
            revision,
            purpose,
            self.app_tx.clone(),
        );
    }

    /// Rolls an app back to an earlier sync's commit and suspends its automated sync.
    pub(in crate::server) async fn rollback_app(
        &mut self,
        app: &str,
        sync_id: i64,
        initiator: String,
        reply: Reply<SyncOutcome>,
    ) {
        if !self.apps.contains_key(app) {
            let _ = reply.send(Err(unknown_app(app)));
            return;
        }
        let earlier = match self.store.get_sync(app, sync_id).await {
            Ok(earlier) => earlier,
            Err(_) => {
                let message = format!("no sync {sync_id} in the history of {app}");
                let _ = reply.send(Err(CommandError::NotFound(message)));
                return;
            }
        };
        let suspended = self
            .store
            .set_auto_sync_suspended(app, true, Timestamp::now());
        if let Err(error) = suspended.await {
            let _ = reply.send(Err(internal(error)));
            return;
        }
        if let Some(state) = self.apps.get_mut(app) {
            state.auto_sync_suspended = true;
        }
        tracing::info!(app, sync_id, commit = %earlier.commit, "rollback: automated sync is off until re-enabled");
        let initiator = format!("{initiator} (rollback to sync {sync_id})");
        self.start_app_sync(app, Some(earlier.commit), initiator, Some(sync_id), reply);
    }

    /// Fetches a revision of an app for a diff or a plan, without applying anything.
    pub(in crate::server) fn start_inspection(
        &mut self,
        app: &str,
        revision: Option<String>,
        reply: Reply<Inspection>,
    ) {
        let Some(state) = self.apps.get(app) else {
            let _ = reply.send(Err(unknown_app(app)));
            return;
        };
        let purpose = FetchPurpose::Inspect(reply);
        spawn_fetch(
            state,
            self.git.clone(),
            revision,
            purpose,
            self.app_tx.clone(),
        );
    }

    /// Every app pipeline definition, for the scheduler.
    pub(in crate::server) fn app_defs(&self) -> Vec<PipelineDef> {
        let applied = self
            .apps
            .values()
            .filter_map(|state| state.applied.as_ref());
        applied
            .flat_map(|applied| applied.defs.iter().cloned())
            .collect()
    }
}

/// The app's declaration as the store keeps it.
fn spec_json(spec: &AppSpec) -> String {
    serde_json::json!({
        "repo": spec.repo,
        "revision": spec.revision,
        "path": spec.path,
        "policy": {
            "automated": spec.policy.automated,
            "prune": spec.policy.prune,
            "selfHeal": spec.policy.self_heal,
            "allowEmpty": spec.policy.allow_empty,
        },
        "pollIntervalSeconds": spec.poll_interval.as_secs(),
        "overlay": spec.overlay,
    })
    .to_string()
}

/// An app's declaration read back from the store (see [`spec_json`]).
fn spec_from_json(name: &str, text: &str) -> Option<AppSpec> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let policy = &value["policy"];
    let flag = |key: &str| policy[key].as_bool().unwrap_or(false);
    Some(AppSpec {
        name: name.to_owned(),
        repo: value["repo"].as_str()?.to_owned(),
        revision: value["revision"].as_str()?.to_owned(),
        path: value["path"].as_str().unwrap_or_default().to_owned(),
        policy: reconcile::SyncPolicy {
            automated: flag("automated"),
            prune: flag("prune"),
            self_heal: flag("selfHeal"),
            allow_empty: flag("allowEmpty"),
        },
        poll_interval: Duration::from_secs(value["pollIntervalSeconds"].as_u64().unwrap_or(180)),
        overlay: value["overlay"].as_str().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_declaration_reads_back_with_its_overlay() {
        let spec = AppSpec {
            name: "prod".to_owned(),
            repo: "https://git.example.com/p.git".to_owned(),
            revision: "main".to_owned(),
            path: "pipelines/base".to_owned(),
            policy: reconcile::SyncPolicy {
                automated: true,
                prune: true,
                self_heal: false,
                allow_empty: false,
            },
            poll_interval: Duration::from_secs(60),
            overlay: Some("pipelines/envs/prod".to_owned()),
        };
        assert_eq!(
            spec_from_json("prod", &spec_json(&spec)),
            Some(spec.clone())
        );
        let without = AppSpec {
            overlay: None,
            ..spec
        };
        assert_eq!(spec_from_json("prod", &spec_json(&without)), Some(without));
    }
}
