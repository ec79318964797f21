//! The fake backend's GitOps apps: one app, `prod`, tracking `main` of a repository whose
//! commits `c1`..`c3` are fixed. `prod` runs `c2`; `main` is at `c3`, which changes the schedule
//! of `daily_etl`, so the app is OutOfSync.
//!
//! Revisions drive the paths: `main` (or none) is `c3`; `feature` adds `new_report` and removes
//! `hourly_report`; `broken` fails validation; anything else is an unknown revision.

use aqueduct_api::BackendError;
use aqueduct_api::dto::{
    AppDetail, AppDiff, AppPipeline, AppPlan, AppSource, AppSummary, AppliedChange, CommitInfo,
    Diagnostic, DiffKind, FailureKind, FieldChange, HealthCode, HealthStatus, NextRunMove, Page,
    PipelineDiff, PlanAction, PlannedChange, RollbackResult, SyncCode, SyncFailure, SyncPolicy,
    SyncRecord, SyncResult, SyncStatus,
};
use aqueduct_api::{HistoryQuery, RollbackRequest, SyncRequest};

use crate::data::page;
use crate::fake::{now, ts};

const APP: &str = "prod";

pub(crate) struct Apps {
    applied: CommitInfo,
    automated: bool,
    history: Vec<SyncRecord>,
}

fn commit(number: u32) -> CommitInfo {
    let id = format!("c{number}{}", "0".repeat(38));
    CommitInfo {
        short: id[..7].to_owned(),
        id,
        message: format!("change number {number}"),
        author: "Ada <ada@example.com>".to_owned(),
        committed_at: ts(&format!("2026-03-0{number}T10:00:00Z")),
    }
}

fn record(id: u64, commit: &CommitInfo, initiator: &str) -> SyncRecord {
    SyncRecord {
        id,
        app: APP.to_owned(),
        revision: "main".to_owned(),
        commit: commit.id.clone(),
        message: commit.message.clone(),
        author: commit.author.clone(),
        committed_at: commit.committed_at,
        initiator: initiator.to_owned(),
        result: SyncResult::Succeeded,
        started_at: commit.committed_at,
        ended_at: commit.committed_at,
        detail: "1 updated".to_owned(),
        changes: vec![AppliedChange {
            name: "daily_etl".to_owned(),
            action: PlanAction::Update,
        }],
        failure: None,
        rollback_of: None,
    }
}

fn invalid() -> SyncFailure {
    SyncFailure {
        kind: FailureKind::Invalid,
        message: "failed validation with 1 diagnostic".to_owned(),
        diagnostics: vec![Diagnostic {
            code: "unknown_field".to_owned(),
            message: "unknown field `shedule`".to_owned(),
            file: "pipelines/daily_etl.yaml".to_owned(),
            line: 7,
            column: 3,
            hint: Some("did you mean `schedule`?".to_owned()),
        }],
        pipelines: Vec::new(),
    }
}

fn status(sync: SyncCode, sync_reason: &str, health: HealthCode, reason: &str) -> AppPipeline {
    AppPipeline {
        name: String::new(),
        sync: SyncStatus {
            status: sync,
            reason: sync_reason.to_owned(),
        },
        health: HealthStatus {
            status: health,
            reason: reason.to_owned(),
        },
    }
}

fn schedule_change() -> FieldChange {
    FieldChange {
        path: "spec.schedule".to_owned(),
        old: Some("0 6 * * *".to_owned()),
        new: Some("0 7 * * *".to_owned()),
    }
}

/// The commit a revision resolves to, or the error the server answers.
fn resolve(revision: &str) -> Result<CommitInfo, BackendError> {
    match revision {
        "main" => Ok(commit(3)),
        "feature" => Ok(commit(4)),
        "broken" => Ok(commit(5)),
        other => Err(BackendError::UnknownRevision(format!(
            "repository of app {APP} has no branch, tag or commit {other}"
        ))),
    }
}

impl Apps {
    pub(crate) fn new() -> Apps {
        Apps {
            applied: commit(2),
            automated: true,
            history: vec![
                record(1, &commit(1), "automated"),
                record(2, &commit(2), "automated"),
            ],
        }
    }

    fn check(name: &str) -> Result<(), BackendError> {
        match name {
            APP => Ok(()),
            other => Err(BackendError::AppNotFound(format!("no app named {other}"))),
        }
    }

    fn synced(&self) -> bool {
        self.applied.id == commit(3).id
    }

    pub(crate) fn list(&self) -> Vec<AppSummary> {
        let detail = self.detail();
        vec![AppSummary {
            name: detail.name,
            source: detail.source,
            automated: self.automated,
            sync: detail.sync,
            health: detail.health,
            applied_commit: Some(self.applied.id.clone()),
            pipeline_count: 2,
        }]
    }

    /// `prod` exists; any other name is added (and shown as `prod`'s detail, renamed).
    pub(crate) fn add(
        &mut self,
        app: aqueduct_api::dto::AppBody,
    ) -> Result<AppDetail, BackendError> {
        if app.name == APP {
            return Err(BackendError::Conflict(format!("app {APP} exists")));
        }
        let mut detail = self.detail();
        detail.name = app.name;
        detail.source.repo_url = app.repo;
        Ok(detail)
    }

    /// `prod` comes from the config file and cannot be deleted; `api-app` can.
    pub(crate) fn delete(&mut self, name: &str) -> Result<(), BackendError> {
        match name {
            APP => Err(BackendError::Conflict(format!(
                "app {APP} is declared in the config file"
            ))),
            "api-app" => Ok(()),
            other => Err(BackendError::AppNotFound(format!("no app named {other}"))),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Result<AppDetail, BackendError> {
        Apps::check(name)?;
        Ok(self.detail())
    }

    fn detail(&self) -> AppDetail {
        let (sync, reason) = if self.synced() {
            (SyncCode::Synced, "matches commit c300000")
        } else {
            (SyncCode::OutOfSync, "changed in commit c300000")
        };
        let healthy = "last run scheduled__2026-03-04T06:00:00+00:00 succeeded";
        let etl = status(sync, reason, HealthCode::Healthy, healthy);
        let report = status(
            SyncCode::Synced,
            "matches commit c300000",
            HealthCode::Healthy,
            healthy,
        );
        let app_reason = if self.synced() {
            "synced to commit c300000".to_owned()
        } else {
            "commit c300000 is not applied (live: c200000)".to_owned()
        };
        AppDetail {
            name: APP.to_owned(),
            source: AppSource {
                repo_url: "https://git.example.com/team/pipelines.git".to_owned(),
                revision: "main".to_owned(),
                path: "pipelines".to_owned(),
                overlay: None,
            },
            policy: SyncPolicy {
                automated: self.automated,
                prune: true,
                self_heal: true,
                allow_empty: false,
            },
            applied_commit: Some(self.applied.clone()),
            latest_commit: Some(commit(3)),
            fetched_at: Some(now()),
            sync: SyncStatus {
                status: sync,
                reason: app_reason,
            },
            health: HealthStatus {
                status: HealthCode::Healthy,
                reason: "2 pipelines healthy".to_owned(),
            },
            conditions: Vec::new(),
            pipelines: vec![
                AppPipeline {
                    name: "daily_etl".to_owned(),
                    ..etl
                },
                AppPipeline {
                    name: "hourly_report".to_owned(),
                    ..report
                },
            ],
        }
    }

    pub(crate) fn diff(&self, name: &str, revision: Option<&str>) -> Result<AppDiff, BackendError> {
        Apps::check(name)?;
        let revision = revision.unwrap_or("main");
        let commit = resolve(revision)?;
        let pipelines = match revision {
            "feature" => vec![
                PipelineDiff {
                    name: "hourly_report".to_owned(),
                    change: DiffKind::Removed,
                    fields: Vec::new(),
                },
                PipelineDiff {
                    name: "new_report".to_owned(),
                    change: DiffKind::Added,
                    fields: Vec::new(),
                },
            ],
            _ if self.synced() => Vec::new(),
            _ => vec![PipelineDiff {
                name: "daily_etl".to_owned(),
                change: DiffKind::Changed,
                fields: vec![schedule_change()],
            }],
        };
        Ok(AppDiff {
            app: APP.to_owned(),
            revision: revision.to_owned(),
            commit,
            live_commit: Some(self.applied.id.clone()),
            unchanged: 2 - u32::try_from(pipelines.len())
                .expect("few pipelines")
                .min(2),
            pipelines,
        })
    }

    pub(crate) fn plan(&self, name: &str, revision: &str) -> Result<AppPlan, BackendError> {
        Apps::check(name)?;
        let commit = resolve(revision)?;
        let (changes, blocked) = match revision {
            "broken" => (Vec::new(), Some(invalid())),
            _ => {
                let update = PlannedChange {
                    name: "daily_etl".to_owned(),
                    action: PlanAction::Update,
                    reverts_live_change: false,
                    fields: vec![schedule_change()],
                    next_run: Some(NextRunMove {
                        from: Some(ts("2026-03-06T06:00:00Z")),
                        to: Some(ts("2026-03-06T07:00:00Z")),
                    }),
                };
                (vec![update], None)
            }
        };
        Ok(AppPlan {
            app: APP.to_owned(),
            revision: revision.to_owned(),
            commit,
            live_commit: Some(self.applied.id.clone()),
            unchanged: 1,
            changes,
            blocked,
        })
    }

    pub(crate) fn history(&self, query: HistoryQuery) -> Result<Page<SyncRecord>, BackendError> {
        Apps::check(&query.app)?;
        let newest_first = self.history.iter().rev().cloned().collect();
        Ok(page(newest_first, query.limit, query.offset))
    }

    pub(crate) fn sync(&mut self, request: SyncRequest) -> Result<SyncRecord, BackendError> {
        Apps::check(&request.app)?;
        let revision = request.revision.unwrap_or_else(|| "main".to_owned());
        let commit = resolve(&revision)?;
        let id = self.history.len() as u64 + 1;
        let mut record = SyncRecord {
            revision,
            started_at: now(),
            ended_at: now(),
            ..record(id, &commit, &request.initiator)
        };
        if record.revision == "broken" {
            let failure = invalid();
            record.result = SyncResult::Failed;
            record.detail = format!("commit {} {}", commit.short, failure.message);
            record.changes = Vec::new();
            record.failure = Some(failure);
        } else {
            self.applied = commit;
        }
        self.history.push(record.clone());
        Ok(record)
    }

    pub(crate) fn rollback(
        &mut self,
        request: RollbackRequest,
    ) -> Result<RollbackResult, BackendError> {
        Apps::check(&request.app)?;
        let Some(target) = self.history.iter().find(|r| r.id == request.id).cloned() else {
            let id = request.id;
            return Err(BackendError::NotFound(format!(
                "app {APP} has no sync {id}"
            )));
        };
        let number = target.commit[1..2].parse().expect("fake commit ids");
        let target_commit = commit(number);
        let sync = SyncRecord {
            revision: target_commit.id.clone(),
            started_at: now(),
            ended_at: now(),
            rollback_of: Some(request.id),
            ..record(
                self.history.len() as u64 + 1,
                &target_commit,
                &request.initiator,
            )
        };
        self.applied = target_commit;
        self.history.push(sync.clone());
        self.automated = false;
        Ok(RollbackResult {
            sync,
            automated: false,
            message: format!("automated sync of app {APP} is off until re-enabled"),
        })
    }
}
