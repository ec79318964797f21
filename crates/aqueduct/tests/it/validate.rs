//! `aqueduct validate`: every problem at once, with positions, excerpts and hints.

use crate::support::{Workspace, parse_json};

const HEADER: &str = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n";

fn broken_workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write(
        "good.yaml",
        &format!("{HEADER}  name: good\nspec:\n  tasks:\n    - name: a\n      run: echo a\n"),
    );
    ws.write(
        "structure.yaml",
        &format!(
            "{HEADER}  name: structure\nspec:\n  tasks:\n    - name: a\n      run: echo a\n      comand: oops\n    - name: b\n      run: echo b\n      retries: lots\n      trigger: all_sucess\n"
        ),
    );
    ws.write(
        "meaning.yaml",
        &format!(
            "{HEADER}  name: meaning\nspec:\n  tasks:\n    - name: extract\n      run: echo {{{{ ds }}\n    - name: extract\n      run: echo dup\n    - name: load\n      needs: [extrakt]\n      timeout: soon\n      resources:\n        memory: lots\n    - name: 'bad name!'\n      run: echo x\n"
        )
        .replace("    - name: load\n      needs", "    - name: load\n      run: echo load\n      needs"),
    );
    ws.write(
        "cycle.yaml",
        &format!("{HEADER}  name: cycle\nspec:\n  tasks:\n    - name: a\n      run: x\n      needs: [c]\n    - name: b\n      run: x\n      needs: [a]\n    - name: c\n      run: x\n      needs: [b]\n"),
    );
    ws.write(
        "syntax.yaml",
        &format!("{HEADER}  name: syntax\nspec:\n  tasks: [unclosed\n"),
    );
    ws.write(
        "multi.yaml",
        &format!("{HEADER}  name: first\nspec:\n  tasks:\n    - name: a\n      run: echo a\n---\n{HEADER}  name: second\nspec:\n  tasks:\n    - name: a\n      run: echo a\n      needs: [a]\n"),
    );
    ws.write("notes.txt", "not yaml, ignored in directories");
    ws
}

#[test]
fn reports_every_problem_of_every_file_as_json() {
    let ws = broken_workspace();
    let output = ws
        .command()
        .args(["validate", "--output", "json"])
        .arg(ws.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    let root = format!("{}/", ws.path().display());
    let document: serde_json::Value = serde_json::from_str(&text.replace(&root, "")).unwrap();
    assert_eq!(document["valid"], false);
    let valid_names: Vec<&str> = document["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        valid_names,
        ["good", "first"],
        "broken files and documents never hide the good ones"
    );
    insta::assert_json_snapshot!(document["diagnostics"]);
    let _ = parse_json(&output);
}

#[test]
fn human_output_points_at_file_line_and_column() {
    let ws = broken_workspace();
    let output = ws
        .command()
        .args(["validate"])
        .arg(ws.path().join("meaning.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let root = format!("{}/", ws.path().display());
    let stderr = String::from_utf8(output.stderr).unwrap().replace(&root, "");
    insta::assert_snapshot!(stderr);
}

#[test]
fn clean_files_pass_and_missing_paths_are_usage_errors() {
    let ws = broken_workspace();
    let output = ws
        .command()
        .args(["validate"])
        .arg(ws.path().join("good.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 pipeline(s) in 1 file(s): all valid")
    );
    let output = ws
        .command()
        .args(["validate"])
        .arg(ws.path().join("missing.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = ws.command().args(["validate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bundled_examples_are_valid() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let ws = Workspace::new();
    let output = ws
        .command()
        .args(["validate", "--output", "json"])
        .arg(examples)
        .output()
        .unwrap();
    let document = parse_json(&output);
    assert_eq!(document["valid"], true, "{document:#}");
    assert!(document["pipelines"].as_array().unwrap().len() >= 4);
}

#[test]
fn placeholders_inside_shell_quotes_are_rejected() {
    let ws = Workspace::new();
    let file = ws.write(
        "quoted.yaml",
        &format!("{HEADER}  name: quoted\nspec:\n  params:\n    who: {{ default: x }}\n  tasks:\n    - name: a\n      run: |\n        echo ok {{{{ params.who }}}}\n        echo \"hi {{{{ params.who }}}}\"\n"),
    );
    let output = ws
        .command()
        .args(["validate", "--output", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let document = parse_json(&output);
    let diagnostic = &document["diagnostics"][0];
    assert_eq!(diagnostic["code"], "unsafe_quoting");
    assert_eq!(diagnostic["line"], 12);
    assert_eq!(document["diagnostics"].as_array().unwrap().len(), 1);
}
