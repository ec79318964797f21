//! `FakeBackend`: an in-memory `Backend` for the UI's tests: a GitOps-style pipeline with a `/`
//! in its name and params, a scheduled diamond, any number of filler pipelines, one run with a
//! failed task, and a log. It records triggers, clears and cancels. Calls the UI never makes
//! answer `not_found`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aqueduct_api::dto::{
    AppDetail, AppDiff, AppPipeline, AppPlan, AppSource, AppSummary, BackfillResult, CommitInfo,
    DiffKind, Event, FieldChange, HealthCode, HealthStatus, NextRun, Notification, Page, ParamInfo,
    PipelineDetail, PipelineDiff, PipelineReplaced, PipelineSummary, PipelineVersion, PlanAction,
    PlannedChange, RollbackResult, RunDetail, RunState, RunSummary, RunType, Schedule, SyncCode,
    SyncPolicy, SyncRecord, SyncResult, SyncStatus, TaskAttempt, TaskInfo, TaskInstance, TaskState,
};
use aqueduct_api::{
    Backend, BackendError, BackfillRequest, ClearRequest, Forge, HistoryQuery, PipelineQuery,
    ReplaceRequest, Role, RollbackRequest, RunQuery, SyncRequest, TriggerRequest, WebhookSecret,
};
use jiff::Timestamp;
use serde_json::json;
use tokio::sync::mpsc;

pub(crate) const VIEWER: &str = "viewer-token";
pub(crate) const OPERATOR: &str = "operator-token";
/// The pipeline with a `/` in its name.
pub(crate) const HELLO: &str = "examples/hello";
/// Its one run.
pub(crate) const RUN: &str = "manual__2026-03-05T09:00:00+00:00";

pub(crate) fn ts(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

#[derive(Default)]
pub(crate) struct Recorded {
    pub(crate) triggers: Vec<TriggerRequest>,
    pub(crate) clears: Vec<ClearRequest>,
    pub(crate) cancels: Vec<(String, String)>,
    pub(crate) paused: Vec<(String, bool)>,
    pub(crate) list_queries: Vec<PipelineQuery>,
    pub(crate) run_queries: usize,
    pub(crate) syncs: Vec<SyncRequest>,
    pub(crate) rollbacks: Vec<RollbackRequest>,
}

pub(crate) struct FakeBackend {
    pipelines: Vec<PipelineDetail>,
    runs: Vec<RunDetail>,
    pub(crate) recorded: Mutex<Recorded>,
}

fn task(name: &str, needs: &[&str]) -> TaskInfo {
    TaskInfo {
        name: name.to_owned(),
        needs: needs.iter().map(|need| (*need).to_owned()).collect(),
        trigger_rule: "all_success".to_owned(),
        retries: 0,
        timeout_secs: None,
        pool: None,
    }
}

fn pipeline(name: &str) -> PipelineDetail {
    PipelineDetail {
        name: name.to_owned(),
        description: None,
        labels: BTreeMap::new(),
        paused: false,
        schedule: None,
        max_active_runs: 1,
        max_active_tasks: 16,
        valid: true,
        version: Some(1),
        versions: vec![PipelineVersion {
            version: 1,
            created_at: ts("2026-02-01T08:00:00Z"),
            commit: Some("9fceb02d0ae598e95dc970b74767f19372d61af8".into()),
        }],
        params: Vec::new(),
        tasks: vec![task("only", &[])],
        diagnostics: Vec::new(),
        next_run_at: None,
    }
}

fn instance(
    name: &str,
    state: TaskState,
    exit_code: Option<i32>,
    start: &str,
    end: &str,
) -> TaskInstance {
    TaskInstance {
        name: name.to_owned(),
        state,
        attempts: 1,
        exit_code,
        duration_ms: Some(2_000),
        outcome: None,
        detail: None,
        started_at: Some(ts(start)),
        ended_at: Some(ts(end)),
        outputs: BTreeMap::new(),
        attempt_history: vec![TaskAttempt {
            attempt: 1,
            state,
            started_at: ts(start),
            ended_at: Some(ts(end)),
            duration_ms: Some(2_000),
            exit_code,
        }],
    }
}

impl FakeBackend {
    /// The fixtures plus `fillers` pipelines named `filler-000`, `filler-001`, ...
    pub(crate) fn new(fillers: usize) -> FakeBackend {
        let mut hello = pipeline(HELLO);
        hello.description = Some("Says <b>hello</b>".into());
        hello.params = vec![
            ParamInfo {
                name: "who".into(),
                param_type: "string".into(),
                default: Some(json!("world")),
                secret: false,
                description: Some("Whom to greet".into()),
            },
            ParamInfo {
                name: "count".into(),
                param_type: "integer".into(),
                default: Some(json!(1)),
                secret: false,
                description: None,
            },
        ];
        hello.tasks = vec![
            task("greet", &[]),
            task("shout", &["greet"]),
            task("after", &["shout"]),
        ];
        let mut etl = pipeline("daily_etl");
        etl.description = Some("Load the warehouse".into());
        etl.labels = BTreeMap::from([("team".to_owned(), "data".to_owned())]);
        etl.schedule = Some(Schedule {
            cron: "0 3 * * *".into(),
            timezone: "UTC".into(),
            catchup: false,
            start_date: None,
            end_date: None,
        });
        etl.next_run_at = Some(ts("2026-03-06T03:00:00Z"));
        etl.tasks = vec![
            task("extract_a", &[]),
            task("extract_b", &[]),
            task("load_b", &["extract_b"]),
            task("load_a", &["extract_a"]),
            task("report", &["load_a", "load_b"]),
        ];
        let mut pipelines = vec![hello, etl];
        pipelines.extend((0..fillers).map(|index| PipelineDetail {
            // every third filler is paused
            paused: index % 3 == 1,
            ..pipeline(&format!("filler-{index:03}"))
        }));
        pipelines.sort_by(|a, b| a.name.cmp(&b.name));
        let run = RunDetail {
            pipeline: HELLO.into(),
            run_id: RUN.into(),
            state: RunState::Failed,
            run_type: RunType::Manual,
            version: 1,
            logical_date: ts("2026-03-05T09:00:00Z"),
            data_interval_start: None,
            data_interval_end: None,
            started_at: Some(ts("2026-03-05T09:00:01Z")),
            ended_at: Some(ts("2026-03-05T09:00:09Z")),
            duration_ms: Some(8_000),
            params: BTreeMap::from([("who".to_owned(), json!("<ada>"))]),
            tasks: vec![
                instance(
                    "greet",
                    TaskState::Success,
                    Some(0),
                    "2026-03-05T09:00:01Z",
                    "2026-03-05T09:00:03Z",
                ),
                // retried once: its first attempt failed too
                TaskInstance {
                    attempts: 2,
                    attempt_history: vec![
                        TaskAttempt {
                            attempt: 1,
                            state: TaskState::Failed,
                            started_at: ts("2026-03-05T09:00:03Z"),
                            ended_at: Some(ts("2026-03-05T09:00:05Z")),
                            duration_ms: Some(2_000),
                            exit_code: Some(3),
                        },
                        TaskAttempt {
                            attempt: 2,
                            state: TaskState::Failed,
                            started_at: ts("2026-03-05T09:00:07Z"),
                            ended_at: Some(ts("2026-03-05T09:00:09Z")),
                            duration_ms: Some(2_000),
                            exit_code: Some(3),
                        },
                    ],
                    ..instance(
                        "shout",
                        TaskState::Failed,
                        Some(3),
                        "2026-03-05T09:00:07Z",
                        "2026-03-05T09:00:09Z",
                    )
                },
                TaskInstance {
                    attempts: 0,
                    exit_code: None,
                    duration_ms: None,
                    started_at: None,
                    ended_at: None,
                    attempt_history: Vec::new(),
                    ..instance(
                        "after",
                        TaskState::UpstreamFailed,
                        None,
                        "2026-03-05T09:00:09Z",
                        "2026-03-05T09:00:09Z",
                    )
                },
            ],
        };
        FakeBackend {
            pipelines,
            runs: vec![run],
            recorded: Mutex::new(Recorded::default()),
        }
    }

    fn find(&self, name: &str) -> Result<&PipelineDetail, BackendError> {
        self.pipelines
            .iter()
            .find(|pipeline| pipeline.name == name)
            .ok_or_else(|| BackendError::NotFound(format!("no pipeline {name}")))
    }

    fn run(&self, pipeline: &str, run_id: &str) -> Result<&RunDetail, BackendError> {
        self.runs
            .iter()
            .find(|run| run.pipeline == pipeline && run.run_id == run_id)
            .ok_or_else(|| {
                BackendError::NotFound(format!("pipeline {pipeline} has no run {run_id}"))
            })
    }

    fn record<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> T {
        f(&mut self.recorded.lock().expect("recorded lock"))
    }
}

fn summary_of(run: &RunDetail) -> RunSummary {
    RunSummary {
        pipeline: run.pipeline.clone(),
        run_id: run.run_id.clone(),
        state: run.state,
        run_type: run.run_type,
        logical_date: run.logical_date,
        started_at: run.started_at,
        ended_at: run.ended_at,
        duration_ms: run.duration_ms,
    }
}

/// The one GitOps app.
pub(crate) const APP: &str = "examples";

fn known_app(name: &str) -> Result<(), BackendError> {
    if name == APP {
        Ok(())
    } else {
        Err(BackendError::AppNotFound(format!("no app named {name}")))
    }
}

fn commit(id: &str, message: &str) -> CommitInfo {
    CommitInfo {
        id: id.into(),
        short: id.chars().take(7).collect(),
        message: message.into(),
        author: "Ada".into(),
        committed_at: ts("2026-03-05T08:00:00Z"),
    }
}

fn app_detail() -> AppDetail {
    AppDetail {
        name: APP.into(),
        source: AppSource {
            repo_url: "https://git.example/aqueduct.git".into(),
            revision: "main".into(),
            path: "examples".into(),
            overlay: None,
        },
        policy: SyncPolicy {
            automated: true,
            prune: false,
            self_heal: false,
            allow_empty: false,
        },
        applied_commit: Some(commit("9fceb02d0ae598e9", "first")),
        latest_commit: Some(commit("1a2b3c4d5e6f7a8b", "say it louder")),
        fetched_at: Some(ts("2026-03-05T09:00:00Z")),
        sync: SyncStatus {
            status: SyncCode::OutOfSync,
            reason: "changed in commit 1a2b3c4".into(),
        },
        health: HealthStatus {
            status: HealthCode::Degraded,
            reason: "the last run failed".into(),
        },
        conditions: Vec::new(),
        pipelines: vec![AppPipeline {
            name: HELLO.into(),
            sync: SyncStatus {
                status: SyncCode::OutOfSync,
                reason: "changed".into(),
            },
            health: HealthStatus {
                status: HealthCode::Degraded,
                reason: "failed".into(),
            },
        }],
    }
}

fn sync_record(id: u64, message: &str) -> SyncRecord {
    SyncRecord {
        id,
        app: APP.into(),
        revision: "main".into(),
        commit: format!("{id}{id}{id}{id}{id}{id}{id}{id}{id}{id}{id}{id}{id}"),
        message: message.into(),
        author: "Ada".into(),
        committed_at: ts("2026-03-05T08:00:00Z"),
        initiator: "auto".into(),
        rollback_of: None,
        result: SyncResult::Succeeded,
        started_at: ts("2026-03-05T08:01:00Z"),
        ended_at: ts("2026-03-05T08:01:01Z"),
        detail: String::new(),
        changes: Vec::new(),
        failure: None,
    }
}

fn unused<T>() -> Result<T, BackendError> {
    Err(BackendError::NotFound("not in the UI's fake".into()))
}

impl Backend for FakeBackend {
    async fn list_pipelines(
        &self,
        query: PipelineQuery,
    ) -> Result<Page<PipelineSummary>, BackendError> {
        self.record(|recorded| recorded.list_queries.push(query.clone()));
        let needle = query.search.clone().unwrap_or_default().to_lowercase();
        let matching: Vec<&PipelineDetail> = self
            .pipelines
            .iter()
            .filter(|p| query.paused.is_none_or(|paused| p.paused == paused))
            .filter(|p| query.labels.matches(&p.labels))
            .filter(|p| {
                let app = aqueduct_api::app_of(&p.name);
                query
                    .app
                    .as_deref()
                    .is_none_or(|wanted| app == Some(wanted))
            })
            .filter(|p| {
                let last = self.runs.iter().find(|run| run.pipeline == p.name);
                let last = last.map(|run| run.state);
                query.state.is_none_or(|wanted| last == Some(wanted))
            })
            .filter(|p| {
                p.name.to_lowercase().contains(&needle)
                    || p.description
                        .as_deref()
                        .unwrap_or("")
                        .to_lowercase()
                        .contains(&needle)
            })
            .collect();
        let items = matching
            .iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .map(|p| PipelineSummary {
                name: p.name.clone(),
                description: p.description.clone(),
                labels: p.labels.clone(),
                paused: p.paused,
                schedule: p.schedule.as_ref().map(|s| s.cron.clone()),
                valid: p.valid,
                version: p.version,
                task_count: p.tasks.len() as u32,
                last_run: self
                    .runs
                    .iter()
                    .find(|run| run.pipeline == p.name)
                    .map(summary_of),
                next_run_at: p.next_run_at,
            })
            .collect();
        Ok(Page {
            items,
            total: matching.len() as u64,
            limit: query.limit,
            offset: query.offset,
        })
    }

    async fn get_pipeline(&self, name: &str) -> Result<PipelineDetail, BackendError> {
        self.find(name).cloned()
    }

    async fn definition(&self, pipeline: &str, version: i64) -> Result<String, BackendError> {
        self.find(pipeline)?;
        Ok(format!(
            "# version {version}\nmetadata:\n  name: {pipeline}\n  description: <b>bold</b>\n"
        ))
    }

    async fn list_runs(&self, query: RunQuery) -> Result<Page<RunSummary>, BackendError> {
        self.record(|recorded| recorded.run_queries += 1);
        let items: Vec<RunSummary> = self
            .runs
            .iter()
            .filter(|run| query.pipeline.as_ref().is_none_or(|p| &run.pipeline == p))
            .map(summary_of)
            .collect();
        Ok(Page {
            total: items.len() as u64,
            items,
            limit: query.limit,
            offset: query.offset,
        })
    }

    async fn get_run(&self, pipeline: &str, run_id: &str) -> Result<RunDetail, BackendError> {
        self.run(pipeline, run_id).cloned()
    }

    async fn task_log(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> Result<String, BackendError> {
        self.run(pipeline, run_id)?;
        match (task, attempt.unwrap_or(1)) {
            ("shout", 1) => Ok("HELLO <WORLD>\nerror: voice lost\n".to_owned()),
            ("greet", 1) => Ok("hello\n".to_owned()),
            _ => Err(BackendError::NotFound(format!(
                "task {task} has no such attempt"
            ))),
        }
    }

    async fn follow_log(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        attempt: Option<u32>,
    ) -> Result<mpsc::Receiver<String>, BackendError> {
        let text = self.task_log(pipeline, run_id, task, attempt).await?;
        let (sender, receiver) = mpsc::channel(16);
        for line in text.lines() {
            sender.try_send(line.to_owned()).expect("room");
        }
        Ok(receiver)
    }

    async fn trigger(&self, request: TriggerRequest) -> Result<RunSummary, BackendError> {
        self.find(&request.pipeline)?;
        let pipeline = request.pipeline.clone();
        self.record(|recorded| recorded.triggers.push(request));
        Ok(RunSummary {
            pipeline,
            run_id: "manual__2026-03-05T10:00:00+00:00".into(),
            state: RunState::Queued,
            run_type: RunType::Manual,
            logical_date: ts("2026-03-05T10:00:00Z"),
            started_at: None,
            ended_at: None,
            duration_ms: None,
        })
    }

    async fn set_paused(&self, pipeline: &str, paused: bool) -> Result<(), BackendError> {
        self.find(pipeline)?;
        self.record(|recorded| recorded.paused.push((pipeline.to_owned(), paused)));
        Ok(())
    }

    async fn clear(&self, request: ClearRequest) -> Result<RunSummary, BackendError> {
        let run = summary_of(self.run(&request.pipeline, &request.run_id)?);
        self.record(|recorded| recorded.clears.push(request));
        Ok(run)
    }

    async fn cancel(&self, pipeline: &str, run_id: &str) -> Result<RunSummary, BackendError> {
        let run = summary_of(self.run(pipeline, run_id)?);
        self.record(|recorded| {
            recorded
                .cancels
                .push((pipeline.to_owned(), run_id.to_owned()))
        });
        Ok(run)
    }

    async fn next_runs(&self, pipeline: &str, count: u32) -> Result<Vec<NextRun>, BackendError> {
        let detail = self.find(pipeline)?;
        Ok(detail
            .next_run_at
            .into_iter()
            .take(count as usize)
            .map(|at| NextRun {
                logical_date: at,
                data_interval_start: at,
                data_interval_end: at,
                run_after: at,
            })
            .collect())
    }

    async fn backfill(&self, _: BackfillRequest) -> Result<BackfillResult, BackendError> {
        unused()
    }
    async fn list_apps(&self) -> Result<Vec<AppSummary>, BackendError> {
        let app = app_detail();
        Ok(vec![AppSummary {
            name: app.name,
            source: app.source,
            automated: true,
            sync: app.sync,
            health: app.health,
            applied_commit: Some("9fceb02d0ae598e95dc970b74767f19372d61af8".into()),
            pipeline_count: 1,
        }])
    }
    async fn get_app(&self, name: &str) -> Result<AppDetail, BackendError> {
        known_app(name)?;
        Ok(app_detail())
    }
    async fn diff_app(&self, name: &str, _: Option<&str>) -> Result<AppDiff, BackendError> {
        known_app(name)?;
        Ok(AppDiff {
            app: APP.into(),
            revision: "main".into(),
            commit: commit("1a2b3c4d5e6f7a8b", "say it louder"),
            live_commit: Some("9fceb02d0ae598e95dc970b74767f19372d61af8".into()),
            pipelines: vec![PipelineDiff {
                name: HELLO.into(),
                change: DiffKind::Changed,
                fields: vec![FieldChange {
                    path: "tasks.greet.run".into(),
                    old: Some("echo hello".into()),
                    new: Some("echo <HELLO>".into()),
                }],
            }],
            unchanged: 0,
        })
    }
    async fn plan_app(&self, name: &str, revision: &str) -> Result<AppPlan, BackendError> {
        known_app(name)?;
        if revision != "feature" {
            return Err(BackendError::UnknownRevision(format!(
                "no branch, tag or commit {revision}"
            )));
        }
        Ok(AppPlan {
            app: APP.into(),
            revision: revision.into(),
            commit: commit("7777777777777777", "add a pipeline"),
            live_commit: None,
            changes: vec![PlannedChange {
                name: "examples/new".into(),
                action: PlanAction::Add,
                reverts_live_change: false,
                fields: Vec::new(),
                next_run: None,
            }],
            unchanged: 1,
            blocked: None,
        })
    }
    async fn app_history(&self, query: HistoryQuery) -> Result<Page<SyncRecord>, BackendError> {
        known_app(&query.app)?;
        let items = vec![sync_record(2, "say it louder"), sync_record(1, "first")];
        Ok(Page {
            total: 2,
            items,
            limit: query.limit,
            offset: query.offset,
        })
    }
    async fn sync_app(&self, request: SyncRequest) -> Result<SyncRecord, BackendError> {
        known_app(&request.app)?;
        self.record(|recorded| recorded.syncs.push(request));
        Ok(sync_record(3, "say it louder"))
    }
    async fn refresh_app(&self, name: &str) -> Result<AppDetail, BackendError> {
        known_app(name)?;
        Ok(app_detail())
    }
    async fn add_app(&self, _: aqueduct_api::dto::AppBody) -> Result<AppDetail, BackendError> {
        unused()
    }
    async fn delete_app(&self, _: &str) -> Result<(), BackendError> {
        unused()
    }
    async fn rollback_app(&self, request: RollbackRequest) -> Result<RollbackResult, BackendError> {
        known_app(&request.app)?;
        self.record(|recorded| recorded.rollbacks.push(request));
        Ok(RollbackResult {
            sync: sync_record(3, "first"),
            automated: false,
            message: "rolled back".into(),
        })
    }
    async fn webhook_secret(&self, _: &str) -> Result<Option<WebhookSecret>, BackendError> {
        Ok(None)
    }
    async fn forge_webhook_secret(&self, _: Forge) -> Result<Option<WebhookSecret>, BackendError> {
        Ok(None)
    }
    async fn replace_pipeline(&self, _: ReplaceRequest) -> Result<PipelineReplaced, BackendError> {
        unused()
    }

    async fn verify_token(&self, presented: &str) -> Result<Option<Role>, BackendError> {
        Ok(match presented {
            VIEWER => Some(Role::Viewer),
            OPERATOR => Some(Role::Operator),
            // a real token's shape: its id goes into histories
            token if aqueduct_api::token_id(token).is_some() => Some(Role::Operator),
            _ => None,
        })
    }

    async fn list_events(&self, _: i64, _: u32) -> Result<Vec<Event>, BackendError> {
        Ok(Vec::new())
    }
    async fn follow_events(&self, _: i64) -> Result<mpsc::Receiver<Event>, BackendError> {
        Ok(mpsc::channel(1).1)
    }
    async fn list_notifications(
        &self,
        _: Option<&str>,
        _: i64,
        _: u32,
    ) -> Result<Vec<Notification>, BackendError> {
        Ok(Vec::new())
    }
    async fn resend_notification(&self, _: i64) -> Result<Notification, BackendError> {
        unused()
    }
}
