//! Tests of the structural checker against a schemars schema of a Kubernetes-style pipeline.
//!
//! Every document that goes through `check` is also deserialized with serde-saphyr, and the
//! test fails if the checker and the deserializer disagree about whether it is valid.

use aqueduct_spec::structure::{IssueKind, StructuralIssue, check_document};

mod pipeline {
    //! The test pipeline types; they exist for their schema and their deserializer.
    #![allow(dead_code, reason = "fields are only read through schemars and serde")]

    use std::collections::BTreeMap;

    use schemars::JsonSchema;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(crate) struct Pipeline {
        api_version: String,
        kind: String,
        metadata: Metadata,
        spec: Spec,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Metadata {
        name: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Spec {
        #[serde(default)]
        params: BTreeMap<String, Param>,
        tasks: Vec<Task>,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Param {
        #[serde(rename = "type")]
        kind: ParamType,
        #[serde(default)]
        default: Option<ParamValue>,
        #[serde(default)]
        description: Option<String>,
    }

    /// Without doc comments on its variants, schemars emits a plain `enum` list.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    enum ParamType {
        String,
        Integer,
        Boolean,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(untagged)]
    enum ParamValue {
        Text(String),
        Number(i64),
        Flag(bool),
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Task {
        name: String,
        #[serde(default)]
        command: Option<String>,
        #[serde(default)]
        needs: Vec<String>,
        #[serde(default)]
        trigger: Option<Trigger>,
        #[serde(default)]
        retries: Option<u32>,
        #[serde(default)]
        timeout: Option<Timeout>,
    }

    /// With doc comments on its variants, schemars emits a `oneOf` of `const`s.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    enum Trigger {
        /// Every upstream task succeeded.
        AllSuccess,
        /// Every upstream task failed.
        AllFailed,
        /// Whatever the upstream tasks did.
        Always,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(untagged)]
    enum Timeout {
        Seconds(u64),
        Duration(String),
    }
}

use pipeline::Pipeline;

fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Pipeline)).expect("a schema is JSON")
}

/// Checks `yaml` and asserts that serde-saphyr agrees on whether it is valid.
fn check(yaml: &str) -> Vec<StructuralIssue> {
    let issues = check_document(yaml, 0, &schema());
    let deserialized = serde_saphyr::from_str::<Pipeline>(yaml);
    assert_eq!(
        issues.is_empty(),
        deserialized.is_ok(),
        "the checker and serde-saphyr disagree on\n{yaml}\nissues: {issues:#?}\nserde-saphyr: {deserialized:?}"
    );
    issues
}

fn issue(
    (line, column): (usize, usize),
    path: &str,
    kind: IssueKind,
    message: &str,
    hint: Option<&str>,
) -> StructuralIssue {
    StructuralIssue {
        line,
        column,
        path: path.to_owned(),
        kind,
        message: message.to_owned(),
        hint: hint.map(str::to_owned),
    }
}

/// A valid pipeline, with the given task fields appended to its single task.
fn with_task(fields: &str) -> String {
    format!(
        "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata:\n  name: nightly\nspec:\n  tasks:\n    - name: extract\n{}",
        fields
            .lines()
            .map(|line| format!("      {line}\n"))
            .collect::<String>()
    )
}

const CLEAN: &str = r#"
apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: nightly
  labels:
    team: data
    tier: "1"
spec:
  params:
    date:
      type: string
      default: today
      description: the day to load
    limit:
      type: integer
      default: 100
    dry_run:
      type: boolean
      default: false
  tasks:
    - name: extract
      command: ./extract.sh {{ params.date }}
      retries: 3
      timeout: 5m
    - name: load
      command: ./load.sh
      needs: [extract]
      trigger: all_success
      timeout: 600
"#;

#[test]
fn clean_document_has_no_issues() {
    assert_eq!(check(CLEAN), vec![]);
}

#[test]
fn reports_every_problem_at_once() {
    let yaml = "\
apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: nightly
spec:
  tasks:
    - name: extract
      comand: ./extract.sh
    - name: load
      command: ./load.sh
      retries: lots
      trigger: all_sucess
";
    let expected = vec![
        issue(
            (8, 7),
            "spec.tasks[0].comand",
            IssueKind::UnknownField,
            "unknown field `comand`",
            Some("did you mean `command`?"),
        ),
        issue(
            (11, 16),
            "spec.tasks[1].retries",
            IssueKind::WrongType,
            "expected an integer, found a string",
            None,
        ),
        issue(
            (12, 16),
            "spec.tasks[1].trigger",
            IssueKind::InvalidValue,
            "unknown value `all_sucess`",
            Some("did you mean `all_success`?"),
        ),
    ];
    assert_eq!(check(yaml), expected);
}

#[test]
fn unknown_field_without_a_close_match_lists_the_known_ones() {
    let issues = check(&with_task("colour: blue"));
    let hint = "expected one of: `command`, `name`, `needs`, `retries`, `timeout`, `trigger`";
    let expected = issue(
        (8, 7),
        "spec.tasks[0].colour",
        IssueKind::UnknownField,
        "unknown field `colour`",
        Some(hint),
    );
    assert_eq!(issues, vec![expected]);
}

#[test]
fn missing_required_fields_are_reported_at_their_mapping() {
    let yaml =
        "apiVersion: aqueduct.dev/v1\nmetadata: {}\nspec:\n  tasks:\n    - command: ./run.sh\n";
    let expected = vec![
        issue(
            (1, 1),
            "",
            IssueKind::MissingField,
            "missing field `kind`",
            None,
        ),
        issue(
            (2, 11),
            "metadata",
            IssueKind::MissingField,
            "missing field `name`",
            None,
        ),
        issue(
            (5, 7),
            "spec.tasks[0]",
            IssueKind::MissingField,
            "missing field `name`",
            None,
        ),
    ];
    assert_eq!(check(yaml), expected);
}

#[test]
fn nested_map_values_are_checked() {
    let yaml = "\
apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: nightly
  labels:
    team: {name: data}
spec:
  params:
    date:
      type: strin
      defualt: today
  tasks: []
";
    let expected = vec![
        issue(
            (6, 11),
            "metadata.labels.team",
            IssueKind::WrongType,
            "expected a string, found a mapping",
            None,
        ),
        issue(
            (10, 13),
            "spec.params.date.type",
            IssueKind::InvalidValue,
            "unknown value `strin`",
            Some("did you mean `string`?"),
        ),
        issue(
            (11, 7),
            "spec.params.date.defualt",
            IssueKind::UnknownField,
            "unknown field `defualt`",
            Some("did you mean `default`?"),
        ),
    ];
    assert_eq!(check(yaml), expected);
}

#[test]
fn option_fields_accept_null() {
    let yaml = with_task("command: ~\ntrigger: null\nretries:\ntimeout: ~");
    assert_eq!(check(&yaml), vec![]);
}

#[test]
fn a_required_string_rejects_null() {
    let issues = check(&with_task("needs: [~]"));
    let expected = issue(
        (8, 15),
        "spec.tasks[0].needs[0]",
        IssueKind::WrongType,
        "expected a string, found null",
        None,
    );
    assert_eq!(issues, vec![expected]);
}

#[test]
fn scalars_coerce_to_declared_types_like_serde_saphyr() {
    let yaml = with_task("command: 42\nneeds: [true, 1.5]\nretries: \"3\"");
    assert_eq!(check(&yaml), vec![]);
    assert_eq!(check(&with_task("retries: 0x10")), vec![]);
}

#[test]
fn untagged_string_or_integer_accepts_either() {
    assert_eq!(check(&with_task("timeout: 30")), vec![]);
    assert_eq!(check(&with_task("timeout: \"30\"")), vec![]);
    assert_eq!(check(&with_task("timeout: 5m")), vec![]);
}

#[test]
fn untagged_string_or_integer_rejects_other_shapes_in_one_issue() {
    let issues = check(&with_task("timeout: [30]"));
    let expected = issue(
        (8, 16),
        "spec.tasks[0].timeout",
        IssueKind::WrongType,
        "expected an integer or a string, found a sequence",
        None,
    );
    assert_eq!(issues, vec![expected]);

    // serde sees an untagged enum's scalar by its own type, so a plain `true` is no string.
    let issues = check(&with_task("timeout: true"));
    assert_eq!(
        issues[0].message,
        "expected an integer or a string, found a boolean"
    );
}

#[test]
fn untagged_enum_reports_the_branch_the_value_is_meant_for() {
    let issues = check(&with_task("timeout: -5"));
    let expected = issue(
        (8, 16),
        "spec.tasks[0].timeout",
        IssueKind::InvalidValue,
        "`-5` is less than the minimum of 0",
        None,
    );
    assert_eq!(issues, vec![expected]);
}

#[test]
fn negative_or_oversized_number_for_u32_is_invalid() {
    let issues = check(&with_task("retries: -1"));
    let expected = issue(
        (8, 16),
        "spec.tasks[0].retries",
        IssueKind::InvalidValue,
        "`-1` is less than the minimum of 0",
        None,
    );
    assert_eq!(issues, vec![expected]);

    let issues = check(&with_task("retries: 5000000000"));
    assert_eq!(
        issues[0].message,
        "`5000000000` is more than the maximum of 4294967295"
    );
}

#[test]
fn duplicate_keys_are_reported_with_the_other_problems() {
    let yaml = "\
apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: nightly
  name: weekly
spec:
  tasks:
    - {name: a, name: b, retries: x}
";
    let expected = vec![
        issue(
            (5, 3),
            "metadata.name",
            IssueKind::InvalidValue,
            "duplicate key `name`",
            None,
        ),
        issue(
            (8, 17),
            "spec.tasks[0].name",
            IssueKind::InvalidValue,
            "duplicate key `name`",
            None,
        ),
        issue(
            (8, 35),
            "spec.tasks[0].retries",
            IssueKind::WrongType,
            "expected an integer, found a string",
            None,
        ),
    ];
    assert_eq!(check(yaml), expected);
}

#[test]
fn syntax_error_is_the_only_issue() {
    let yaml = "apiVersion: aqueduct.dev/v1\nkind: [Pipeline\nextra: field\n";
    let issues = check(yaml);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0].kind, IssueKind::Syntax);
    assert_eq!((issues[0].line, issues[0].column), (3, 6));
    assert_eq!(issues[0].path, "");
}

#[test]
fn line_offset_is_added_to_every_line() {
    let yaml = "apiVersion: aqueduct.dev/v1\nkind: Pipeline\nmetadata: {name: x, nme: y}\n";
    let lines = |offset| {
        let issues = check_document(yaml, offset, &schema());
        issues.iter().map(|issue| issue.line).collect::<Vec<_>>()
    };
    assert_eq!(lines(0), vec![1, 3]);
    assert_eq!(lines(40), vec![41, 43]);
    let syntax_error = check_document("kind: a: b\n", 40, &schema());
    assert_eq!(
        (syntax_error[0].kind, syntax_error[0].line),
        (IssueKind::Syntax, 41)
    );
}

#[test]
fn empty_documents_have_nothing_to_check() {
    // serde-saphyr reports "unexpected end of input" here; the caller decides about emptiness.
    for yaml in ["", "\n\n", "# nothing yet\n", "---\n", "~\n"] {
        assert_eq!(check_document(yaml, 0, &schema()), vec![], "{yaml:?}");
    }
}

#[test]
fn the_root_must_be_a_mapping() {
    let expected = |found: &str, column| {
        let message = format!("expected a mapping, found {found}");
        vec![issue((1, column), "", IssueKind::WrongType, &message, None)]
    };
    assert_eq!(
        check("- apiVersion: aqueduct.dev/v1\n"),
        expected("a sequence", 1)
    );
    assert_eq!(check("just some text\n"), expected("a string", 1));
    assert_eq!(check("--- 42\n"), expected("an integer", 5));
}

#[test]
fn merge_keys_are_expanded() {
    let yaml = "\
apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: nightly
spec:
  tasks:
    - &defaults
      name: extract
      retries: 3
    - <<: *defaults
      name: load
";
    assert_eq!(check(yaml), vec![]);
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    for yaml in [
        "- ".repeat(100_000),
        "[".repeat(100_000),
        "{a: ".repeat(100_000),
    ] {
        let issues = check_document(&yaml, 0, &schema());
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].kind, IssueKind::Syntax);
    }
}

#[test]
fn recursive_schemas_are_walked_to_a_bounded_depth() {
    let schema = serde_json::json!({
        "$ref": "#/$defs/Tree",
        "$defs": {"Tree": {"anyOf": [
            {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
            {"type": "object", "additionalProperties": {"$ref": "#/$defs/Tree"}},
            {"type": "string"},
        ]}},
    });
    let flow = format!("{}true{}", "[".repeat(250), "]".repeat(250));
    let block: String = (0..60)
        .map(|depth| format!("{}k:\n", "  ".repeat(depth)))
        .collect();
    for yaml in [flow, format!("{block}{}- [true]\n", "  ".repeat(60))] {
        let _ = check_document(&yaml, 0, &schema);
    }
}

#[test]
fn never_panics_on_odd_input() {
    let odd = [
        "? [a, b]\n: c\n",
        "*unknown\n",
        "a: &x b\nc: *x\n",
        "!!binary aGVsbG8=\n",
        "'unterminated\n",
        "\u{feff}apiVersion: v1\n",
        "spec: {tasks: [{name: é, name: é}]}\n",
        "\"\": 1\n\"\": 2\n",
    ];
    for yaml in odd {
        let _ = check_document(yaml, usize::MAX, &schema());
        let _ = check_document(yaml, 0, &serde_json::json!({"$ref": "#/nowhere"}));
        let _ = check_document(yaml, 0, &serde_json::json!({"$ref": "#"}));
    }
}

mod flattened {
    //! A task whose kind is a `#[serde(flatten)]` enum: `oneOf` beside `properties`.
    #![allow(dead_code, reason = "fields are only read through schemars and serde")]

    use schemars::JsonSchema;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Task {
        name: String,
        #[serde(flatten)]
        action: Action,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    enum Action {
        Command(String),
        Script { path: String },
    }
}

#[test]
fn flattened_enum_fields_are_known_and_a_missing_variant_is_named() {
    let schema = serde_json::to_value(schemars::schema_for!(flattened::Task)).expect("JSON");
    let check_flat = |yaml: &str| {
        let issues = check_document(yaml, 0, &schema);
        let deserialized = serde_saphyr::from_str::<flattened::Task>(yaml);
        assert_eq!(
            issues.is_empty(),
            deserialized.is_ok(),
            "{yaml}\n{issues:#?}"
        );
        issues
    };
    assert_eq!(check_flat("name: a\ncommand: ./run.sh\n"), vec![]);
    assert_eq!(check_flat("name: a\nscript: {path: run.sh}\n"), vec![]);
    let hint = Some("did you mean `command`?");
    let expected = vec![
        issue(
            (1, 1),
            "",
            IssueKind::MissingField,
            "missing one of the fields `command`, `script`",
            hint,
        ),
        issue(
            (2, 1),
            "comand",
            IssueKind::UnknownField,
            "unknown field `comand`",
            hint,
        ),
    ];
    assert_eq!(check_flat("name: a\ncomand: ./run.sh\n"), expected);
    let issues = check_flat("name: a\ncommand: ./run.sh\nextra: 1\n");
    assert_eq!(issues[0].message, "unknown field `extra`");
}

#[test]
fn a_hand_written_type_list_reads_the_value_by_its_own_type() {
    // Like `TextOrNumber`: a hand-written schema of a type deserialized with `deserialize_any`.
    let schema = serde_json::json!({"type": "object", "properties": {
        "timeout": {"type": ["string", "integer"]},
    }});
    let messages = |yaml: &str| {
        let issues = check_document(yaml, 0, &schema);
        issues
            .into_iter()
            .map(|issue| issue.message)
            .collect::<Vec<_>>()
    };
    assert_eq!(messages("timeout: 5m\n"), Vec::<String>::new());
    assert_eq!(messages("timeout: 30\n"), Vec::<String>::new());
    assert_eq!(messages("timeout: \"1.5\"\n"), Vec::<String>::new());
    assert_eq!(
        messages("timeout: 1.5\n"),
        vec!["expected a string or an integer, found a number"]
    );
    assert_eq!(
        messages("timeout: on\n"),
        vec!["expected a string or an integer, found a boolean"]
    );
}
