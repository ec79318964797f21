//! The text of `aqueduct app ...`, from API documents in the shape `aqueduct-api` serializes.

use serde_json::{Value, json};

use super::*;
use crate::client::wire;

fn parse<T: serde::de::DeserializeOwned>(document: Value) -> T {
    wire::parse(&document).expect("a document of the apps API")
}

fn commit(number: u32) -> Value {
    json!({
        "id": format!("c{number}{}", "0".repeat(38)),
        "short": format!("c{number}00000"),
        "message": format!("change number {number}"),
        "author": "Ada <ada@example.com>",
        "committed_at": format!("2026-03-0{number}T10:00:00Z"),
    })
}

fn status(status: &str, reason: &str) -> Value {
    json!({ "status": status, "reason": reason })
}

fn invalid() -> Value {
    json!({
        "kind": "invalid",
        "message": "failed validation with 1 diagnostic",
        "diagnostics": [{
            "code": "unknown_field", "message": "unknown field `shedule`",
            "file": "pipelines/etl.yaml", "line": 7, "column": 3, "hint": null,
        }],
        "pipelines": [],
    })
}

fn record(result: &str, failure: Value, rollback_of: Value) -> Value {
    json!({
        "id": 4, "app": "prod", "revision": "main",
        "commit": commit(3)["id"], "message": "change number 3", "author": "Ada",
        "committed_at": "2026-03-03T10:00:00Z", "initiator": "token:0123456789abcdef",
        "result": result, "started_at": "2026-03-05T09:00:00Z", "ended_at": "2026-03-05T09:00:01Z",
        "detail": if result == "succeeded" { "1 updated" } else { "commit c300000 failed validation with 1 diagnostic" },
        "changes": [], "failure": failure, "rollback_of": rollback_of,
    })
}

#[test]
fn diff_prints_each_pipeline_and_each_field() {
    let diff: AppDiff = parse(json!({
        "app": "prod", "revision": "feature", "commit": commit(4),
        "live_commit": commit(2)["id"], "unchanged": 3,
        "pipelines": [
            { "name": "daily_etl", "change": "changed", "fields": [
                { "path": "spec.schedule", "old": "0 6 * * *", "new": "0 7 * * *" },
                { "path": "spec.tasks[load].retries", "old": null, "new": "3" },
                { "path": "metadata.labels.team", "old": "data", "new": null },
            ]},
            { "name": "new_report", "change": "added", "fields": [] },
            { "name": "hourly_report", "change": "removed", "fields": [] },
        ],
    }));
    let expected = "\
app prod: live c200000 vs feature (c400000)
~ daily_etl
    ~ spec.schedule: 0 6 * * * -> 0 7 * * *
    + spec.tasks[load].retries: 3
    - metadata.labels.team: data
+ new_report
- hourly_report
3 differ, 3 unchanged";
    assert_eq!(super::diff(&diff), expected);
}

#[test]
fn a_blocked_plan_lists_every_diagnostic() {
    let plan: AppPlan = parse(json!({
        "app": "prod", "revision": "broken", "commit": commit(5), "live_commit": null,
        "changes": [], "unchanged": 2, "blocked": invalid(),
    }));
    let expected = "\
plan: sync app prod to broken (c500000 change number 5 (Ada <ada@example.com>, 2026-03-05T10:00:00Z)) from never synced
0 to change, 2 unchanged
blocked: the commit failed validation with 1 diagnostic; nothing would be applied
  pipelines/etl.yaml:7:3: unknown_field: unknown field `shedule`";
    assert_eq!(super::plan(&plan), expected);
}

#[test]
fn a_plan_shows_actions_fields_and_moving_schedules() {
    let plan: AppPlan = parse(json!({
        "app": "prod", "revision": "main", "commit": commit(3), "live_commit": commit(2)["id"],
        "unchanged": 0, "blocked": null,
        "changes": [
            { "name": "daily_etl", "action": "update", "reverts_live_change": true,
              "fields": [{ "path": "spec.schedule", "old": "0 6 * * *", "new": "0 7 * * *" }],
              "next_run": { "from": "2026-03-06T06:00:00Z", "to": "2026-03-06T07:00:00Z" } },
            { "name": "old", "action": "requires_pruning", "reverts_live_change": false,
              "fields": [], "next_run": null },
        ],
    }));
    let text = super::plan(&plan);
    assert!(text.contains("~ daily_etl (update, reverts a live change)\n    ~ spec.schedule: 0 6 * * * -> 0 7 * * *\n    next run: 2026-03-06T06:00:00Z -> 2026-03-06T07:00:00Z\n"), "{text}");
    assert!(
        text.contains("! old (deleted from git, kept: prune is off)"),
        "{text}"
    );
    assert!(
        text.ends_with("2 to change, 0 unchanged\nthe sync could be applied"),
        "{text}"
    );
}

#[test]
fn a_failed_sync_says_why() {
    let failed: SyncRecord = parse(record("failed", invalid(), Value::Null));
    assert!(!failed.succeeded());
    let expected = "\
sync of app prod to main: commit c300000 change number 3 (Ada)
sync 4 failed: commit c300000 failed validation with 1 diagnostic
  pipelines/etl.yaml:7:3: unknown_field: unknown field `shedule`";
    assert_eq!(super::record(&failed), expected);
}

#[test]
fn rollback_says_automated_sync_is_off() {
    let result: RollbackResult = parse(json!({
        "sync": record("succeeded", Value::Null, json!(2)),
        "automated": false,
        "message": "anything",
    }));
    let expected = "\
rollback of app prod to sync 2: commit c300000 change number 3 (Ada)
sync 4 applied: 1 updated
automated sync of app prod is now off until re-enabled";
    assert_eq!(super::rollback(&result), expected);
}

#[test]
fn list_and_detail_show_sync_health_and_reasons() {
    assert_eq!(super::list(&[]), "no apps");
    let apps: Vec<AppSummary> = parse(json!([{
        "name": "prod",
        "source": { "repo_url": "https://example.com/p.git", "revision": "main", "path": "." },
        "automated": true, "applied_commit": commit(2)["id"], "pipeline_count": 2,
        "sync": status("OutOfSync", "commit c300000 is not applied (live: c200000)"),
        "health": status("Healthy", "2 pipelines healthy"),
    }]));
    let table = super::list(&apps);
    for shown in [
        "prod",
        "OutOfSync",
        "Healthy",
        "c200000",
        "auto",
        "is not applied",
    ] {
        assert!(table.contains(shown), "{shown} in {table}");
    }
    let detail: AppDetail = parse(json!({
        "name": "prod",
        "source": { "repo_url": "https://example.com/p.git", "revision": "main", "path": "." },
        "policy": { "automated": true, "prune": true, "self_heal": false, "allow_empty": false },
        "applied_commit": commit(2), "latest_commit": commit(3), "fetched_at": null,
        "sync": status("OutOfSync", "commit c300000 failed validation with 1 diagnostic"),
        "health": status("Degraded", "sync failed"),
        "conditions": [{ "type": "SyncFailed", "message": "commit c300000 failed validation",
                         "diagnostics": invalid()["diagnostics"] }],
        "pipelines": [{ "name": "daily_etl", "sync": status("Unknown", "not declared"),
                        "health": status("Healthy", "no runs yet") }],
    }));
    let text = super::detail(&detail);
    let expected_start = "\
app: prod
source: https://example.com/p.git (path .)
revision: main
policy: automated (prune)
sync: OutOfSync (commit c300000 failed validation with 1 diagnostic)
health: Degraded (sync failed)
applied: c200000 change number 2 (Ada <ada@example.com>, 2026-03-02T10:00:00Z)
latest: c300000 change number 3 (Ada <ada@example.com>, 2026-03-03T10:00:00Z)
condition SyncFailed: commit c300000 failed validation
  pipelines/etl.yaml:7:3: unknown_field: unknown field `shedule`
";
    assert!(text.starts_with(expected_start), "{text}");
    assert!(text.contains("not declared; no runs yet"), "{text}");
}
