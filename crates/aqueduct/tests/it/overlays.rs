//! Environment overlays end to end: `aqueduct up --repo --path --overlay` serves the base
//! folder's pipeline with the prod overlay applied (schedule, params, env; the task reads a file
//! next to the base file), and `aqueduct app add --overlay` declares a dev app on the same
//! repository whose copy of the pipeline has dev's values; `app get` shows each overlay.
//! `aqueduct validate --overlay` checks an environment without a server.

use std::time::Duration;

use crate::support::{Client, GitRepo, Server, Workspace, parse_json, token, wait_until};

const BASE: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: etl\nspec:\n  schedule: \"0 6 * * *\"\n  params:\n    target: { default: base }\n  env:\n    STAGE: base\n  tasks:\n    - name: t\n      run: echo {{ params.target }} $STAGE $(cat data.txt)\n";

fn overlay(schedule: &str, target: &str) -> String {
    format!(
        "apiVersion: aqueduct.dev/v1\nkind: PipelineOverlay\nmetadata:\n  name: etl\nspec:\n  schedule: \"{schedule}\"\n  params:\n    target: {{ default: {target} }}\n  env:\n    STAGE: {target}\n"
    )
}

impl Client<'_> {
    fn schedule(&self, pipeline: &str) -> Option<String> {
        let pipelines = self.json(&["pipelines"]);
        let items = pipelines["items"].as_array()?;
        let item = items.iter().find(|item| item["name"] == pipeline)?;
        item["schedule"].as_str().map(str::to_owned)
    }

    /// Runs the pipeline and returns its task's log.
    fn run_log(&self, pipeline: &str) -> String {
        let output = self.run(&["trigger", pipeline, "--wait"]);
        assert!(output.status.success(), "{output:?}");
        let runs = self.json(&["runs", "--pipeline", pipeline]);
        let run_id = runs["items"][0]["run_id"].as_str().unwrap().to_owned();
        let logs = self.run(&["logs", pipeline, &run_id, "t"]);
        String::from_utf8_lossy(&logs.stdout).into_owned()
    }
}

#[test]
fn up_and_app_add_take_an_overlay_folder_per_environment() {
    let ws = Workspace::new();
    let repo = GitRepo::new(ws.path());
    let dev = overlay("@hourly", "dev");
    let prod = overlay("0 2 * * *", "prod");
    repo.commit(
        &[
            ("pipelines/base/etl.yaml", BASE),
            ("pipelines/base/data.txt", "base-data"),
            ("pipelines/envs/dev/etl.yaml", &dev),
            ("pipelines/envs/prod/etl.yaml", &prod),
        ],
        "base and two environments",
    );
    let admin = token(&ws, "admin");
    let server = Server::start_with(
        &ws,
        &[
            "--repo".as_ref(),
            repo.dir.as_os_str(),
            "--path".as_ref(),
            "pipelines/base".as_ref(),
            "--overlay".as_ref(),
            "pipelines/envs/prod".as_ref(),
        ],
    );
    let client = Client {
        ws: &ws,
        url: format!("http://{}", server.address),
        token: admin,
    };
    assert!(
        wait_until(Duration::from_secs(20), || client
            .schedule("repo/etl")
            .is_some()),
        "the first sync"
    );
    assert_eq!(client.schedule("repo/etl").as_deref(), Some("0 2 * * *"));
    let app = client.json(&["app", "get", "repo"]);
    assert_eq!(app["source"]["overlay"], "pipelines/envs/prod", "{app}");
    assert!(client.run_log("repo/etl").contains("prod prod base-data"));

    let repo_path = repo.dir.display().to_string();
    let added = client.run(&[
        "app",
        "add",
        "dev",
        "--repo",
        &repo_path,
        "--path",
        "pipelines/base",
        "--overlay",
        "pipelines/envs/dev",
        "--auto",
    ]);
    assert!(added.status.success(), "{added:?}");
    let text = String::from_utf8_lossy(&added.stdout);
    assert!(text.contains("overlay: pipelines/envs/dev\n"), "{text}");
    assert!(
        wait_until(Duration::from_secs(20), || client
            .schedule("dev/etl")
            .is_some()),
        "the dev app syncs"
    );
    assert_eq!(client.schedule("dev/etl").as_deref(), Some("@hourly"));
    assert!(client.run_log("dev/etl").contains("dev dev base-data"));
}

#[test]
fn validate_with_an_overlay_checks_the_merged_pipelines_and_points_into_the_overlay() {
    let ws = Workspace::new();
    ws.write("pipelines/base/etl.yaml", BASE);
    ws.write(
        "pipelines/envs/prod/etl.yaml",
        &overlay("0 2 * * *", "prod"),
    );
    ws.write("pipelines/envs/dev/etl.yaml", &overlay("0 99 * * *", "dev"));
    let validate = |env: &str| {
        let output = ws
            .command()
            .args(["validate", "--output", "json", "--overlay"])
            .arg(ws.path().join("pipelines/envs").join(env))
            .arg(ws.path().join("pipelines/base"))
            .output()
            .unwrap();
        (output.status.code(), parse_json(&output))
    };
    let (code, prod) = validate("prod");
    assert_eq!(code, Some(0), "{prod}");
    assert_eq!(prod["valid"], true, "{prod}");
    assert_eq!(prod["pipelines"][0]["name"], "etl", "{prod}");
    let (code, dev) = validate("dev");
    assert_eq!(code, Some(1), "{dev}");
    let diagnostic = &dev["diagnostics"][0];
    assert_eq!(diagnostic["code"], "bad_schedule", "{dev}");
    let file = diagnostic["file"].as_str().unwrap();
    assert!(file.ends_with("pipelines/envs/dev/etl.yaml"), "{dev}");
    assert_eq!(
        (diagnostic["line"].as_u64(), diagnostic["column"].as_u64()),
        (Some(6), Some(13))
    );
}
