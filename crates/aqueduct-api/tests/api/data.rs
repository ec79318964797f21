//! The fake backend's fixtures (pipelines, runs and log lines at fixed times) and the
//! conversions it needs.

use std::collections::BTreeMap;

use aqueduct_api::dto::{
    AttemptOutcome, Diagnostic, Event, Notification, Page, ParamInfo, PipelineDetail,
    PipelineVersion, RunDetail, RunState, RunSummary, RunType, Schedule, TaskAttempt, TaskInfo,
    TaskInstance, TaskState,
};
use serde_json::json;

use crate::fake::ts;

fn task_info(name: &str, needs: &[&str]) -> TaskInfo {
    TaskInfo {
        name: name.to_owned(),
        needs: needs.iter().map(|n| (*n).to_owned()).collect(),
        trigger_rule: "all_success".to_owned(),
        retries: 2,
        timeout_secs: Some(600),
        pool: None,
    }
}

pub(crate) fn pipelines() -> Vec<PipelineDetail> {
    let base = PipelineDetail {
        name: String::new(),
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
            commit: Some("4b825dc642cb6eb9a060e54bf8d69288fbee4904".into()),
        }],
        params: Vec::new(),
        tasks: Vec::new(),
        diagnostics: Vec::new(),
        next_run_at: None,
    };
    vec![
        PipelineDetail {
            name: "broken".into(),
            valid: false,
            version: None,
            versions: Vec::new(),
            diagnostics: vec![Diagnostic {
                code: "unknown_field".into(),
                message: "unknown field `comand`, expected one of `name`, `run`, `needs`".into(),
                file: "pipelines/broken.yaml".into(),
                line: 6,
                column: 5,
                hint: Some("did you mean `command`?".into()),
            }],
            ..base.clone()
        },
        PipelineDetail {
            name: "daily_etl".into(),
            description: Some("Load the warehouse".into()),
            labels: BTreeMap::from([("team".into(), "data".into())]),
            schedule: Some(Schedule {
                cron: "0 3 * * *".into(),
                timezone: "Europe/Berlin".into(),
                catchup: false,
                start_date: Some(ts("2026-01-01T00:00:00Z")),
                end_date: None,
            }),
            version: Some(2),
            versions: vec![
                PipelineVersion {
                    version: 2,
                    created_at: ts("2026-02-20T10:30:00Z"),
                    commit: Some("9fceb02d0ae598e95dc970b74767f19372d61af8".into()),
                },
                PipelineVersion {
                    version: 1,
                    created_at: ts("2026-02-01T08:00:00Z"),
                    commit: Some("4b825dc642cb6eb9a060e54bf8d69288fbee4904".into()),
                },
            ],
            params: vec![
                ParamInfo {
                    name: "limit".into(),
                    param_type: "integer".into(),
                    default: Some(json!(100)),
                    secret: false,
                    description: Some("Rows per table".into()),
                },
                ParamInfo {
                    name: "api_key".into(),
                    param_type: "string".into(),
                    default: None,
                    secret: true,
                    description: None,
                },
            ],
            tasks: vec![
                task_info("extract", &[]),
                task_info("transform", &["extract"]),
                task_info("load", &["transform"]),
            ],
            next_run_at: Some(ts("2026-03-06T02:00:00Z")),
            ..base.clone()
        },
        PipelineDetail {
            name: "hourly_report".into(),
            description: Some("Revenue report".into()),
            paused: true,
            schedule: Some(Schedule {
                cron: "0 * * * *".into(),
                timezone: "UTC".into(),
                catchup: true,
                start_date: None,
                end_date: None,
            }),
            tasks: vec![task_info("report", &[])],
            ..base
        },
    ]
}

fn instance(name: &str, state: TaskState, attempts: u32, exit_code: Option<i32>) -> TaskInstance {
    let ended = state == TaskState::Success || state == TaskState::Failed;
    TaskInstance {
        name: name.to_owned(),
        state,
        attempts,
        exit_code,
        duration_ms: ended.then_some(1500),
        outcome: exit_code.map(|_| AttemptOutcome::Exited),
        detail: exit_code
            .filter(|code| *code != 0)
            .map(|code| format!("exit code {code}")),
        started_at: (attempts > 0).then(|| ts("2026-03-01T02:00:01Z")),
        ended_at: ended.then(|| ts("2026-03-01T02:00:02.5Z")),
        outputs: BTreeMap::new(),
        attempt_history: history(state, attempts, ended, exit_code),
    }
}

/// Attempts a second apart before the last one, which started at 02:00:01; all but the last
/// failed.
fn history(
    state: TaskState,
    attempts: u32,
    ended: bool,
    exit_code: Option<i32>,
) -> Vec<TaskAttempt> {
    let last_start = ts("2026-03-01T02:00:01Z");
    (1..=attempts)
        .map(|attempt| {
            let before_last = i64::from(attempts - attempt);
            let started_at = last_start - jiff::SignedDuration::from_secs(before_last);
            if attempt == attempts {
                return TaskAttempt {
                    attempt,
                    state,
                    started_at,
                    ended_at: ended.then(|| ts("2026-03-01T02:00:02.5Z")),
                    duration_ms: ended.then_some(1500),
                    exit_code,
                };
            }
            TaskAttempt {
                attempt,
                state: TaskState::Failed,
                started_at,
                ended_at: Some(started_at + jiff::SignedDuration::from_millis(500)),
                duration_ms: Some(500),
                exit_code: Some(1),
            }
        })
        .collect()
}

/// The tasks of a new run of `pipeline`, none started.
pub(crate) fn fresh_tasks(pipeline: &PipelineDetail) -> Vec<TaskInstance> {
    pipeline
        .tasks
        .iter()
        .map(|task| instance(&task.name, TaskState::None, 0, None))
        .collect()
}

pub(crate) fn runs() -> Vec<RunDetail> {
    let mut extract = instance("extract", TaskState::Success, 1, Some(0));
    extract.outputs = BTreeMap::from([("rows".into(), "1200".into())]);
    vec![
        RunDetail {
            pipeline: "daily_etl".into(),
            run_id: "scheduled__2026-03-01T02:00:00Z".into(),
            state: RunState::Success,
            run_type: RunType::Scheduled,
            version: 2,
            logical_date: ts("2026-03-01T02:00:00Z"),
            data_interval_start: Some(ts("2026-02-28T02:00:00Z")),
            data_interval_end: Some(ts("2026-03-01T02:00:00Z")),
            started_at: Some(ts("2026-03-01T02:00:01Z")),
            ended_at: Some(ts("2026-03-01T02:00:06Z")),
            duration_ms: Some(5000),
            params: BTreeMap::from([
                ("limit".into(), json!(100)),
                ("api_key".into(), json!("***")),
            ]),
            tasks: vec![
                extract,
                instance("transform", TaskState::Success, 1, Some(0)),
                instance("load", TaskState::Success, 1, Some(0)),
            ],
        },
        RunDetail {
            pipeline: "daily_etl".into(),
            run_id: "manual__2026-03-02T10:00:00Z".into(),
            state: RunState::Running,
            run_type: RunType::Manual,
            version: 2,
            logical_date: ts("2026-03-02T10:00:00Z"),
            data_interval_start: None,
            data_interval_end: None,
            started_at: Some(ts("2026-03-02T10:00:01Z")),
            ended_at: None,
            duration_ms: None,
            params: BTreeMap::from([("limit".into(), json!(5))]),
            tasks: vec![
                instance("extract", TaskState::Success, 1, Some(0)),
                instance("transform", TaskState::Running, 2, None),
                instance("load", TaskState::None, 0, None),
            ],
        },
        RunDetail {
            pipeline: "hourly_report".into(),
            run_id: "scheduled__2026-03-01T12:00:00Z".into(),
            state: RunState::Failed,
            run_type: RunType::Scheduled,
            version: 1,
            logical_date: ts("2026-03-01T12:00:00Z"),
            data_interval_start: Some(ts("2026-03-01T11:00:00Z")),
            data_interval_end: Some(ts("2026-03-01T12:00:00Z")),
            started_at: Some(ts("2026-03-01T12:00:01Z")),
            ended_at: Some(ts("2026-03-01T12:00:03Z")),
            duration_ms: Some(2000),
            params: BTreeMap::new(),
            tasks: vec![instance("report", TaskState::Failed, 3, Some(2))],
        },
    ]
}

pub(crate) fn logs() -> BTreeMap<(String, String, String, u32), Vec<String>> {
    let key = |run: &str, task: &str, attempt| {
        let pipeline = "daily_etl".to_owned();
        (pipeline, run.to_owned(), task.to_owned(), attempt)
    };
    let lines = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    BTreeMap::from([
        (
            key("scheduled__2026-03-01T02:00:00Z", "extract", 1),
            lines(&["extracting 3 tables", "", "done: 1200 rows"]),
        ),
        (
            key("manual__2026-03-02T10:00:00Z", "transform", 1),
            lines(&["transforming", "error: connection reset"]),
        ),
        (
            key("manual__2026-03-02T10:00:00Z", "transform", 2),
            lines(&["transforming", "progress 50%\rprogress 100%", "api_key=***"]),
        ),
    ])
}

/// Three events of the event log; numbers 1 and 2 were pruned.
pub(crate) fn events() -> Vec<Event> {
    let run = "manual__2026-03-02T10:00:00Z";
    let event = |seq, kind: &str, task: Option<&str>, data| Event {
        seq,
        at: ts("2026-03-02T10:00:05Z"),
        kind: kind.to_owned(),
        pipeline: Some("daily_etl".to_owned()),
        run_id: Some(run.to_owned()),
        task: task.map(str::to_owned),
        app: None,
        data,
    };
    vec![
        event(3, "run_created", None, json!({"state": "queued"})),
        event(
            4,
            "task_state",
            Some("extract"),
            json!({"state": "running", "attempt": 1}),
        ),
        event(5, "run_state", None, json!({"state": "failed"})),
    ]
}

pub(crate) fn notifications() -> Vec<Notification> {
    let notification = |id, state: &str, attempts| Notification {
        id,
        created_at: ts("2026-03-02T10:00:06Z"),
        sink: "webhook https://alerts.example.com/hook".to_owned(),
        state: state.to_owned(),
        attempts,
        next_attempt_at: None,
        last_error: (state != "delivered").then(|| "HTTP 500: down".to_owned()),
        delivered_at: None,
        event: "failure".to_owned(),
        pipeline: Some("daily_etl".to_owned()),
        run_id: Some("manual__2026-03-02T10:00:00Z".to_owned()),
        task: Some("extract".to_owned()),
        message: "extract failed".to_owned(),
    };
    vec![
        notification(1, "delivered", 1),
        notification(2, "dead", 55),
        notification(3, "pending", 2),
    ]
}

pub(crate) fn summary(run: &RunDetail) -> RunSummary {
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

pub(crate) fn page<T>(items: Vec<T>, limit: u32, offset: u32) -> Page<T> {
    let total = items.len() as u64;
    let items = items
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Page {
        items,
        total,
        limit,
        offset,
    }
}
