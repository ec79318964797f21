//! Read-only trees on disk: contents, modes, symlinks, idempotence, concurrency and gc.

use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use aqueduct_gitsync::{Error, Mirror, gc};

use crate::support::{TestRepo, cache_dir};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

fn repository() -> TestRepo {
    let origin = TestRepo::new();
    origin
        .write("README.md", "readme")
        .write("pipelines/etl.yaml", "etl: 1")
        .write("pipelines/nested/reports.yaml", "reports: 1")
        .write("bin/run.sh", "#!/bin/sh\n");
    origin.make_executable("bin/run.sh");
    origin
}

#[test]
fn writes_the_whole_tree_read_only() {
    let origin = repository();
    origin.commit("files");
    let cache = cache_dir();
    let mirror =
        Mirror::open_or_clone(&origin.file_url(), &cache.path().join("mirrors")).expect("clone");
    let head = mirror.resolve("main").expect("main").id;
    let root = cache.path().join("trees");

    let tree = mirror.materialize(&head, &root).expect("materialize");

    assert_eq!(tree, root.join(head.to_string()));
    assert_eq!(
        std::fs::read_to_string(tree.join("pipelines/etl.yaml")).expect("read"),
        "etl: 1"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("pipelines/nested/reports.yaml")).expect("read"),
        "reports: 1"
    );
    assert_eq!(mode(&tree.join("README.md")), 0o444);
    assert_eq!(mode(&tree.join("bin/run.sh")), 0o555);
    for folder in ["", "pipelines", "pipelines/nested", "bin"] {
        assert_eq!(mode(&tree.join(folder)), 0o555, "{folder:?}");
    }
    let entries: Vec<_> = std::fs::read_dir(&root)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        !entries
            .iter()
            .any(|name| name.to_string_lossy().starts_with(".tmp-")),
        "{entries:?}"
    );
    gc(&root, &HashSet::new()).expect("clean up");
}

#[test]
fn materializing_again_returns_the_same_untouched_tree() {
    let origin = repository();
    origin.commit("files");
    let cache = cache_dir();
    let mirror =
        Mirror::open_or_clone(&origin.file_url(), &cache.path().join("mirrors")).expect("clone");
    let head = mirror.resolve("main").expect("main").id;
    let root = cache.path().join("trees");

    let first = mirror.materialize(&head, &root).expect("first");
    let inode = std::fs::metadata(first.join("README.md"))
        .expect("metadata")
        .ino();
    let second = mirror.materialize(&head, &root).expect("second");

    assert_eq!(first, second);
    assert_eq!(
        std::fs::metadata(second.join("README.md"))
            .expect("metadata")
            .ino(),
        inode,
        "never rewritten"
    );
    gc(&root, &HashSet::new()).expect("clean up");
}

#[test]
fn concurrent_materializations_of_one_commit_both_succeed() {
    let origin = repository();
    origin.commit("files");
    let cache = cache_dir();
    let mirror =
        Mirror::open_or_clone(&origin.file_url(), &cache.path().join("mirrors")).expect("clone");
    let head = mirror.resolve("main").expect("main").id;
    let root = cache.path().join("trees");

    let trees: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| mirror.materialize(&head, &root)))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("thread").expect("materialize"))
            .collect()
    });

    assert!(
        trees
            .iter()
            .all(|tree| *tree == root.join(head.to_string())),
        "{trees:?}"
    );
    assert_eq!(
        std::fs::read_to_string(trees[0].join("pipelines/etl.yaml")).expect("read"),
        "etl: 1"
    );
    let mut entries: Vec<_> = std::fs::read_dir(&root)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [".lock".to_owned(), head.to_string()],
        "losers cleaned up after themselves"
    );
    gc(&root, &HashSet::new()).expect("clean up");
}

#[test]
fn symlinks_are_kept_only_when_they_stay_inside_the_tree() {
    let origin = repository();
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, origin.path().join(name)).expect("symlink");
    };
    link("etl.yaml", "pipelines/inside.yaml");
    link("../README.md", "pipelines/readme.md");
    link("../../etc/passwd", "pipelines/escape");
    link("/etc/passwd", "absolute");
    link(".", "here");
    link("here/..", "up-through-a-link");
    link("missing.yaml", "dangling");
    origin.commit("links");
    let cache = cache_dir();
    let mirror =
        Mirror::open_or_clone(&origin.file_url(), &cache.path().join("mirrors")).expect("clone");
    let head = mirror.resolve("main").expect("main").id;
    let root = cache.path().join("trees");

    let tree = mirror.materialize(&head, &root).expect("materialize");

    assert_eq!(
        std::fs::read_link(tree.join("pipelines/inside.yaml")).expect("link"),
        Path::new("etl.yaml")
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("pipelines/inside.yaml")).expect("read"),
        "etl: 1"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("pipelines/readme.md")).expect("read"),
        "readme"
    );
    assert!(tree.join("here").is_symlink());
    for skipped in [
        "pipelines/escape",
        "absolute",
        "up-through-a-link",
        "dangling",
    ] {
        assert!(
            std::fs::symlink_metadata(tree.join(skipped)).is_err(),
            "{skipped} was written"
        );
    }
    gc(&root, &HashSet::new()).expect("clean up");
}

#[test]
fn a_tree_entry_named_dot_git_is_refused() {
    let origin = repository();
    origin.commit("files");
    let blob = origin.git_with_input(
        &["hash-object", "-w", "--stdin"],
        "[core]\n\tfsmonitor = evil\n",
    );
    let dot_git = origin.git_with_input(&["mktree"], &format!("100644 blob {blob}\tconfig\n"));
    let listing = origin.git(&["ls-tree", "HEAD"]);
    let tree = origin.git_with_input(
        &["mktree"],
        &format!("{listing}\n040000 tree {dot_git}\t.git\n"),
    );
    let commit = origin.git(&["commit-tree", &tree, "-p", "HEAD", "-m", "sneaky"]);
    origin.git(&["update-ref", "refs/heads/main", &commit]);
    let cache = cache_dir();
    let mirror =
        Mirror::open_or_clone(&origin.file_url(), &cache.path().join("mirrors")).expect("clone");
    let head = mirror.resolve("main").expect("main").id;
    let root = cache.path().join("trees");

    let error = mirror.materialize(&head, &root).expect_err("refused");

    assert!(matches!(error, Error::UnsafeName { .. }), "{error:?}");
    assert!(!root.join(head.to_string()).exists());
    let leftovers: Vec<_> = std::fs::read_dir(&root)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers, [".lock"], "the partial tree was removed");
}

#[test]
fn gc_removes_trees_not_kept() {
    let origin = repository();
    origin.commit("first");
    origin.write("README.md", "two").commit("second");
    let cache = cache_dir();
    let mirror =
        Mirror::open_or_clone(&origin.file_url(), &cache.path().join("mirrors")).expect("clone");
    let old = mirror.resolve("main~1").expect("old").id;
    let new = mirror.resolve("main").expect("new").id;
    let root = cache.path().join("trees");
    mirror.materialize(&old, &root).expect("old");
    mirror.materialize(&new, &root).expect("new");
    std::fs::write(root.join("unrelated"), "keep me").expect("write");

    let removed = gc(&root, &HashSet::from([new])).expect("gc");

    assert_eq!(removed, [old]);
    assert!(!root.join(old.to_string()).exists());
    assert!(root.join(new.to_string()).join("README.md").exists());
    assert!(
        root.join("unrelated").exists(),
        "gc only touches trees it wrote"
    );
    assert_eq!(gc(&root, &HashSet::new()).expect("gc all"), [new]);
}

#[test]
fn a_new_commit_links_its_unchanged_files_and_writes_only_the_changed_ones() {
    let origin = repository();
    origin.commit("first");
    origin
        .write("pipelines/etl.yaml", "etl: 2")
        .commit("second");
    let cache = cache_dir();
    let mirror =
        Mirror::open_or_clone(&origin.file_url(), &cache.path().join("mirrors")).expect("clone");
    let old = mirror.resolve("main~1").expect("old").id;
    let new = mirror.resolve("main").expect("new").id;
    let root = cache.path().join("trees");
    let old_tree = mirror.materialize(&old, &root).expect("old");
    let new_tree = mirror.materialize(&new, &root).expect("new");
    let inode = |path: &Path| std::fs::metadata(path).expect("metadata").ino();

    for unchanged in ["README.md", "pipelines/nested/reports.yaml", "bin/run.sh"] {
        assert_eq!(
            inode(&old_tree.join(unchanged)),
            inode(&new_tree.join(unchanged)),
            "{unchanged} is shared"
        );
    }
    assert_eq!(mode(&new_tree.join("bin/run.sh")), 0o555);
    assert_ne!(
        inode(&old_tree.join("pipelines/etl.yaml")),
        inode(&new_tree.join("pipelines/etl.yaml"))
    );
    let read = |path: &Path| std::fs::read_to_string(path).expect("read");
    assert_eq!(read(&old_tree.join("pipelines/etl.yaml")), "etl: 1");
    assert_eq!(read(&new_tree.join("pipelines/etl.yaml")), "etl: 2");

    // removing the old tree leaves the new one whole
    gc(&root, &HashSet::from([new])).expect("gc");
    assert_eq!(read(&new_tree.join("README.md")), "readme");
}
