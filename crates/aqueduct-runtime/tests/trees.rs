//! Commit trees written on demand: a sync does not wait for its commit's tree, so the first
//! task of a commit whose tree is not written yet (or was lost) writes it from the mirror of
//! the repository the commit came from, or from any repository fetched since start.

use aqueduct_gitsync::Mirror;
use aqueduct_runtime::gitops::Trees;

mod support;
use support::Repo;

fn trees_with_mirror(root: &std::path::Path, repo: &Repo) -> (Trees, String) {
    let trees = Trees::new(root.join("trees"), root.join("mirrors"));
    let url = repo.dir.display().to_string();
    Mirror::open_or_clone(&url, trees.mirrors())
        .unwrap()
        .fetch()
        .unwrap();
    (trees, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_folder_of_an_unwritten_commit_is_written_when_first_needed() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(dir.path());
    repo.write("pipelines/run.sh", "echo first");
    let first = repo.commit("first");
    repo.write("pipelines/run.sh", "echo second");
    let second = repo.commit("second");
    let (trees, url) = trees_with_mirror(dir.path(), &repo);

    // the first commit is known to come from the repository
    trees.remember(&url, &first);
    let folder = trees.path_of(&first).join("pipelines");
    assert!(!folder.exists());
    trees.ensure(&folder).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(folder.join("run.sh")).unwrap(),
        "echo first"
    );

    // the second one was never named: the repositories fetched since start are asked
    let folder = trees.path_of(&second).join("pipelines");
    trees.ensure(&folder).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(folder.join("run.sh")).unwrap(),
        "echo second"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_no_fetched_repository_has_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(dir.path());
    repo.write("pipelines/run.sh", "echo first");
    let first = repo.commit("first");
    let (trees, url) = trees_with_mirror(dir.path(), &repo);
    trees.remember(&url, &first);

    let missing = "0123456789abcdef0123456789abcdef01234567";
    let error = trees
        .ensure(&trees.path_of(missing).join("pipelines"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains(missing), "{error}");
    assert!(!trees.path_of(missing).exists());

    // a folder outside the trees is not the trees' business
    trees.ensure(&dir.path().join("elsewhere")).await.unwrap();
}
