//! Conformance cases: pipelines, their versions, pausing and listing.

use aqueduct_core::RunState;

use crate::records::{NewVersion, Page, PipelineFilter};
use crate::testing::{at, run_record};
use crate::{Error, Store};

/// Recording the same definition twice returns the first version; a new pipeline starts unpaused.
pub async fn versions_are_idempotent_on_hash(store: &impl Store) {
    let definition = "name: etl\nrun: echo \"it's ünïcode\" 'quoted'\n";
    let first =
        store.record_pipeline_version("etl", "aa11", definition, "pipelines/etl.yaml", at(10));
    let first = first.await.expect("record first");
    assert_eq!(first.pipeline, "etl");
    assert_eq!(first.hash, "aa11");
    assert_eq!(first.definition, definition);
    assert_eq!(first.source, "pipelines/etl.yaml");
    assert_eq!(first.created_at, at(10));

    let again = store.record_pipeline_version("etl", "aa11", "ignored", "other.yaml", at(20));
    assert_eq!(again.await.expect("record again"), first);
    assert_eq!(store.list_versions("etl").await.expect("list").len(), 1);

    let row = store.get_pipeline("etl").await.expect("get pipeline");
    assert_eq!(
        (row.name.as_str(), row.paused, row.latest_version),
        ("etl", false, first.id)
    );
    assert_eq!((row.created_at, row.updated_at), (at(10), at(10)));

    // The same hash in another pipeline is another version.
    let other = store.record_pipeline_version("load", "aa11", definition, "load.yaml", at(30));
    assert_ne!(other.await.expect("record other").id, first.id);
}

/// The latest version is the one recorded last, including a return to an older hash.
pub async fn latest_version_follows_the_last_recorded_definition(store: &impl Store) {
    let v1 = store.record_pipeline_version("etl", "h1", "one", "etl.yaml", at(10));
    let v1 = v1.await.expect("v1");
    let v2 = store.record_pipeline_version("etl", "h2", "two", "etl.yaml", at(20));
    let v2 = v2.await.expect("v2");
    assert!(v2.id > v1.id, "ids increase: {} then {}", v1.id, v2.id);
    let row = store.get_pipeline("etl").await.expect("after v2");
    assert_eq!(
        (row.latest_version, row.created_at, row.updated_at),
        (v2.id, at(10), at(20))
    );

    let reverted = store.record_pipeline_version("etl", "h1", "one", "etl.yaml", at(30));
    assert_eq!(reverted.await.expect("revert"), v1);
    let row = store.get_pipeline("etl").await.expect("after revert");
    assert_eq!((row.latest_version, row.updated_at), (v1.id, at(30)));

    let unchanged = store.record_pipeline_version("etl", "h1", "one", "etl.yaml", at(40));
    unchanged.await.expect("same again");
    let row = store.get_pipeline("etl").await.expect("after same");
    assert_eq!(
        row.updated_at,
        at(30),
        "updated_at moves only when the version changes"
    );

    assert!(matches!(
        store.get_pipeline("nope").await,
        Err(Error::NotFound(_))
    ));
}

/// Versions are found by id and listed newest first, per pipeline.
pub async fn versions_are_listed_newest_first(store: &impl Store) {
    let mut ids = Vec::new();
    for (index, hash) in ["h1", "h2", "h3"].into_iter().enumerate() {
        let text = format!("definition {index}");
        let version = store.record_pipeline_version("etl", hash, &text, "etl.yaml", at(10));
        ids.push(version.await.expect("record").id);
    }
    store
        .record_pipeline_version("other", "h1", "x", "o.yaml", at(10))
        .await
        .expect("other");

    let listed = store.list_versions("etl").await.expect("list");
    let listed_ids: Vec<i64> = listed.iter().map(|version| version.id).collect();
    assert_eq!(listed_ids, ids.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(listed[0].definition, "definition 2");

    let middle = store.get_version(ids[1]).await.expect("get");
    assert_eq!(
        (middle.pipeline.as_str(), middle.hash.as_str()),
        ("etl", "h2")
    );
    assert!(matches!(
        store.get_version(9_999).await,
        Err(Error::NotFound(_))
    ));
    assert!(
        store
            .list_versions("unknown")
            .await
            .expect("unknown")
            .is_empty()
    );
}

/// Pausing is kept when new versions arrive; pausing an unknown pipeline is NotFound.
pub async fn paused_flag_is_kept_across_versions(store: &impl Store) {
    store
        .record_pipeline_version("etl", "h1", "one", "etl.yaml", at(10))
        .await
        .expect("v1");
    store.set_paused("etl", true).await.expect("pause");
    assert!(store.get_pipeline("etl").await.expect("get").paused);

    store
        .record_pipeline_version("etl", "h2", "two", "etl.yaml", at(20))
        .await
        .expect("v2");
    assert!(store.get_pipeline("etl").await.expect("get").paused);

    store.set_paused("etl", false).await.expect("unpause");
    assert!(!store.get_pipeline("etl").await.expect("get").paused);
    assert!(matches!(
        store.set_paused("nope", true).await,
        Err(Error::NotFound(_))
    ));
}

/// Search is a case-insensitive literal substring; pages come by name with the full total.
pub async fn pipelines_are_searched_and_paged(store: &impl Store) {
    let names = ["alpha_etl", "beta-etl", "Gamma_ETL", "delta", "etlx", "a%b"];
    for name in names {
        let recorded = store.record_pipeline_version(name, "h", "d", "f.yaml", at(1));
        recorded.await.expect("record");
    }
    let page = |limit, offset| Page { limit, offset };
    // (search, page, expected names, expected total); bytewise order puts uppercase first.
    let cases: [(Option<&str>, Page, &[&str], u64); 7] = [
        (
            None,
            page(100, 0),
            &["Gamma_ETL", "a%b", "alpha_etl", "beta-etl", "delta", "etlx"],
            6,
        ),
        (
            Some("etl"),
            page(100, 0),
            &["Gamma_ETL", "alpha_etl", "beta-etl", "etlx"],
            4,
        ),
        (Some("ETL"), page(2, 1), &["alpha_etl", "beta-etl"], 4),
        (Some("_e"), page(100, 0), &["Gamma_ETL", "alpha_etl"], 2),
        (Some("%"), page(100, 0), &["a%b"], 1),
        (None, page(10, 50), &[], 6),
        (None, page(0, 0), &[], 6),
    ];
    for (search, page, expected, expected_total) in cases {
        let (rows, total) = store.list_pipelines(search, page).await.expect("list");
        let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(
            (names.as_slice(), total),
            (expected, expected_total),
            "{search:?} {page:?}"
        );
    }
}

/// The paused flag and the state of each pipeline's latest run (greatest logical date, then
/// greatest run id) filter the list, with a search, and the total counts the filtered set.
pub async fn pipelines_are_filtered_by_paused_and_last_run_state(store: &impl Store) {
    let mut versions = std::collections::HashMap::new();
    for name in ["alpha", "beta", "gamma", "delta"] {
        versions.insert(name, crate::testing::version_of(store, name).await);
    }
    let runs = [
        // alpha: an older success, then a failure
        ("alpha", "scheduled__1", 100, RunState::Success),
        ("alpha", "scheduled__2", 200, RunState::Failed),
        // beta: the newest logical date wins, not the order of creation
        ("beta", "scheduled__9", 300, RunState::Success),
        ("beta", "backfill__1", 100, RunState::Failed),
        // gamma: two runs of one logical date, the greater run id wins
        ("gamma", "manual__b", 500, RunState::Running),
        ("gamma", "manual__a", 500, RunState::Failed),
    ];
    for (pipeline, id, logical, state) in runs {
        let mut run = run_record(pipeline, id, versions[pipeline], logical);
        run.state = state;
        crate::testing::create(store, run).await;
    }
    for name in ["beta", "delta"] {
        store.set_paused(name, true).await.expect("pause");
    }
    let filter = |search: Option<&str>, paused, state| PipelineFilter {
        search: search.map(str::to_owned),
        paused,
        last_run_state: state,
    };
    let cases: [(PipelineFilter, Page, &[&str], u64); 9] = [
        (
            filter(None, None, None),
            Page::first(10),
            &["alpha", "beta", "delta", "gamma"],
            4,
        ),
        (
            filter(None, None, Some(RunState::Failed)),
            Page::first(10),
            &["alpha"],
            1,
        ),
        (
            filter(None, None, Some(RunState::Success)),
            Page::first(10),
            &["beta"],
            1,
        ),
        (
            filter(None, None, Some(RunState::Running)),
            Page::first(10),
            &["gamma"],
            1,
        ),
        (
            filter(None, None, Some(RunState::Queued)),
            Page::first(10),
            &[],
            0,
        ),
        (
            filter(None, Some(true), None),
            Page::first(10),
            &["beta", "delta"],
            2,
        ),
        (
            filter(None, Some(false), Some(RunState::Success)),
            Page::first(10),
            &[],
            0,
        ),
        (
            filter(Some("ET"), Some(true), Some(RunState::Success)),
            Page::first(10),
            &["beta"],
            1,
        ),
        (
            filter(None, Some(false), None),
            Page {
                limit: 1,
                offset: 1,
            },
            &["gamma"],
            2,
        ),
    ];
    for (filter, page, expected, expected_total) in cases {
        let (rows, total) = store.find_pipelines(&filter, page).await.expect("find");
        let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(
            (names.as_slice(), total),
            (expected, expected_total),
            "{filter:?} {page:?}"
        );
    }
}

/// A batch is recorded in order across many statements: versions come back in the order given,
/// known hashes are found, and a name recorded twice ends at its later version.
pub async fn versions_are_recorded_in_batches(store: &impl Store) {
    let new = |name: &str, hash: &str| NewVersion {
        pipeline: name.to_owned(),
        hash: hash.to_owned(),
        definition: format!("definition of {name} at {hash}"),
        source: format!("{name}.yaml"),
    };
    let known = store.record_pipeline_version("p007", "h0", "old", "p007.yaml", at(5));
    let known = known.await.expect("record one");
    // more than one statement's worth of rows, a known hash, and a name twice
    let mut batch: Vec<NewVersion> = (0..250).map(|n| new(&format!("p{n:03}"), "h1")).collect();
    batch.push(new("p007", "h0"));
    batch.push(new("p010", "h2"));
    let recorded = store.record_pipeline_versions(batch.clone(), at(10));
    let recorded = recorded.await.expect("record batch");
    assert_eq!(recorded.len(), batch.len());
    for (version, asked) in recorded.iter().zip(&batch) {
        assert_eq!(
            (&version.pipeline, &version.hash),
            (&asked.pipeline, &asked.hash)
        );
    }
    assert_eq!(
        recorded[250], known,
        "a known hash returns the stored version"
    );
    assert_eq!(recorded[250].definition, "old");
    assert_eq!(recorded[0].definition, "definition of p000 at h1");
    let latest = |name: &'static str| async move {
        store.get_pipeline(name).await.expect(name).latest_version
    };
    assert_eq!(latest("p007").await, known.id, "the later entry is latest");
    assert_eq!(latest("p010").await, recorded[251].id);
    assert_eq!(latest("p249").await, recorded[249].id);
    let (_, total) = store
        .list_pipelines(None, Page::first(1))
        .await
        .expect("list");
    assert_eq!(total, 250);

    let again = store
        .record_pipeline_versions(batch, at(20))
        .await
        .expect("again");
    assert_eq!(
        again, recorded,
        "recording the same batch again changes nothing"
    );
    let row = store.get_pipeline("p100").await.expect("p100");
    assert_eq!(row.updated_at, at(10));
    assert!(
        store
            .record_pipeline_versions(Vec::new(), at(30))
            .await
            .expect("empty")
            .is_empty()
    );
}
