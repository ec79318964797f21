//! `health`: each pipeline rule, Argo CD's order, and the roll-up to the app.

use super::*;

fn pipeline(edit: impl FnOnce(&mut LivePipeline)) -> HealthStatus {
    let mut live = LivePipeline::at("h1");
    edit(&mut live);
    pipeline_health(&live)
}

fn expect(code: HealthCode, reason: &str) -> HealthStatus {
    let reason = reason.to_owned();
    HealthStatus { code, reason }
}

#[test]
fn codes_are_ordered_best_to_worst_as_argo_cd_orders_them() {
    use HealthCode::*;
    let mut codes = [Unknown, Degraded, Missing, Progressing, Suspended, Healthy];
    codes.sort();
    assert_eq!(
        codes,
        [Healthy, Suspended, Progressing, Missing, Degraded, Unknown]
    );
    assert_eq!(Missing.as_str(), "Missing");
}

#[test]
fn a_pipeline_without_runs_is_healthy() {
    assert_eq!(pipeline(|_| {}), expect(HealthCode::Healthy, "no runs yet"));
}

#[test]
fn the_last_finished_run_decides_when_nothing_is_active() {
    let cases = [
        (
            RunState::Success,
            expect(HealthCode::Healthy, "last run r1 succeeded"),
        ),
        (
            RunState::Cancelled,
            expect(HealthCode::Healthy, "last run r1 was cancelled"),
        ),
        (
            RunState::Failed,
            expect(HealthCode::Degraded, "last run r1 failed"),
        ),
        (
            RunState::Running,
            expect(HealthCode::Progressing, "run r1 is running"),
        ),
    ];
    for (state, expected) in cases {
        let found = pipeline(|p| p.last_finished = run("r1", state));
        assert_eq!(found, expected, "{state:?}");
    }
}

#[test]
fn an_active_run_is_progressing_even_after_a_failure() {
    let found = pipeline(|p| {
        p.active_runs = 2;
        p.last_finished = run("r1", RunState::Failed);
    });
    let reason = "2 runs active; last run r1 failed";
    assert_eq!(found, expect(HealthCode::Progressing, reason));
}

#[test]
fn a_paused_pipeline_is_suspended_whatever_its_runs() {
    assert_eq!(
        pipeline(|p| p.paused = true),
        expect(HealthCode::Suspended, "paused")
    );
    let found = pipeline(|p| {
        p.paused = true;
        p.active_runs = 1;
        p.last_finished = run("r1", RunState::Failed);
    });
    let reason = "paused; 1 run still active; last run r1 failed";
    assert_eq!(found, expect(HealthCode::Suspended, reason));
}

#[test]
fn a_declared_pipeline_that_is_not_live_is_missing() {
    let want = desired("b", &[("etl", "h1"), ("new", "h2")]);
    let report = health(&fetched(&want), &live(Some("a"), &[("etl", "h1")]));
    let missing = expect(HealthCode::Missing, "declared in commit b, not live");
    assert_eq!(report.pipelines["new"], missing);
    assert_eq!(
        report.app,
        expect(HealthCode::Missing, "new: declared in commit b, not live")
    );
}

#[test]
fn the_app_takes_its_worst_pipeline_and_counts_the_rest() {
    let want = desired("a", &[("a", "h"), ("b", "h"), ("c", "h"), ("d", "h")]);
    let mut now = live(Some("a"), &[("a", "h"), ("b", "h"), ("c", "h"), ("d", "h")]);
    now.pipelines.get_mut("b").unwrap().paused = true;
    now.pipelines.get_mut("c").unwrap().last_finished = run("r7", RunState::Failed);
    now.pipelines.get_mut("d").unwrap().last_finished = run("r8", RunState::Failed);
    let report = health(&fetched(&want), &now);
    let reason = "c: last run r7 failed (and 1 more)";
    assert_eq!(report.app, expect(HealthCode::Degraded, reason));
}

#[test]
fn an_app_of_paused_pipelines_is_suspended() {
    let want = desired("a", &[("etl", "h1")]);
    let mut now = live(Some("a"), &[("etl", "h1")]);
    now.pipelines.get_mut("etl").unwrap().paused = true;
    let report = health(&fetched(&want), &now);
    assert_eq!(report.app, expect(HealthCode::Suspended, "etl: paused"));
}

#[test]
fn a_healthy_app_counts_its_pipelines() {
    let want = desired("a", &[("etl", "h1"), ("hello", "h2")]);
    let report = health(
        &fetched(&want),
        &live(Some("a"), &[("etl", "h1"), ("hello", "h2")]),
    );
    assert_eq!(
        report.app,
        expect(HealthCode::Healthy, "2 pipelines healthy")
    );
    let empty = health(&fetched(&desired("a", &[])), &LiveState::default());
    assert_eq!(empty.app, expect(HealthCode::Healthy, "no pipelines"));
}

#[test]
fn a_failed_sync_makes_the_app_degraded() {
    let want = invalid("b", &[("etl", "h1")]);
    let report = health(&fetched(&want), &live(Some("a"), &[("etl", "h1")]));
    let reason = "sync failed: commit b failed validation with 2 diagnostics; \
                  the app stays on commit a";
    assert_eq!(report.app, expect(HealthCode::Degraded, reason));
    // The pipeline itself is fine: it keeps running the last good commit.
    assert_eq!(report.pipelines["etl"].code, HealthCode::Healthy);
}

#[test]
fn an_unavailable_source_keeps_live_health_or_is_unknown_when_nothing_runs() {
    let report = health(&unavailable(), &live(Some("a"), &[("etl", "h1")]));
    assert_eq!(
        report.app,
        expect(HealthCode::Healthy, "1 pipeline healthy")
    );
    let nothing = health(&unavailable(), &LiveState::default());
    let reason = "nothing is live and the source is unavailable: \
                  failed to fetch origin: connection refused";
    assert_eq!(nothing.app, expect(HealthCode::Unknown, reason));
}
