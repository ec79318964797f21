//! Store records and pipeline definitions to API DTOs.

use std::collections::BTreeMap;

use aqueduct_api::Role;
use aqueduct_api::dto::{
    self, ParamInfo, PipelineDetail, PipelineSummary, PipelineVersion, RunDetail, RunSummary,
    Schedule, TaskInfo, TaskInstance,
};
use aqueduct_core::scheduler::PipelineDef;
use aqueduct_core::{ParamValue, RunState, TaskState};
use aqueduct_store::{RunRecord, RunType, TaskAttemptRecord, TaskInstanceRecord};
use jiff::Timestamp;

pub(crate) fn api_role(role: aqueduct_store::Role) -> Role {
    match role {
        aqueduct_store::Role::Viewer => Role::Viewer,
        aqueduct_store::Role::Operator => Role::Operator,
        aqueduct_store::Role::Admin => Role::Admin,
        aqueduct_store::Role::Worker => Role::Worker,
    }
}

pub(crate) fn core_run_state(state: dto::RunState) -> RunState {
    match state {
        dto::RunState::Queued => RunState::Queued,
        dto::RunState::Running => RunState::Running,
        dto::RunState::Success => RunState::Success,
        dto::RunState::Failed => RunState::Failed,
        dto::RunState::Cancelled => RunState::Cancelled,
    }
}

fn run_type(run_type: RunType) -> dto::RunType {
    match run_type {
        RunType::Scheduled => dto::RunType::Scheduled,
        RunType::Manual => dto::RunType::Manual,
        RunType::Backfill => dto::RunType::Backfill,
    }
}

fn duration_ms(start: Option<Timestamp>, end: Option<Timestamp>) -> Option<u64> {
    let (start, end) = (start?, end?);
    u64::try_from(end.duration_since(start).as_millis()).ok()
}

pub(crate) fn run_summary(record: &RunRecord) -> RunSummary {
    RunSummary {
        pipeline: record.pipeline.clone(),
        run_id: record.id.clone(),
        state: record.state.into(),
        run_type: run_type(record.run_type),
        logical_date: record.logical_date,
        started_at: record.started_at,
        ended_at: record.ended_at,
        duration_ms: duration_ms(record.started_at, record.ended_at),
    }
}

fn outcome(name: &str) -> Option<dto::AttemptOutcome> {
    Some(match name {
        "exited" => dto::AttemptOutcome::Exited,
        "signaled" => dto::AttemptOutcome::Signaled,
        "timed_out" => dto::AttemptOutcome::TimedOut,
        "out_of_memory" => dto::AttemptOutcome::OutOfMemory,
        "cancelled" => dto::AttemptOutcome::Cancelled,
        "not_started" => dto::AttemptOutcome::NotStarted,
        "condition_false" => dto::AttemptOutcome::ConditionFalse,
        "lost" => dto::AttemptOutcome::Lost,
        _ => return None,
    })
}

fn task_instance(
    name: &str,
    record: Option<&TaskInstanceRecord>,
    attempts: &[TaskAttemptRecord],
) -> TaskInstance {
    let attempt_history = attempts
        .iter()
        .filter(|attempt| attempt.task == name)
        .map(task_attempt)
        .collect();
    let Some(record) = record else {
        return TaskInstance {
            name: name.to_owned(),
            state: TaskState::None.into(),
            attempts: 0,
            exit_code: None,
            duration_ms: None,
            outcome: None,
            detail: None,
            started_at: None,
            ended_at: None,
            outputs: BTreeMap::new(),
            attempt_history,
        };
    };
    let detail = match (record.outcome.as_deref(), record.exit_code) {
        (Some("exited"), Some(0)) | (None, _) => None,
        (Some("exited"), Some(code)) => Some(format!("exit code {code}")),
        (Some(other), _) => Some(other.replace('_', " ")),
    };
    TaskInstance {
        name: name.to_owned(),
        state: record.state.into(),
        attempts: record.attempts,
        exit_code: record.exit_code,
        duration_ms: duration_ms(record.started_at, record.ended_at),
        outcome: record.outcome.as_deref().and_then(outcome),
        detail,
        started_at: record.started_at,
        ended_at: record.ended_at,
        outputs: serde_json::from_str(&record.outputs_json).unwrap_or_default(),
        attempt_history,
    }
}

/// One attempt as the API shows it: an attempt that was retried failed.
fn task_attempt(attempt: &TaskAttemptRecord) -> dto::TaskAttempt {
    let state = match attempt.state {
        TaskState::UpForRetry => TaskState::Failed,
        other => other,
    };
    dto::TaskAttempt {
        attempt: attempt.attempt,
        state: state.into(),
        started_at: attempt.started_at,
        ended_at: attempt.ended_at,
        duration_ms: duration_ms(Some(attempt.started_at), attempt.ended_at),
        exit_code: attempt.exit_code,
    }
}

/// The run with its tasks in the pipeline's order (`order`), then any others, each with its
/// attempts (`attempts`, by task, then attempt).
pub(crate) fn run_detail(
    record: &RunRecord,
    tasks: &[TaskInstanceRecord],
    attempts: &[TaskAttemptRecord],
    order: &[String],
) -> RunDetail {
    let mut instances: Vec<TaskInstance> = order
        .iter()
        .map(|name| task_instance(name, tasks.iter().find(|t| &t.task == name), attempts))
        .collect();
    for task in tasks.iter().filter(|t| !order.contains(&t.task)) {
        instances.push(task_instance(&task.task, Some(task), attempts));
    }
    RunDetail {
        pipeline: record.pipeline.clone(),
        run_id: record.id.clone(),
        state: record.state.into(),
        run_type: run_type(record.run_type),
        version: record.version_id,
        logical_date: record.logical_date,
        data_interval_start: Some(record.data_interval_start),
        data_interval_end: Some(record.data_interval_end),
        started_at: record.started_at,
        ended_at: record.ended_at,
        duration_ms: duration_ms(record.started_at, record.ended_at),
        params: serde_json::from_str(&record.params_json).unwrap_or_default(),
        tasks: instances,
    }
}

pub(crate) fn pipeline_summary(
    def: &PipelineDef,
    paused: bool,
    last_run: Option<RunSummary>,
    next_run_at: Option<Timestamp>,
) -> PipelineSummary {
    let pipeline = &def.pipeline;
    PipelineSummary {
        name: pipeline.name.clone(),
        description: pipeline.description.clone(),
        labels: pipeline.labels.clone(),
        paused,
        schedule: pipeline.schedule.cron.clone(),
        valid: true,
        version: Some(def.version),
        task_count: u32::try_from(pipeline.tasks.len()).unwrap_or(u32::MAX),
        last_run,
        next_run_at,
    }
}

fn param_json(value: &ParamValue) -> serde_json::Value {
    match value {
        ParamValue::String(text) => text.as_str().into(),
        ParamValue::Integer(number) => (*number).into(),
        ParamValue::Number(number) => (*number).into(),
        ParamValue::Boolean(flag) => (*flag).into(),
    }
}

pub(crate) fn pipeline_detail(
    def: &PipelineDef,
    paused: bool,
    versions: &[aqueduct_store::PipelineVersion],
    next_run_at: Option<Timestamp>,
) -> PipelineDetail {
    let pipeline = &def.pipeline;
    let schedule = &pipeline.schedule;
    PipelineDetail {
        name: pipeline.name.clone(),
        description: pipeline.description.clone(),
        labels: pipeline.labels.clone(),
        paused,
        schedule: schedule.cron.as_ref().map(|cron| Schedule {
            cron: cron.clone(),
            timezone: schedule.timezone.clone(),
            catchup: schedule.catchup,
            start_date: schedule.start_date,
            end_date: schedule.end_date,
        }),
        max_active_runs: schedule.max_active_runs,
        max_active_tasks: schedule.max_active_tasks,
        valid: true,
        version: Some(def.version),
        versions: versions
            .iter()
            .map(|v| PipelineVersion {
                version: v.id,
                created_at: v.created_at,
                commit: commit_of_source(&v.source),
            })
            .collect(),
        params: pipeline
            .params
            .iter()
            .map(|p| ParamInfo {
                name: p.name.clone(),
                param_type: p.param_type.name().to_owned(),
                default: p.default.as_ref().filter(|_| !p.secret).map(param_json),
                secret: p.secret,
                description: p.description.clone(),
            })
            .collect(),
        tasks: pipeline
            .tasks
            .iter()
            .map(|t| TaskInfo {
                name: t.name.clone(),
                needs: t.needs.clone(),
                trigger_rule: t.trigger.name().to_owned(),
                retries: t.retry.retries,
                timeout_secs: t.timeout.map(|d| d.as_secs()),
                pool: t.pool.clone(),
            })
            .collect(),
        diagnostics: Vec::new(),
        next_run_at,
    }
}

/// The commit a GitOps version was recorded from: its source is its file inside the commit's
/// read-only tree, `<home>/git/trees/<commit id>/...`. Folder versions have none.
fn commit_of_source(source: &str) -> Option<String> {
    let parts: Vec<&std::ffi::OsStr> = std::path::Path::new(source)
        .components()
        .map(|part| part.as_os_str())
        .collect();
    parts.windows(3).rev().find_map(|window| {
        let id = window[2].to_str()?;
        let is_commit = id.len() == 40 && id.bytes().all(|byte| byte.is_ascii_hexdigit());
        (window[0] == "git" && window[1] == "trees" && is_commit).then(|| id.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use aqueduct_core::TaskState;
    use aqueduct_store::{RunRecord, RunType, TaskAttemptRecord, TaskInstanceRecord};
    use jiff::Timestamp;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("timestamp")
    }

    #[test]
    fn each_task_lists_its_own_attempts_and_a_retried_one_failed() {
        let run = RunRecord {
            id: "manual__1".into(),
            pipeline: "etl".into(),
            version_id: 1,
            run_type: RunType::Manual,
            state: aqueduct_core::RunState::Running,
            logical_date: at(0),
            data_interval_start: at(0),
            data_interval_end: at(0),
            run_after: at(0),
            params_json: "{}".into(),
            created_at: at(0),
            started_at: Some(at(1)),
            ended_at: None,
            backfill_id: None,
            source_dir: None,
        };
        let instance = TaskInstanceRecord {
            pipeline: "etl".into(),
            run_id: "manual__1".into(),
            task: "load".into(),
            state: TaskState::Running,
            attempts: 2,
            exit_code: None,
            outcome: None,
            pid: Some(7),
            started_at: Some(at(20)),
            ended_at: None,
            retry_at: None,
            outputs_json: "{}".into(),
        };
        let attempt = |task: &str, attempt, state, start, end: Option<i64>| TaskAttemptRecord {
            pipeline: "etl".into(),
            run_id: "manual__1".into(),
            task: task.into(),
            attempt,
            state,
            exit_code: end.map(|_| 1),
            outcome: None,
            started_at: at(start),
            ended_at: end.map(at),
        };
        let attempts = [
            attempt("extract", 1, TaskState::Success, 1, Some(5)),
            attempt("load", 1, TaskState::UpForRetry, 6, Some(9)),
            attempt("load", 2, TaskState::Running, 20, None),
        ];
        let order = ["extract".to_owned(), "load".to_owned()];
        let detail = super::run_detail(&run, &[instance], &attempts, &order);
        let extract = &detail.tasks[0].attempt_history;
        assert_eq!(
            extract.len(),
            1,
            "a task without an instance still has its attempts"
        );
        let load: Vec<_> = detail.tasks[1]
            .attempt_history
            .iter()
            .map(|attempt| (attempt.attempt, attempt.state, attempt.duration_ms))
            .collect();
        use aqueduct_api::dto::TaskState as Shown;
        assert_eq!(
            load,
            [(1, Shown::Failed, Some(3_000)), (2, Shown::Running, None)]
        );
    }

    #[test]
    fn a_version_s_commit_comes_from_its_tree_path() {
        let id = "38790e6587534c87d1a158ad661c58f8bf18656d";
        let source = format!("/srv/trees/home/git/trees/{id}/pipelines/a.yaml");
        assert_eq!(super::commit_of_source(&source).as_deref(), Some(id));
        assert_eq!(super::commit_of_source("/srv/pipelines/a.yaml"), None);
        assert_eq!(super::commit_of_source("/h/git/trees/abc/a.yaml"), None);
    }
}
