//! Paths changed under a folder between two commits.

use std::path::PathBuf;

use aqueduct_gitsync::{ChangeKind, CommitId, Error, Mirror};

use crate::support::{TestRepo, cache_dir};

fn changes(
    mirror: &Mirror,
    old: &CommitId,
    new: &CommitId,
    folder: &str,
) -> Vec<(String, ChangeKind)> {
    mirror
        .changed_paths(old, new, folder)
        .expect("changed paths")
        .into_iter()
        .map(|(path, kind): (PathBuf, ChangeKind)| (path.display().to_string(), kind))
        .collect()
}

#[test]
fn added_modified_and_deleted_files_under_the_folder() {
    let origin = TestRepo::new();
    origin
        .write("pipelines/etl.yaml", "etl: 1")
        .write("pipelines/gone.yaml", "gone")
        .write("pipelines/same.yaml", "same")
        .write("README.md", "one")
        .commit("first");
    origin
        .write("pipelines/etl.yaml", "etl: 2")
        .write("pipelines/nested/reports.yaml", "new")
        .write("README.md", "two")
        .remove("pipelines/gone.yaml")
        .commit("second");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let old = mirror.resolve("main~1").expect("old").id;
    let new = mirror.resolve("main").expect("new").id;

    assert_eq!(
        changes(&mirror, &old, &new, "pipelines"),
        [
            ("etl.yaml".to_owned(), ChangeKind::Modified),
            ("gone.yaml".to_owned(), ChangeKind::Deleted),
            ("nested/reports.yaml".to_owned(), ChangeKind::Added),
        ]
    );
    assert_eq!(
        changes(&mirror, &old, &new, ""),
        [
            ("README.md".to_owned(), ChangeKind::Modified),
            ("pipelines/etl.yaml".to_owned(), ChangeKind::Modified),
            ("pipelines/gone.yaml".to_owned(), ChangeKind::Deleted),
            (
                "pipelines/nested/reports.yaml".to_owned(),
                ChangeKind::Added
            ),
        ]
    );
    assert_eq!(changes(&mirror, &new, &new, "pipelines"), []);
}

#[test]
fn a_folder_that_appears_or_disappears_counts_as_empty_on_the_other_side() {
    let origin = TestRepo::new();
    origin.write("README.md", "one").commit("first");
    origin
        .write("pipelines/etl.yaml", "etl")
        .commit("add folder");
    origin.remove("pipelines/etl.yaml").commit("remove folder");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let [without, with, removed] =
        ["main~2", "main~1", "main"].map(|revision| mirror.resolve(revision).expect(revision).id);

    assert_eq!(
        changes(&mirror, &without, &with, "pipelines"),
        [("etl.yaml".to_owned(), ChangeKind::Added)]
    );
    assert_eq!(
        changes(&mirror, &with, &removed, "pipelines"),
        [("etl.yaml".to_owned(), ChangeKind::Deleted)]
    );
    let error = mirror
        .changed_paths(&without, &removed, "pipelines")
        .expect_err("missing on both sides");
    assert!(matches!(error, Error::PathNotFound { .. }), "{error:?}");
}
