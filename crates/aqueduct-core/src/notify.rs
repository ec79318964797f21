//! Notifications (`spec.notifications`): which state changes alert which sink, and the rule
//! that keeps one incident to one alert. Pure: the runtime writes what [`alert_for`] decides
//! into the store's outbox in the transaction of the change, and a sender delivers it.

use crate::trigger::TriggerRule;
use crate::{Pipeline, RunState, TaskIndex, TaskState};

/// What a notification is sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotifyOn {
    /// A task failed with no retry left: the root of an incident. Tasks it blocks
    /// (`upstream_failed`) do not alert; the alert names them.
    Failure,
    /// An attempt failed and another one will start.
    Retry,
    /// A run succeeded.
    Success,
    /// A task succeeded (Airflow's task-level `on_success_callback`).
    TaskSuccess,
    /// A run, or a task, was still unfinished at its deadline (`spec.deadline`,
    /// `tasks[].deadline`); sent once per run (and task).
    SlaMiss,
    /// A sync of a GitOps app was refused (an invalid commit, a prune of everything): the app
    /// stays on its last good commit. An app event: declared for an app or the server.
    SyncFailed,
    /// A sync of a GitOps app was applied. An app event.
    SyncSucceeded,
    /// A GitOps app's health became `Degraded` (a pipeline's last run failed, a sync failed).
    /// An app event.
    HealthDegraded,
}

impl NotifyOn {
    /// Every event, in the order they are documented.
    pub const ALL: [NotifyOn; 8] = [
        NotifyOn::Failure,
        NotifyOn::Retry,
        NotifyOn::Success,
        NotifyOn::TaskSuccess,
        NotifyOn::SlaMiss,
        NotifyOn::SyncFailed,
        NotifyOn::SyncSucceeded,
        NotifyOn::HealthDegraded,
    ];

    /// The name used in pipeline files and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOn::Failure => "failure",
            NotifyOn::Retry => "retry",
            NotifyOn::Success => "success",
            NotifyOn::TaskSuccess => "task_success",
            NotifyOn::SlaMiss => "sla_miss",
            NotifyOn::SyncFailed => "sync_failed",
            NotifyOn::SyncSucceeded => "sync_succeeded",
            NotifyOn::HealthDegraded => "health_degraded",
        }
    }

    /// Whether the event is about a GitOps app rather than a pipeline's runs: such events are
    /// declared in the app's or the server's notifications, not in a pipeline file.
    pub fn is_app_event(self) -> bool {
        matches!(
            self,
            NotifyOn::SyncFailed | NotifyOn::SyncSucceeded | NotifyOn::HealthDegraded
        )
    }

    pub fn parse(text: &str) -> Option<NotifyOn> {
        NotifyOn::ALL.into_iter().find(|on| on.as_str() == text)
    }
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sink {
    /// A JSON `POST` to `url`, signed with HMAC-SHA256 when `secret_env` names the variable
    /// holding the key.
    Webhook {
        url: String,
        secret_env: Option<String>,
    },
    /// A Slack incoming webhook; its URL is a secret, so only the variable holding it is named.
    Slack { url_env: String },
    /// An e-mail to every address of `to` (one message), through the server's SMTP relay.
    Email {
        to: Vec<String>,
        /// Subject template (minijinja, the run's context); `None`: the default subject.
        subject: Option<String>,
    },
}

impl Sink {
    /// The identity of the sink: notifications to one sink are delivered in order, and one
    /// circuit breaker guards it. Shown by the API and in logs, so it names no secret: a
    /// webhook URL loses its credentials and its query, where tokens hide.
    pub fn key(&self) -> String {
        match self {
            Sink::Webhook { url, .. } => format!("webhook {}", redacted_url(url)),
            Sink::Slack { url_env } => format!("slack ${url_env}"),
            Sink::Email { to, .. } => format!("email {}", to.join(",")),
        }
    }
}

/// `url` without `user:password@`, query and fragment.
fn redacted_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

/// One entry of `spec.notifications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSpec {
    pub on: Vec<NotifyOn>,
    pub sink: Sink,
    /// Message template (minijinja, the run's context); `None`: the default text.
    pub message: Option<String>,
}

/// An alert decided for a state change, before it is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub on: NotifyOn,
    /// The task it is about (`None` for a run's success).
    pub task: Option<TaskIndex>,
    /// Tasks the failure blocks (downstream tasks whose trigger rule needs it to succeed),
    /// in topological order.
    pub blocked: Vec<TaskIndex>,
}

/// The alert a task's new state raises, if any: `failed` is the root of an incident,
/// `up_for_retry` a retry, `success` a task success; `upstream_failed` never alerts (its root
/// already did).
pub fn alert_for_task(pipeline: &Pipeline, task: TaskIndex, state: TaskState) -> Option<Alert> {
    let on = match state {
        TaskState::Failed => NotifyOn::Failure,
        TaskState::UpForRetry => NotifyOn::Retry,
        TaskState::Success => NotifyOn::TaskSuccess,
        _ => return None,
    };
    let blocked = match on {
        NotifyOn::Failure => blocked_by(pipeline, task),
        _ => Vec::new(),
    };
    Some(Alert {
        on,
        task: Some(task),
        blocked,
    })
}

/// What a run's deadline counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineFrom {
    /// When the run became due (Airflow 3's `run_after`: a scheduled run's interval end, a
    /// manual run's trigger time).
    RunAfter,
    /// The run's logical date (`ds`).
    LogicalDate,
}

/// When a run must have finished (`spec.deadline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineSpec {
    /// A duration after `from`.
    Within {
        from: DeadlineFrom,
        within: std::time::Duration,
    },
    /// The first `hour:minute` in the pipeline's time zone after the run's logical date
    /// ("by 06:00 Asia/Seoul").
    By { hour: i8, minute: i8 },
}

/// The instant `spec` puts the deadline of a run at; `None` if it cannot be represented.
pub fn deadline_of(
    spec: DeadlineSpec,
    timezone: &str,
    logical_date: jiff::Timestamp,
    run_after: jiff::Timestamp,
) -> Option<jiff::Timestamp> {
    match spec {
        DeadlineSpec::Within { from, within } => {
            let start = match from {
                DeadlineFrom::RunAfter => run_after,
                DeadlineFrom::LogicalDate => logical_date,
            };
            start
                .checked_add(jiff::SignedDuration::try_from(within).ok()?)
                .ok()
        }
        DeadlineSpec::By { hour, minute } => {
            let zone = jiff::tz::TimeZone::get(timezone).ok()?;
            let logical = logical_date.to_zoned(zone.clone());
            let time = jiff::civil::time(hour, minute, 0, 0);
            let mut day = logical.date();
            loop {
                let at = day.to_datetime(time).to_zoned(zone.clone()).ok()?;
                if at.timestamp() > logical_date {
                    return Some(at.timestamp());
                }
                day = day.tomorrow().ok()?;
            }
        }
    }
}

/// The alert of a run (`task: None`) or a task still unfinished at its deadline.
pub fn alert_for_deadline(task: Option<TaskIndex>) -> Alert {
    Alert {
        on: NotifyOn::SlaMiss,
        task,
        blocked: Vec::new(),
    }
}

/// The alert a run's new state raises, if any. A failed run does not alert by itself: the
/// task failure that caused it did.
pub fn alert_for_run(state: RunState) -> Option<Alert> {
    (state == RunState::Success).then_some(Alert {
        on: NotifyOn::Success,
        task: None,
        blocked: Vec::new(),
    })
}

/// The tasks a failure of `task` keeps from running: downstream tasks whose trigger rule
/// needs every upstream to succeed (or none to fail), transitively through blocked tasks.
pub fn blocked_by(pipeline: &Pipeline, task: TaskIndex) -> Vec<TaskIndex> {
    let dag = &pipeline.dag;
    let mut blocked = vec![false; dag.len()];
    blocked[task] = true;
    let mut out = Vec::new();
    for &next in dag.topo_order() {
        if next == task || !needs_success(pipeline.tasks[next].trigger) {
            continue;
        }
        if dag.upstream(next).iter().any(|&up| blocked[up]) {
            blocked[next] = true;
            out.push(next);
        }
    }
    out
}

fn needs_success(rule: TriggerRule) -> bool {
    matches!(
        rule,
        TriggerRule::AllSuccess | TriggerRule::NoneFailed | TriggerRule::NoneFailedMinOneSuccess
    )
}

/// The notifications an event `on` goes to, from `layers` in order (a pipeline's own, then
/// its app's, then the server's defaults): every entry listening for it, each sink once (the
/// first layer naming a sink decides its message).
pub fn targets<'a>(layers: &[&'a [NotificationSpec]], on: NotifyOn) -> Vec<&'a NotificationSpec> {
    let mut chosen: Vec<&NotificationSpec> = Vec::new();
    let listening = layers
        .iter()
        .flat_map(|layer| layer.iter())
        .filter(|spec| spec.on.contains(&on));
    for spec in listening {
        if !chosen.iter().any(|seen| seen.sink == spec.sink) {
            chosen.push(spec);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dag, Task};

    fn pipeline(tasks: &[(&str, &[&str], TriggerRule)]) -> Pipeline {
        let names: Vec<&str> = tasks.iter().map(|t| t.0).collect();
        let needs: Vec<Vec<&str>> = tasks.iter().map(|t| t.1.to_vec()).collect();
        let mut pipeline = Pipeline::new("p");
        pipeline.dag = Dag::build(&names, &needs).unwrap();
        pipeline.tasks = tasks
            .iter()
            .map(|(name, needs, rule)| {
                let mut task = Task::new(*name, "true");
                task.needs = needs.iter().map(|n| (*n).to_owned()).collect();
                task.trigger = *rule;
                task
            })
            .collect();
        pipeline
    }

    #[test]
    fn a_failure_names_what_it_blocks_and_not_what_still_runs() {
        use TriggerRule::*;
        let p = pipeline(&[
            ("extract", &[], AllSuccess),
            ("load", &["extract"], AllSuccess),
            ("report", &["load"], NoneFailed),
            ("cleanup", &["load"], AllDone),
            ("alert", &["extract"], OneFailed),
            ("other", &[], AllSuccess),
        ]);
        let alert = alert_for_task(&p, 0, TaskState::Failed).unwrap();
        assert_eq!(alert.on, NotifyOn::Failure);
        assert_eq!(alert.blocked, [1, 2]);
        assert_eq!(alert_for_task(&p, 1, TaskState::UpstreamFailed), None);
        let retry = alert_for_task(&p, 0, TaskState::UpForRetry).unwrap();
        assert_eq!((retry.on, retry.blocked.len()), (NotifyOn::Retry, 0));
        let success = alert_for_task(&p, 0, TaskState::Success).unwrap();
        assert_eq!(success.on, NotifyOn::TaskSuccess);
        assert_eq!(alert_for_task(&p, 0, TaskState::Skipped), None);
    }

    #[test]
    fn deadlines_count_from_the_run_or_fall_on_a_time_of_day() {
        use jiff::Timestamp;
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        let within = DeadlineSpec::Within {
            from: DeadlineFrom::RunAfter,
            within: std::time::Duration::from_secs(1800),
        };
        let logical = at("2026-03-01T00:00:00Z");
        let due = at("2026-03-02T00:00:00Z");
        assert_eq!(
            deadline_of(within, "UTC", logical, due),
            Some(at("2026-03-02T00:30:00Z"))
        );
        let from_logical = DeadlineSpec::Within {
            from: DeadlineFrom::LogicalDate,
            within: std::time::Duration::from_secs(3600),
        };
        assert_eq!(
            deadline_of(from_logical, "UTC", logical, due),
            Some(at("2026-03-01T01:00:00Z"))
        );
        // 06:00 in Seoul (UTC+9) after a logical date of midnight Seoul: 21:00 UTC the day before
        let by = DeadlineSpec::By { hour: 6, minute: 0 };
        let seoul_midnight = at("2026-02-28T15:00:00Z");
        assert_eq!(
            deadline_of(by, "Asia/Seoul", seoul_midnight, due),
            Some(at("2026-02-28T21:00:00Z"))
        );
        // a logical date after 06:00 has its deadline the next morning
        let seoul_noon = at("2026-03-01T03:00:00Z");
        assert_eq!(
            deadline_of(by, "Asia/Seoul", seoul_noon, due),
            Some(at("2026-03-01T21:00:00Z"))
        );
        assert_eq!(deadline_of(by, "Nowhere/City", seoul_noon, due), None);
    }

    #[test]
    fn only_a_runs_success_alerts_by_itself() {
        assert_eq!(
            alert_for_run(RunState::Success).unwrap().on,
            NotifyOn::Success
        );
        assert_eq!(alert_for_run(RunState::Failed), None);
        assert_eq!(alert_for_run(RunState::Running), None);
    }

    #[test]
    fn targets_are_the_notifications_listening_for_the_event() {
        let mut p = pipeline(&[("a", &[], TriggerRule::AllSuccess)]);
        let sink = |url: &str| Sink::Webhook {
            url: url.to_owned(),
            secret_env: None,
        };
        p.notifications = vec![
            NotificationSpec {
                on: vec![NotifyOn::Failure, NotifyOn::Retry],
                sink: sink("http://a"),
                message: None,
            },
            NotificationSpec {
                on: vec![NotifyOn::Success],
                sink: sink("http://b"),
                message: None,
            },
        ];
        let alert = alert_for_task(&p, 0, TaskState::Failed).unwrap();
        let keys = |layers: &[&[NotificationSpec]]| -> Vec<String> {
            let chosen = targets(layers, alert.on);
            chosen.iter().map(|spec| spec.sink.key()).collect()
        };
        assert_eq!(keys(&[&p.notifications]), ["webhook http://a"]);
        // an app's and the server's defaults add their sinks; a sink named twice alerts once,
        // with the message of the first layer naming it
        let defaults = vec![
            NotificationSpec {
                on: vec![NotifyOn::Failure],
                sink: sink("http://a"),
                message: Some("from the app".into()),
            },
            NotificationSpec {
                on: vec![NotifyOn::Failure],
                sink: sink("http://c"),
                message: None,
            },
        ];
        assert_eq!(
            keys(&[&p.notifications, &defaults, &[]]),
            ["webhook http://a", "webhook http://c"]
        );
        assert_eq!(
            targets(&[&p.notifications, &defaults], NotifyOn::Failure)[0].message,
            None
        );
        assert!(targets(&[&defaults], NotifyOn::Success).is_empty());
        let slack = Sink::Slack {
            url_env: "SLACK_URL".into(),
        };
        assert_eq!(slack.key(), "slack $SLACK_URL");
        let secret = sink("https://bot:hunter2@hooks.example.com/v1/alert?token=abc#x");
        assert_eq!(secret.key(), "webhook https://hooks.example.com/v1/alert");
        let email = Sink::Email {
            to: vec!["a@x.org".into(), "b@y.org".into()],
            subject: Some("{{ pipeline }} failed".into()),
        };
        assert_eq!(email.key(), "email a@x.org,b@y.org");
    }
}
