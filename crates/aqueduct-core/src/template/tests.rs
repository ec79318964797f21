//! Rendering, quoting and sandboxing of templates.

use super::*;

fn run_context() -> RunContext {
    RunContext {
        pipeline: "etl".into(),
        run_id: "manual__2026-03-29T00:00:00+00:00".into(),
        logical_date: "2026-03-29T00:00:00Z".parse().unwrap(),
        data_interval_start: "2026-03-28T00:00:00Z".parse().unwrap(),
        data_interval_end: "2026-03-29T00:00:00Z".parse().unwrap(),
        params: [
            (
                "table".to_owned(),
                ParamValue::String("it's; rm -rf /".into()),
            ),
            ("limit".to_owned(), ParamValue::Integer(10)),
            ("full".to_owned(), ParamValue::Boolean(false)),
        ]
        .into(),
    }
}

fn context() -> Value {
    let outputs = [(
        "extract".to_owned(),
        [("rows".to_owned(), "42".to_owned())].into(),
    )]
    .into();
    task_context(&run_context(), "load", 2, &outputs)
}

#[test]
fn airflow_names_render() {
    let t = Templates::new();
    let out = t
        .render_text(
            "{{ ds }} {{ ds_nodash }} {{ ts }} {{ ts_nodash }} {{ data_interval_start }} {{ run_id }} {{ pipeline.name }} {{ task.name }} {{ try_number }}",
            &context(),
        )
        .unwrap();
    assert_eq!(
        out,
        "2026-03-29 20260329 2026-03-29T00:00:00+00:00 20260329T000000 2026-03-28T00:00:00+00:00 manual__2026-03-29T00:00:00+00:00 etl load 2"
    );
}

#[test]
fn run_values_are_shell_quoted() {
    let t = Templates::new();
    let out = t
        .render_command("load.sh --table {{ params.table }} --date {{ ds }} --rows {{ tasks.extract.outputs.rows }}", &context())
        .unwrap();
    assert_eq!(
        out,
        r"load.sh --table 'it'\''s; rm -rf /' --date 2026-03-29 --rows 42"
    );
}

#[test]
fn hostile_value_stays_one_argument_in_sh() {
    let t = Templates::new();
    let out = t
        .render_command("printf '%s|' {{ params.table }}", &context())
        .unwrap();
    #[allow(clippy::disallowed_methods)] // the test checks the rendered command in a real shell
    let printed = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(printed.stdout).unwrap(),
        "it's; rm -rf /|"
    );
}

#[test]
fn explicit_filter_and_safe_opt_out() {
    let t = Templates::new();
    assert_eq!(
        t.render_command("{{ params.table | shell_quote }}", &context())
            .unwrap(),
        r"'it'\''s; rm -rf /'"
    );
    assert_eq!(
        t.render_command("{{ 'a b' | safe }}", &context()).unwrap(),
        "a b"
    );
    assert_eq!(
        t.render_text("{{ params.table }}", &context()).unwrap(),
        "it's; rm -rf /"
    );
    assert_eq!(
        t.render_text("{{ params.table | shell_quote }}", &context())
            .unwrap(),
        r"'it'\''s; rm -rf /'"
    );
}

#[test]
fn undefined_names_are_errors_with_lines() {
    let t = Templates::new();
    let err = t
        .render_command("echo ok\necho {{ params.nope }}", &context())
        .unwrap_err();
    assert_eq!(err.line, Some(2));
    assert!(err.message.contains("undefined"), "{}", err.message);
}

#[test]
fn syntax_errors_are_caught_before_running() {
    let t = Templates::new();
    let err = t.check_template("echo {{ ds ").unwrap_err();
    assert_eq!(err.line, Some(1));
    assert!(t.check_condition("params.limit >").is_err());
    assert!(t.check_condition("{{ params.limit > 3 }}").is_ok());
}

#[test]
fn conditions() {
    let t = Templates::new();
    let ctx = context();
    assert!(t.evaluate_condition("params.limit > 3", &ctx).unwrap());
    assert!(!t.evaluate_condition("{{ params.full }}", &ctx).unwrap());
    assert!(
        t.evaluate_condition("tasks.extract.outputs.rows | int > 0", &ctx)
            .unwrap()
    );
}

#[test]
fn sandbox_has_no_file_access_and_bounded_loops() {
    let t = Templates::new();
    assert!(
        t.render_text("{% include '/etc/passwd' %}", &context())
            .is_err()
    );
    assert!(
        t.render_text(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            &context()
        )
        .is_err()
    );
}

#[test]
fn outputs_parse() {
    let outputs = parse_outputs("rows=42\n# comment\n\npath=/tmp/a=b\nrows=43\nnot a pair\n");
    assert_eq!(outputs.get("rows").map(String::as_str), Some("43"));
    assert_eq!(outputs.get("path").map(String::as_str), Some("/tmp/a=b"));
    assert_eq!(outputs.len(), 2);
}

#[test]
fn quoting() {
    assert_eq!(shell_quote("2026-01-01"), "2026-01-01");
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("$(id)"), "'$(id)'");
    assert_eq!(env_name("my-task.x"), "MY_TASK_X");
}

#[test]
fn placeholders_inside_quotes_are_found() {
    let found = quoted_placeholders(
        "echo \"hi {{ params.who }}\"\necho '{{ tasks.a.outputs.x }}'\necho {{ params.ok }} \"{{ ds }}\"",
    );
    assert_eq!(
        found,
        [
            (1, "{{ params.who }}".to_owned()),
            (2, "{{ tasks.a.outputs.x }}".to_owned())
        ]
    );
    assert!(quoted_placeholders("echo \"{{ params.x | safe }}\"").is_empty());
    assert!(quoted_placeholders("# it's fine\necho {{ params.x }}").is_empty());
    assert!(quoted_placeholders("echo \"a\\\"b\" {{ params.x }}").is_empty());
    assert_eq!(quoted_placeholders("echo \"$(\n{{ params.x }})\"")[0].0, 2);
}

#[test]
fn undefined_condition_is_an_error() {
    let t = Templates::new();
    let err = t.evaluate_condition("params.nope", &context()).unwrap_err();
    assert!(err.message.contains("undefined"), "{}", err.message);
}
