//! Mirrors: created from a path or `file://`, shared between spellings, updated by fetch
//! (new commits, force-pushes, new and deleted refs).

use aqueduct_gitsync::{Error, Mirror};

use crate::support::{TestRepo, cache_dir};

#[test]
fn clones_from_a_path_into_a_bare_mirror_named_by_url_hash() {
    let origin = TestRepo::new();
    let head = origin.write("a.txt", "a").commit("first");
    let cache = cache_dir();

    let mirror =
        Mirror::open_or_clone(origin.path().to_str().expect("utf-8"), cache.path()).expect("clone");

    assert_eq!(mirror.resolve("main").expect("main").id.to_string(), head);
    assert_eq!(mirror.path().parent(), Some(cache.path()));
    let name = mirror
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let hash = name.strip_suffix(".git").expect(".git suffix");
    assert_eq!(hash.len(), 16, "{name}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    assert!(mirror.path().join("HEAD").is_file(), "a bare repository");
    assert!(!mirror.path().join(".git").exists(), "a bare repository");
}

#[test]
fn file_url_and_path_share_one_mirror() {
    let origin = TestRepo::new();
    let head = origin.write("a.txt", "a").commit("first");
    let cache = cache_dir();

    let by_url = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone by file://");
    let by_path = Mirror::open_or_clone(&format!("{}/", origin.path().display()), cache.path())
        .expect("open by path");

    assert_eq!(by_url.path(), by_path.path());
    assert_eq!(by_url.resolve("main").expect("main").id.to_string(), head);
    assert_eq!(
        std::fs::read_dir(cache.path()).expect("list").count(),
        1,
        "no leftovers"
    );
}

#[test]
fn fetch_sees_a_new_commit_and_then_reports_no_change() {
    let origin = TestRepo::new();
    let first = origin.write("a.txt", "a").commit("first");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");

    let second = origin.write("a.txt", "b").commit("second");
    assert_eq!(
        mirror.resolve("main").expect("before fetch").id.to_string(),
        first
    );
    let outcome = mirror.fetch().expect("fetch");

    assert_eq!(outcome.updated, ["refs/heads/main"]);
    assert_eq!(
        mirror.resolve("main").expect("after fetch").id.to_string(),
        second
    );
    let again = mirror.fetch().expect("second fetch");
    assert!(!again.changed(), "{again:?}");
}

#[test]
fn fetch_follows_a_force_push() {
    let origin = TestRepo::new();
    origin.write("a.txt", "a").commit("first");
    let replaced = origin.write("a.txt", "b").commit("second");
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");

    let amended = origin.write("a.txt", "c").amend("second, amended");
    assert_ne!(amended, replaced);
    let outcome = mirror.fetch().expect("fetch");

    assert_eq!(outcome.updated, ["refs/heads/main"]);
    let main = mirror.resolve("main").expect("main");
    assert_eq!(main.id.to_string(), amended);
    assert_eq!(main.message, "second, amended");
}

#[test]
fn fetch_mirrors_new_refs_and_prunes_deleted_ones() {
    let origin = TestRepo::new();
    let first = origin.write("a.txt", "a").commit("first");
    origin.git(&["branch", "doomed"]);
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    assert_eq!(
        mirror.resolve("doomed").expect("doomed").id.to_string(),
        first
    );

    origin.git(&["branch", "--delete", "doomed"]);
    origin.git(&["branch", "feature"]);
    origin.git(&["tag", "v1"]);
    let mut outcome = mirror.fetch().expect("fetch");
    outcome.updated.sort();

    assert_eq!(outcome.updated, ["refs/heads/feature", "refs/tags/v1"]);
    assert_eq!(outcome.pruned, ["refs/heads/doomed"]);
    assert!(matches!(
        mirror.resolve("doomed"),
        Err(Error::UnknownRevision { .. })
    ));
    assert_eq!(mirror.resolve("v1").expect("v1").id.to_string(), first);
}

#[test]
fn a_moved_tag_is_followed() {
    let origin = TestRepo::new();
    origin.write("a.txt", "a").commit("first");
    origin.git(&["tag", "release"]);
    let cache = cache_dir();
    let mirror = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");

    let second = origin.write("a.txt", "b").commit("second");
    origin.git(&["tag", "--force", "release"]);
    mirror.fetch().expect("fetch");

    assert_eq!(
        mirror.resolve("release").expect("release").id.to_string(),
        second
    );
}

#[test]
fn reopening_an_existing_mirror_does_not_fetch() {
    let origin = TestRepo::new();
    let first = origin.write("a.txt", "a").commit("first");
    let cache = cache_dir();
    Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("clone");
    origin.write("a.txt", "b").commit("second");

    let reopened = Mirror::open_or_clone(&origin.file_url(), cache.path()).expect("reopen");

    assert_eq!(
        reopened.resolve("main").expect("main").id.to_string(),
        first
    );
}

#[test]
fn concurrent_clones_of_one_repository_share_the_mirror() {
    let origin = TestRepo::new();
    let head = origin.write("a.txt", "a").commit("first");
    let cache = cache_dir();
    let url = origin.file_url();

    let paths: Vec<_> = std::thread::scope(|scope| {
        let clones: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| Mirror::open_or_clone(&url, cache.path()).expect("clone")))
            .collect();
        clones
            .into_iter()
            .map(|clone| {
                let mirror = clone.join().expect("thread");
                assert_eq!(mirror.resolve("main").expect("main").id.to_string(), head);
                mirror.path().to_owned()
            })
            .collect()
    });

    assert_eq!(paths[0], paths[1]);
    assert_eq!(
        std::fs::read_dir(cache.path()).expect("list").count(),
        1,
        "no leftovers"
    );
}

#[test]
fn a_missing_local_repository_is_named_in_the_error() {
    let cache = cache_dir();
    let missing = cache.path().join("nope");

    let error =
        Mirror::open_or_clone(missing.to_str().expect("utf-8"), cache.path()).expect_err("error");

    assert!(
        matches!(error, Error::MissingLocalRepository { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("nope"), "{error}");
}
