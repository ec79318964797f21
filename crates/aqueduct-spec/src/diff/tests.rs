//! Tests of the field-level diff: what counts as a change, how paths and values read.

use std::collections::BTreeMap;

use super::*;

const ETL: &str = r#"# A small ETL.
apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: etl
  labels:
    team: data
spec:
  schedule: "@daily"   # midnight
  timezone: Europe/Berlin
  defaults:
    retries: 2
  tasks:
    - name: extract
      run: |
        echo extracting
        echo done
    - name: load
      needs: [extract]
      run: echo load
"#;

/// The field lines of a diff, one per change, or `unchanged`.
fn lines(old: &str, new: &str) -> String {
    match diff_documents(old, new) {
        DocumentDiff::Changed { fields } => {
            let lines: Vec<String> = fields.iter().map(ToString::to_string).collect();
            lines.join("\n")
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn comments_key_order_and_quoting_are_not_changes() {
    let reordered = r#"
kind: Pipeline
apiVersion: "aqueduct.dev/v1"
spec:
  tasks:
    - run: echo load
      needs: ["extract"]
      name: load
    - name: extract
      run: "echo extracting\necho done\n"
  timezone: 'Europe/Berlin'
  defaults: {retries: 2}
  schedule: '@daily'
metadata: {labels: {team: data}, name: etl}
"#;
    assert_eq!(diff_documents(ETL, reordered), DocumentDiff::Unchanged);
    assert_eq!(diff_documents(ETL, ETL), DocumentDiff::Unchanged);
}

#[test]
fn a_changed_scalar_is_one_leaf() {
    let new = ETL.replace("\"@daily\"   # midnight", "\"@hourly\"");
    assert_eq!(
        lines(ETL, &new),
        r#"~ spec.schedule: "@daily" -> "@hourly""#
    );
    let new = ETL.replace("retries: 2", "retries: 3");
    assert_eq!(lines(ETL, &new), "~ spec.defaults.retries: 2 -> 3");
}

#[test]
fn tasks_are_matched_by_name() {
    let new = ETL.replace(
        "    - name: load\n",
        "    - name: report\n      run: echo report\n    - name: load\n",
    );
    assert_eq!(
        lines(ETL, &new),
        "+ spec.tasks[report]: {name: report, run: echo report}"
    );
    let new = ETL.replace("run: echo load", "run: echo load --full");
    assert_eq!(
        lines(ETL, &new),
        "~ spec.tasks[load].run: echo load -> echo load --full"
    );
    let new = ETL.replace("      needs: [extract]\n", "");
    assert_eq!(lines(ETL, &new), "- spec.tasks[load].needs: [extract]");
}

#[test]
fn a_multi_line_script_reads_as_a_block() {
    let new = ETL.replace("echo done", "echo finished");
    let diff = diff_documents(ETL, &new);
    let DocumentDiff::Changed { fields } = diff else {
        panic!("expected a change, got {diff:?}");
    };
    assert_eq!(
        fields,
        [FieldChange {
            path: "spec.tasks[extract].run".to_owned(),
            old: Some("|\n  echo extracting\n  echo done".to_owned()),
            new: Some("|\n  echo extracting\n  echo finished".to_owned()),
        }]
    );
}

#[test]
fn other_lists_are_matched_by_index() {
    let old = "needs: [a, b]\nargs: [1, 2, 3]\n";
    let new = "needs: [b, a]\nargs: [1, 2]\n";
    insta::assert_snapshot!(lines(old, new), @r"
    ~ needs[0]: a -> b
    ~ needs[1]: b -> a
    - args[2]: 3
    ");
}

#[test]
fn lists_without_unique_names_are_matched_by_index() {
    let old = "steps:\n  - {name: a, x: 1}\n  - {name: a, x: 2}\n";
    let new = "steps:\n  - {name: a, x: 2}\n  - {name: a, x: 2}\n";
    assert_eq!(lines(old, new), "~ steps[0].x: 1 -> 2");
    let old = "items: [{name: a}]\n";
    let new = "items: [{name: a}, {other: b}]\n";
    assert_eq!(lines(old, new), "+ items[1]: {other: b}");
}

#[test]
fn keys_that_are_not_bare_are_quoted_in_paths() {
    let old = "metadata:\n  labels:\n    team.io/owner: data\n";
    let new = "metadata:\n  labels:\n    team.io/owner: web\n";
    assert_eq!(
        lines(old, new),
        r#"~ metadata.labels["team.io/owner"]: data -> web"#
    );
    let old = "tasks: [{name: a b, run: x}]\n";
    let new = "tasks: [{name: a b, run: z}]\n";
    assert_eq!(lines(old, new), r#"~ tasks["a b"].run: x -> z"#);
}

#[test]
fn values_render_as_yaml_would_read_them() {
    let old = "a: 5\nb: true\nc: ~\nd: 1.5\ne: plain text\nf: x\ng: x\nh: x\ni: x\nj: x\n";
    let new = "a: '5'\nb: 'true'\nc: ''\nd: .inf\ne: 'a: b'\nf: yes\ng: '{{ ds }}'\nh: ' pad'\ni: -x\nj: a,b\n";
    insta::assert_snapshot!(lines(old, new), @r#"
    ~ a: 5 -> "5"
    ~ b: true -> "true"
    ~ c: null -> ""
    ~ d: 1.5 -> .inf
    ~ e: plain text -> "a: b"
    ~ f: x -> "yes"
    ~ g: x -> "{{ ds }}"
    ~ h: x -> " pad"
    ~ i: x -> "-x"
    ~ j: x -> "a,b"
    "#);
}

#[test]
fn a_type_change_is_one_entry_with_both_values() {
    let old = "env: {A: '1'}\nschedule: daily\n";
    let new = "env: [A]\nschedule: {cron: '0 0 * * *'}\n";
    insta::assert_snapshot!(lines(old, new), @r#"
    ~ env: {A: "1"} -> [A]
    ~ schedule: daily -> {cron: 0 0 * * *}
    "#);
}

#[test]
fn merge_keys_and_anchors_are_expanded() {
    let old = "base: &base {retries: 2, timeout: 1m}\nspec:\n  <<: *base\n  timeout: 5m\n";
    let new = "base: {retries: 2, timeout: 1m}\nspec: {retries: 2, timeout: 5m}\n";
    assert_eq!(diff_documents(old, new), DocumentDiff::Unchanged);
}

#[test]
fn text_that_is_not_yaml_is_compared_as_text() {
    let broken = "spec: [unclosed\n";
    assert_eq!(
        lines("spec: []\n", broken),
        "~ (document): {spec: []} -> spec: [unclosed\n"
    );
    assert_eq!(diff_documents(broken, broken), DocumentDiff::Unchanged);
}

#[test]
fn text_nested_too_deeply_is_compared_as_text() {
    let mut deep = String::new();
    for level in 0..150 {
        deep += &format!("{}k{level}:\n", "  ".repeat(level));
    }
    let changed = deep.replace("k0:", "k00:");
    let diff = diff_documents(&deep, &changed);
    let DocumentDiff::Changed { fields } = diff else {
        panic!("expected a change, got {diff:?}");
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].path, "(document)");
    let one_space: String = (0..150)
        .map(|l| format!("{}k{l}:\n", " ".repeat(l)))
        .collect();
    let changed = one_space.replace("k149:", "k149: 1");
    assert_eq!(
        lines(&one_space, &changed).lines().next(),
        Some("~ (document): k0:")
    );
    let flow = "[".repeat(10_000);
    assert!(matches!(
        diff_documents(&flow, "a: 1"),
        DocumentDiff::Changed { .. }
    ));
}

#[test]
fn several_documents_are_a_list() {
    let old = "a: 1\n---\nb: 2\n";
    let new = "a: 1\n---\nb: 3\n";
    assert_eq!(lines(old, new), "~ [1].b: 2 -> 3");
}

#[test]
fn sets_of_pipelines_are_diffed_by_name_in_order() {
    let set = |entries: &[(&str, &str)]| -> BTreeMap<String, String> {
        let owned = entries.iter().map(|(n, t)| (n.to_string(), t.to_string()));
        owned.collect()
    };
    let old = set(&[
        ("etl", ETL),
        ("gone", "kind: Pipeline\n"),
        ("same", "a: 1\n"),
    ]);
    let new_etl = ETL.replace("team: data", "team: web");
    let new = set(&[
        ("same", "a: 1 # now commented\n"),
        ("etl", &new_etl),
        ("added", "kind: Pipeline\n"),
    ]);
    let diffs = diff_pipelines(&old, &new);
    let shown: Vec<String> = diffs.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(shown.join("\n"), @r"
    + added
    ~ etl
        ~ metadata.labels.team: data -> web
    - gone
      same
    ");
    let changed: Vec<&str> = diffs
        .iter()
        .filter(|d| d.is_change())
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(changed, ["added", "etl", "gone"]);
}
