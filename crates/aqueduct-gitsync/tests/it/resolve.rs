//! Resolving revisions to commits, and history.

use aqueduct_gitsync::{Error, Mirror};

use crate::support::{TestRepo, cache_dir};

fn three_commits() -> (TestRepo, Vec<String>) {
    let origin = TestRepo::new();
    let ids = vec![
        origin.write("a.txt", "1").commit("first"),
        origin
            .write("a.txt", "2")
            .commit("second\n\nwith a body\nof two lines"),
        origin.write("a.txt", "3").commit("third"),
    ];
    (origin, ids)
}

#[test]
fn resolves_branch_tags_and_shas() {
    let (origin, ids) = three_commits();
    origin.git(&["tag", "light", &ids[0]]);
    origin.git(&[
        "tag",
        "--annotate",
        "--message",
        "annotated tag",
        "annotated",
        &ids[1],
    ]);
    origin.git(&["branch", "old", &ids[0]]);
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let resolve = |revision: &str| mirror.resolve(revision).expect(revision).id.to_string();

    assert_eq!(resolve("main"), ids[2]);
    assert_eq!(resolve("old"), ids[0]);
    assert_eq!(resolve("light"), ids[0]);
    assert_eq!(
        resolve("annotated"),
        ids[1],
        "annotated tags are peeled to their commit"
    );
    assert_eq!(resolve(&ids[1]), ids[1]);
    assert_eq!(resolve(&ids[1][..8]), ids[1]);
    assert_eq!(
        resolve(&ids[1])
            .parse::<aqueduct_gitsync::CommitId>()
            .expect("hex")
            .to_string(),
        ids[1]
    );
}

#[test]
fn commit_info_carries_message_author_and_time() {
    let (origin, ids) = three_commits();
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");

    let info = mirror.resolve(&ids[1]).expect("second");

    assert_eq!(info.message, "second\n\nwith a body\nof two lines");
    assert_eq!(info.summary(), "second");
    assert_eq!(info.author_name, "Ada Lovelace");
    assert_eq!(info.author_email, "ada@example.com");
    assert_eq!(info.time.to_string(), "2026-01-02T12:00:00Z");
}

#[test]
fn an_unknown_revision_is_named_in_the_error() {
    let (origin, _ids) = three_commits();
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");

    for revision in [
        "no-such-branch",
        "deadbeef",
        "0123456789012345678901234567890123456789",
    ] {
        let error = mirror.resolve(revision).expect_err(revision);
        assert!(
            matches!(&error, Error::UnknownRevision { revision: named, .. } if named == revision),
            "{error:?}"
        );
        assert_eq!(error.to_string(), format!("unknown revision {revision}"));
    }
}

#[test]
fn log_lists_history_newest_first_up_to_the_limit() {
    let (origin, ids) = three_commits();
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let head = mirror.resolve("main").expect("main").id;

    let all: Vec<_> = mirror
        .log(&head, 10)
        .expect("log")
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    let two: Vec<_> = mirror
        .log(&head, 2)
        .expect("log")
        .into_iter()
        .map(|c| c.summary().to_owned())
        .collect();
    let from_middle = mirror
        .log(&mirror.resolve(&ids[1]).expect("second").id, 10)
        .expect("log");

    assert_eq!(all, [ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    assert_eq!(two, ["third", "second"]);
    assert_eq!(from_middle.len(), 2);
}
