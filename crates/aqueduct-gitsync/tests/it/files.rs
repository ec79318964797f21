//! Reading the files under a folder of a commit from the object database.

use aqueduct_gitsync::{Error, Mirror};

use crate::support::{TestRepo, cache_dir, names};

fn repository() -> TestRepo {
    let origin = TestRepo::new();
    origin
        .write("README.md", "readme")
        .write("pipelines/etl.yaml", "etl: 1")
        .write("pipelines/nested/reports.yaml", "reports: 1")
        .write("pipelines/run.sh", "#!/bin/sh\n")
        .write("other/x.yaml", "x");
    origin.make_executable("pipelines/run.sh");
    std::os::unix::fs::symlink("etl.yaml", origin.path().join("pipelines/link.yaml"))
        .expect("symlink");
    origin
}

#[test]
fn files_under_a_folder_with_relative_paths_and_contents() {
    let origin = repository();
    origin.commit("files");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let head = mirror.resolve("main").expect("main").id;

    let files = mirror.files_at(&head, "pipelines").expect("pipelines");

    assert_eq!(
        names(&files),
        ["etl.yaml", "nested/reports.yaml", "run.sh"],
        "symlinks are left out"
    );
    assert_eq!(files[0].1, b"etl: 1");
    assert_eq!(files[1].1, b"reports: 1");
    assert_eq!(
        mirror
            .files_at(&head, "pipelines/nested/")
            .expect("nested")
            .len(),
        1
    );
    assert_eq!(
        mirror.files_at(&head, "./pipelines").expect("./pipelines"),
        files
    );
}

#[test]
fn the_root_is_the_empty_path_or_dot() {
    let origin = repository();
    origin.commit("files");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let head = mirror.resolve("main").expect("main").id;

    let root = mirror.files_at(&head, "").expect("root");

    assert_eq!(
        names(&root),
        [
            "README.md",
            "other/x.yaml",
            "pipelines/etl.yaml",
            "pipelines/nested/reports.yaml",
            "pipelines/run.sh"
        ]
    );
    assert_eq!(mirror.files_at(&head, ".").expect("dot"), root);
}

#[test]
fn files_of_an_older_commit() {
    let origin = repository();
    let first = origin.commit("files");
    origin
        .write("pipelines/etl.yaml", "etl: 2")
        .commit("change");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let first = mirror.resolve(&first).expect("first").id;

    let files = mirror.files_at(&first, "pipelines").expect("pipelines");

    assert_eq!(files[0].1, b"etl: 1");
}

#[test]
fn a_missing_folder_differs_from_an_empty_one() {
    let origin = repository();
    origin.commit("files");
    // git cannot commit an empty folder from a work tree; plumbing can.
    let empty_tree = origin.git_with_input(&["mktree"], "");
    let root_listing = origin.git(&["ls-tree", "HEAD"]);
    let with_empty = origin.git_with_input(
        &["mktree"],
        &format!("{root_listing}\n040000 tree {empty_tree}\tempty\n"),
    );
    let commit = origin.git(&[
        "commit-tree",
        &with_empty,
        "-p",
        "HEAD",
        "-m",
        "empty folder",
    ]);
    origin.git(&["update-ref", "refs/heads/main", &commit]);
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let head = mirror.resolve("main").expect("main").id;

    let empty = mirror
        .files_at(&head, "empty")
        .expect("an empty folder is no error");
    let missing = mirror
        .files_at(&head, "pipelinez")
        .expect_err("missing folder");
    let file = mirror.files_at(&head, "README.md").expect_err("a file");
    let escaping = mirror.files_at(&head, "../etc").expect_err("escaping path");

    assert!(empty.is_empty());
    assert!(
        matches!(&missing, Error::PathNotFound { path, .. } if path == "pipelinez"),
        "{missing:?}"
    );
    assert_eq!(
        missing.to_string(),
        format!("path pipelinez does not exist at commit {head}")
    );
    assert!(matches!(file, Error::NotAFolder { .. }), "{file:?}");
    assert!(
        matches!(escaping, Error::InvalidPath { .. }),
        "{escaping:?}"
    );
}

#[test]
fn an_unknown_commit_is_an_unknown_revision() {
    let origin = repository();
    origin.commit("files");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let unknown = "0123456789012345678901234567890123456789"
        .parse()
        .expect("hex");

    let error = mirror.files_at(&unknown, "").expect_err("unknown commit");

    assert!(matches!(error, Error::UnknownRevision { .. }), "{error:?}");
}

#[test]
fn only_the_files_asked_for_are_read_and_equal_contents_share_a_blob_id() {
    let origin = repository();
    let first = origin.commit("files");
    origin.write("pipelines/etl.yaml", "etl: 2");
    let second = origin.commit("etl changed");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    let [first, second] = [first, second].map(|id| mirror.resolve(&id).expect("commit").id);

    let before = mirror
        .files_at_if(&first, "pipelines", &mut |_, _| false)
        .expect("first");
    assert!(
        before.iter().all(|file| file.bytes.is_none()),
        "none asked for"
    );
    let mut asked = Vec::new();
    let after = mirror
        .files_at_if(&second, "pipelines", &mut |path, blob| {
            let changed = !before.iter().any(|file| file.blob == blob);
            if changed {
                asked.push(path.to_owned());
            }
            changed
        })
        .expect("second");
    assert_eq!(asked, [std::path::PathBuf::from("etl.yaml")]);
    assert_eq!(after[0].bytes.as_deref(), Some(&b"etl: 2"[..]));
    assert_eq!(after[1].bytes, None);
    assert_eq!(after[1].blob, before[1].blob, "unchanged file, same blob");
    assert_ne!(after[0].blob, before[0].blob);
}
