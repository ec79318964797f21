//! `sync_status` and `conditions`: per pipeline, per app, with reasons.

use super::*;

fn pipeline(report: &SyncReport, name: &str) -> (SyncCode, String) {
    let status = &report.pipelines[name];
    (status.code, status.reason.clone())
}

fn out_of_sync(reason: &str) -> (SyncCode, String) {
    (SyncCode::OutOfSync, reason.to_owned())
}

#[test]
fn matching_commit_and_hashes_are_synced() {
    let want = desired("a", &[("etl", "h1")]);
    let report = sync_status(&fetched(&want), &live(Some("a"), &[("etl", "h1")]));
    assert_eq!(report.app.code, SyncCode::Synced);
    assert_eq!(report.app.reason, "synced to commit a");
    let synced = (SyncCode::Synced, "matches commit a".to_owned());
    assert_eq!(pipeline(&report, "etl"), synced);
}

#[test]
fn an_unavailable_source_is_unknown_everywhere() {
    let report = sync_status(&unavailable(), &live(Some("a"), &[("etl", "h1")]));
    let reason = "the source is unavailable: failed to fetch origin: connection refused";
    assert_eq!(report.app.code, SyncCode::Unknown);
    assert_eq!(report.app.reason, reason);
    assert_eq!(
        pipeline(&report, "etl"),
        (SyncCode::Unknown, reason.to_owned())
    );
}

#[test]
fn each_pipeline_says_why_it_is_out_of_sync() {
    let want = desired(
        "b",
        &[("added", "h1"), ("edited", "h2-new"), ("live", "h3")],
    );
    let mut now = live(
        Some("a"),
        &[("edited", "h2"), ("live", "h3-api"), ("deleted", "h4")],
    );
    now.pipelines.get_mut("live").unwrap().changed_live = true;
    let report = sync_status(&fetched(&want), &now);
    let expected = [
        ("added", "declared in commit b, not live"),
        ("deleted", "deleted from git in commit b; requires pruning"),
        ("edited", "changed in commit b"),
        ("live", "changed live through the API"),
    ];
    for (name, reason) in expected {
        assert_eq!(pipeline(&report, name), out_of_sync(reason), "{name}");
    }
}

#[test]
fn a_new_commit_is_out_of_sync_even_when_every_definition_matches() {
    // The commit may change scripts the tasks run, so the app must move to it.
    let want = desired("b", &[("etl", "h1")]);
    let report = sync_status(&fetched(&want), &live(Some("a"), &[("etl", "h1")]));
    assert_eq!(
        report.app,
        status(SyncCode::OutOfSync, "commit b is not applied (live: a)")
    );
    assert_eq!(pipeline(&report, "etl").0, SyncCode::Synced);
}

fn status(code: SyncCode, reason: &str) -> SyncStatus {
    let reason = reason.to_owned();
    SyncStatus { code, reason }
}

#[test]
fn a_never_synced_app_is_out_of_sync() {
    let want = desired("a", &[("etl", "h1")]);
    let report = sync_status(&fetched(&want), &LiveState::default());
    let expected = status(SyncCode::OutOfSync, "commit a has never been synced");
    assert_eq!(report.app, expected);
}

#[test]
fn drift_at_the_applied_commit_lists_the_pipelines() {
    let want = desired("a", &[("etl", "h1"), ("hello", "h2")]);
    let mut now = live(Some("a"), &[("etl", "h1-api"), ("hello", "h2-other")]);
    now.pipelines.get_mut("etl").unwrap().changed_live = true;
    let report = sync_status(&fetched(&want), &now);
    let reason = "2 out of sync: etl (changed live through the API), \
                  hello (differs from commit a)";
    assert_eq!(report.app, status(SyncCode::OutOfSync, reason));
}

#[test]
fn a_long_list_of_pipelines_is_cut_after_five() {
    let names = ["a", "b", "c", "d", "e", "f", "g"];
    let declared: Vec<(&str, &str)> = names.iter().map(|n| (*n, "new")).collect();
    let running: Vec<(&str, &str)> = names.iter().map(|n| (*n, "old")).collect();
    let report = sync_status(
        &fetched(&desired("x", &declared)),
        &live(Some("x"), &running),
    );
    assert!(
        report
            .app
            .reason
            .starts_with("7 out of sync: a (differs from commit x), ")
    );
    assert!(
        report
            .app
            .reason
            .ends_with("e (differs from commit x) and 2 more")
    );
}

#[test]
fn pausing_is_not_drift() {
    let want = desired("a", &[("etl", "h1")]);
    let mut now = live(Some("a"), &[("etl", "h1")]);
    now.pipelines.get_mut("etl").unwrap().paused = true;
    let report = sync_status(&fetched(&want), &now);
    assert_eq!(report.app.code, SyncCode::Synced);
}

#[test]
fn an_invalid_commit_is_out_of_sync_with_a_sync_failed_condition() {
    let want = invalid("b", &[("hello", "h2")]);
    let now = live(Some("a"), &[("etl", "h1"), ("hello", "h2")]);
    let source = fetched(&want);
    let report = sync_status(&source, &now);
    let reason = "commit b failed validation with 2 diagnostics; the app stays on commit a";
    assert_eq!(report.app, status(SyncCode::OutOfSync, reason));
    let unknown = "not declared by commit b, which failed validation";
    assert_eq!(
        pipeline(&report, "etl"),
        (SyncCode::Unknown, unknown.to_owned())
    );

    let found = conditions(&source, &now);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, ConditionKind::SyncFailed);
    assert_eq!(found[0].message, reason);
    let listed: Vec<String> = found[0]
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        listed,
        [
            "pipelines/etl.yaml:7:5: unknown_field: unknown field `comand`",
            "pipelines/etl.yaml:12:3: unknown_field: unknown field `neds`",
        ]
    );
}

#[test]
fn a_failed_attempt_counts_until_git_moves_on() {
    let failed = SyncAttempt {
        commit: commit("b"),
        failure: Some(SyncFailure::Apply {
            message: "database is locked".to_owned(),
        }),
    };
    let mut now = live(Some("a"), &[("etl", "h1")]);
    now.last_attempt = Some(failed);
    let at_b = fetched(&desired("b", &[("etl", "h2")]));
    let reason = "commit b failed to apply: database is locked; the app stays on commit a";
    assert_eq!(
        sync_status(&at_b, &now).app,
        status(SyncCode::OutOfSync, reason)
    );
    assert_eq!(conditions(&at_b, &now)[0].message, reason);
    assert!(conditions(&at_b, &now)[0].diagnostics.is_empty());

    // A newer commit supersedes the failure: no condition, a plain "not applied".
    let at_c = fetched(&desired("c", &[("etl", "h3")]));
    assert!(conditions(&at_c, &now).is_empty());
    let reason = "commit c is not applied (live: a)";
    assert_eq!(sync_status(&at_c, &now).app.reason, reason);

    // While the source is unavailable, nothing proves it superseded: it stays.
    let kinds: Vec<ConditionKind> = conditions(&unavailable(), &now)
        .iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds,
        [ConditionKind::ComparisonError, ConditionKind::SyncFailed]
    );
}

#[test]
fn a_successful_attempt_leaves_no_condition() {
    let mut now = live(Some("a"), &[("etl", "h1")]);
    now.last_attempt = Some(SyncAttempt {
        commit: commit("a"),
        failure: None,
    });
    assert!(conditions(&fetched(&desired("a", &[("etl", "h1")])), &now).is_empty());
    let unreadable = conditions(&unavailable(), &now);
    assert_eq!(unreadable.len(), 1);
    let message = "failed to read the source: failed to fetch origin: connection refused";
    assert_eq!(unreadable[0].message, message);
}
