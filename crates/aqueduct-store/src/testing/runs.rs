//! Conformance cases: runs (creation, uniqueness, updates, listing, schedule progress) and
//! timestamp precision.

use aqueduct_core::RunState;
use jiff::Timestamp;

use crate::records::{NewBackfill, Page, Reprocess, RunFilter, RunType, RunUpdate};
use crate::testing::{at, create, run_record, version_of};
use crate::{Error, Store};

/// A slot's run exists at most once: the same `(pipeline, id)` again is a Conflict, and the
/// first run is unchanged. The same id in another pipeline is another run.
pub async fn create_run_rejects_a_second_run_of_the_same_slot(store: &impl Store) {
    let etl = version_of(store, "etl").await;
    let load = version_of(store, "load").await;
    let id = "scheduled__2026-01-01T00:00:00+00:00";
    let first = create(store, run_record("etl", id, etl, 1_000)).await;
    assert_eq!(first, run_record("etl", id, etl, 1_000));

    let mut second = run_record("etl", id, etl, 2_000);
    second.params_json = "{}".to_owned();
    assert!(matches!(
        store.create_run(second).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.get_run("etl", id).await.expect("get"), first);

    create(store, run_record("load", id, load, 1_000)).await;
    assert_eq!(
        store.get_run("load", id).await.expect("get load").pipeline,
        "load"
    );
    assert!(matches!(
        store.get_run("etl", "nope").await,
        Err(Error::NotFound(_))
    ));
}

/// A run keeps the folder its tasks run in (a GitOps run's commit tree), read back as written.
pub async fn runs_keep_their_source_folder(store: &impl Store) {
    let etl = version_of(store, "etl").await;
    let mut pinned = run_record("etl", "r1", etl, 1_000);
    pinned.source_dir = Some("/home/git/trees/0123abcd/pipelines".to_owned());
    assert_eq!(create(store, pinned.clone()).await, pinned);
    assert_eq!(store.get_run("etl", "r1").await.expect("get"), pinned);
    let plain = create(store, run_record("etl", "r2", etl, 2_000)).await;
    assert_eq!(plain.source_dir, None);
}

/// A run must name an existing version of its own pipeline.
pub async fn create_run_requires_a_version_of_its_pipeline(store: &impl Store) {
    let load = version_of(store, "load").await;
    version_of(store, "etl").await;
    let unknown = store.create_run(run_record("etl", "r1", 9_999, 10)).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    let foreign = store.create_run(run_record("etl", "r1", load, 10)).await;
    assert!(matches!(foreign, Err(Error::NotFound(_))), "{foreign:?}");
    let (runs, total) = store
        .list_runs(&RunFilter::default(), Page::first(10))
        .await
        .expect("list");
    assert_eq!((runs.len(), total), (0, 0));
}

/// `update_run` writes state and both dates exactly as given, `None` included.
pub async fn update_run_sets_state_and_dates(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let run = create(store, run_record("etl", "r1", version, 100)).await;
    let update = |state, started_at, ended_at| RunUpdate {
        pipeline: "etl".to_owned(),
        run_id: "r1".to_owned(),
        state,
        started_at,
        ended_at,
    };

    let running = store
        .update_run(update(RunState::Running, Some(at(110)), None))
        .await;
    let running = running.expect("running");
    assert_eq!(
        (running.state, running.started_at, running.ended_at),
        (RunState::Running, Some(at(110)), None)
    );
    assert_eq!(running.params_json, run.params_json);

    let done = store
        .update_run(update(RunState::Failed, Some(at(110)), Some(at(120))))
        .await;
    assert_eq!(done.expect("failed").ended_at, Some(at(120)));
    let cleared = store
        .update_run(update(RunState::Queued, None, None))
        .await
        .expect("cleared");
    assert_eq!(
        (cleared.state, cleared.started_at, cleared.ended_at),
        (RunState::Queued, None, None)
    );
    assert_eq!(store.get_run("etl", "r1").await.expect("get"), cleared);

    let mut missing = update(RunState::Running, None, None);
    missing.run_id = "nope".to_owned();
    assert!(matches!(
        store.update_run(missing).await,
        Err(Error::NotFound(_))
    ));
}

/// Newest logical date first, then pipeline ascending, then run id descending; filters narrow
/// the total, pages cut the items.
pub async fn runs_are_listed_newest_first_with_filters_and_totals(store: &impl Store) {
    let etl = version_of(store, "etl").await;
    let load = version_of(store, "load").await;
    for (pipeline, version, id, seconds) in [
        ("etl", etl, "a", 100),
        ("etl", etl, "b", 300),
        ("load", load, "c", 200),
        ("load", load, "d", 300),
        ("etl", etl, "e", 300),
    ] {
        create(store, run_record(pipeline, id, version, seconds)).await;
    }
    let finished = RunUpdate {
        pipeline: "etl".into(),
        run_id: "b".into(),
        state: RunState::Success,
        started_at: None,
        ended_at: None,
    };
    store.update_run(finished).await.expect("finish b");

    let filter = |pipeline: Option<&str>, state| RunFilter {
        pipeline: pipeline.map(str::to_owned),
        state,
    };
    let page = |limit, offset| Page { limit, offset };
    let cases: [(RunFilter, Page, &[&str], u64); 5] = [
        (
            filter(None, None),
            page(100, 0),
            &["e", "b", "d", "c", "a"],
            5,
        ),
        (filter(None, None), page(2, 2), &["d", "c"], 5),
        (filter(Some("etl"), None), page(1, 0), &["e"], 3),
        (
            filter(Some("etl"), Some(RunState::Queued)),
            page(100, 0),
            &["e", "a"],
            2,
        ),
        (
            filter(None, Some(RunState::Success)),
            page(100, 0),
            &["b"],
            1,
        ),
    ];
    for (filter, page, expected, expected_total) in cases {
        let (runs, total) = store.list_runs(&filter, page).await.expect("list");
        let ids: Vec<&str> = runs.iter().map(|run| run.id.as_str()).collect();
        assert_eq!(
            (ids.as_slice(), total),
            (expected, expected_total),
            "{filter:?} {page:?}"
        );
    }
}

/// The scheduler resumes cron from the scheduled run with the greatest logical date.
pub async fn latest_run_of_type_has_the_greatest_logical_date(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let none = store
        .latest_run_of_type("etl", RunType::Scheduled)
        .await
        .expect("empty");
    assert_eq!(none, None);
    for (id, seconds, run_type) in [
        ("s1", 100, RunType::Scheduled),
        ("s3", 300, RunType::Scheduled),
        ("s2", 200, RunType::Scheduled),
        ("m1", 900, RunType::Manual),
        ("b1", 50, RunType::Backfill),
    ] {
        let mut run = run_record("etl", id, version, seconds);
        run.run_type = run_type;
        run.backfill_id = (run_type == RunType::Backfill).then_some(7);
        create(store, run).await;
    }
    let latest = |run_type| store.latest_run_of_type("etl", run_type);
    assert_eq!(
        latest(RunType::Scheduled)
            .await
            .expect("scheduled")
            .map(|run| run.id),
        Some("s3".into())
    );
    assert_eq!(
        latest(RunType::Manual)
            .await
            .expect("manual")
            .map(|run| run.id),
        Some("m1".into())
    );
    let backfill = latest(RunType::Backfill)
        .await
        .expect("backfill")
        .expect("a backfill run");
    assert_eq!(
        (backfill.id.as_str(), backfill.backfill_id),
        ("b1", Some(7))
    );
    assert_eq!(
        store
            .latest_run_of_type("other", RunType::Scheduled)
            .await
            .expect("other"),
        None
    );
}

/// At startup the scheduler reads, in one query, where each pipeline's cron schedule stopped.
pub async fn latest_logical_dates_per_pipeline(store: &impl Store) {
    let etl = version_of(store, "etl").await;
    let load = version_of(store, "load").await;
    let none = store.latest_logical_dates(RunType::Scheduled).await;
    assert_eq!(none.expect("empty"), Vec::new());
    for (pipeline, version, id, seconds, run_type) in [
        ("etl", etl, "s1", 100, RunType::Scheduled),
        ("etl", etl, "s3", 300, RunType::Scheduled),
        ("etl", etl, "m1", 900, RunType::Manual),
        ("load", load, "s2", 200, RunType::Scheduled),
        ("load", load, "m2", 50, RunType::Manual),
    ] {
        let mut run = run_record(pipeline, id, version, seconds);
        run.run_type = run_type;
        create(store, run).await;
    }
    let sorted = |run_type| async move {
        let mut dates = store.latest_logical_dates(run_type).await.expect("read");
        dates.sort();
        dates
    };
    assert_eq!(
        sorted(RunType::Scheduled).await,
        vec![("etl".to_owned(), at(300)), ("load".to_owned(), at(200))]
    );
    assert_eq!(
        sorted(RunType::Manual).await,
        vec![("etl".to_owned(), at(900)), ("load".to_owned(), at(50))]
    );
    assert_eq!(sorted(RunType::Backfill).await, Vec::new());
}

/// Timestamps come back to the microsecond, before and after 1970; finer digits are dropped.
pub async fn timestamps_keep_microseconds(store: &impl Store) {
    let version = version_of(store, "etl").await;
    let micros = Timestamp::from_microsecond(1_767_225_600_123_456).expect("in range");
    let nanos = Timestamp::from_nanosecond(1_767_225_600_123_456_789).expect("in range");
    let before_1970 = Timestamp::from_microsecond(-86_400_000_001).expect("in range");
    let mut run = run_record("etl", "r1", version, 100);
    run.logical_date = micros;
    run.data_interval_start = before_1970;
    run.created_at = nanos;
    run.started_at = Some(nanos);
    let stored = create(store, run).await;
    let fetched = store.get_run("etl", "r1").await.expect("get");
    assert_eq!(stored, fetched);
    assert_eq!(fetched.logical_date, micros);
    assert_eq!(fetched.data_interval_start, before_1970);
    assert_eq!(fetched.created_at, micros, "nanoseconds are truncated");
    assert_eq!(fetched.started_at, Some(micros));
}

/// A backfill keeps its range, choice and concurrency, so a restart can resume it as asked.
pub async fn backfills_are_recorded_and_listed(store: &impl Store) {
    let new = |pipeline: &str, max_active_runs| NewBackfill {
        pipeline: pipeline.to_owned(),
        from: at(100),
        to: at(500),
        reprocess: Reprocess::Failed,
        max_active_runs,
    };
    let first = store
        .create_backfill(new("etl", 2), at(10))
        .await
        .expect("first");
    let other = store
        .create_backfill(new("load", 1), at(20))
        .await
        .expect("other");
    let second = store
        .create_backfill(new("etl", 7), at(30))
        .await
        .expect("second");
    assert!(first.id < other.id && other.id < second.id, "ids increase");
    assert_eq!(
        (
            first.pipeline.as_str(),
            first.from,
            first.to,
            first.reprocess
        ),
        ("etl", at(100), at(500), Reprocess::Failed)
    );
    assert_eq!((first.max_active_runs, first.created_at), (2, at(10)));
    assert_eq!(store.get_backfill(second.id).await.expect("get"), second);
    let listed = store.list_backfills("etl").await.expect("list");
    assert_eq!(listed, vec![second.clone(), first], "newest first");
    assert!(
        store
            .list_backfills("none")
            .await
            .expect("empty")
            .is_empty()
    );
    let missing = store.get_backfill(second.id + 100).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}
