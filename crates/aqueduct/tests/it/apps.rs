//! `aqueduct app ...` end to end, against a real `aqueduct up` that has no GitOps apps: the list
//! is empty, every app name is `app_not_found`, and usage errors exit 2.

use std::process::Output;

use serde_json::Value;

use crate::support::{Server, Workspace, parse_json, token, write_pipeline};

const HELLO: &str = "  tasks:\n    - name: greet\n      run: echo hello\n";

/// A server with one pipeline and no apps, a viewer and an operator token.
struct Setup {
    ws: Workspace,
    url: String,
    viewer: String,
    operator: String,
    _server: Server,
}

impl Setup {
    fn start() -> Setup {
        let ws = Workspace::new();
        write_pipeline(&ws.path().join("pipelines"), "hello", HELLO);
        let viewer = token(&ws, "viewer");
        let operator = token(&ws, "operator");
        let server = Server::start(&ws);
        Setup {
            url: format!("http://{}", server.address),
            ws,
            viewer,
            operator,
            _server: server,
        }
    }

    /// `aqueduct app ARGS...` against the server with `token`.
    fn app(&self, token: &str, args: &[&str]) -> Output {
        let mut command = self.ws.command();
        command
            .arg("app")
            .args(args)
            .env("AQUEDUCT_URL", &self.url)
            .env("AQUEDUCT_TOKEN", token);
        command.output().unwrap()
    }
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_server_without_apps_lists_none_and_finds_none() {
    let setup = Setup::start();

    let list = setup.app(&setup.viewer, &["list"]);
    assert_eq!(list.status.code(), Some(0), "{}", describe(&list));
    assert_eq!(String::from_utf8_lossy(&list.stdout), "no apps\n");

    let json = setup.app(&setup.viewer, &["list", "--output", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", describe(&json));
    assert_eq!(parse_json(&json), Value::Array(Vec::new()));

    let get = setup.app(&setup.viewer, &["get", "nope"]);
    assert_eq!(get.status.code(), Some(1), "{}", describe(&get));
    assert!(get.stdout.is_empty(), "{}", describe(&get));
    let stderr = String::from_utf8_lossy(&get.stderr);
    assert_eq!(stderr, "error: no app named nope (app_not_found)\n");

    // Operator verbs pass the role check and then find no app either.
    for args in [
        &["sync", "nope", "--revision", "main"][..],
        &["rollback", "nope", "1"],
        &["refresh", "nope"],
    ] {
        let output = setup.app(&setup.operator, args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("(app_not_found)"), "{args:?}: {stderr}");
    }
    let denied = setup.app(&setup.viewer, &["sync", "nope"]);
    assert_eq!(denied.status.code(), Some(1), "{}", describe(&denied));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("(forbidden)"));
}

#[test]
fn usage_errors_exit_2() {
    let ws = Workspace::new();
    for args in [
        &["plan", "prod"][..],
        &["rollback", "prod", "0"],
        &["rollback", "prod"],
        &["history", "prod", "--limit", "0"],
    ] {
        let output = ws
            .command()
            .arg("app")
            .args(args)
            .env("AQUEDUCT_URL", "http://127.0.0.1:1")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            describe(&output)
        );
    }
}
