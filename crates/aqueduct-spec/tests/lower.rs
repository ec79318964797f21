//! Lowering: defaults merge into tasks, built-in defaults apply, and the model is what the YAML says.

use std::path::Path;
use std::time::Duration;

use aqueduct_core::{ParamType, ParamValue, SecretSource, TriggerRule};
use aqueduct_spec::{Code, parse_source};

const FULL: &str = r#"apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: full
  labels: { team: data }
  description: everything at once
spec:
  params:
    limit: { default: 5 }
    ratio: { type: number, default: 1 }
    env: { type: string, default: dev, enum: [dev, prod] }
    token: { secret: true, default: abc }
  defaults:
    retries: 2
    retryDelay: 10s
    timeout: 1h
    resources: { memory: 1Gi }
  env:
    BASE: "/data/{{ ds }}"
  secrets:
    - { name: API_KEY, fromEnv: API_KEY }
    - { name: CERT, fromFile: cert.pem }
  tasks:
    - name: a
      run: echo a
    - name: b
      run: echo b
      needs: [a]
      trigger: all_done
      when: params.limit > 3
      retries: 0
      retryExponentialBackoff: true
      maxRetryDelay: 1m
      retryOnExitCodes: [75]
      timeout: 90
      skipOnExitCode: 42
      resources: { memory: 256Mi }
      workdir: sub
      env: { X: "1" }
"#;

#[test]
fn task_settings_override_defaults_which_override_built_ins() {
    let loaded = parse_source(Path::new("/p/full.yaml"), FULL);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let pipeline = &loaded.pipelines[0];
    assert_eq!(pipeline.name, "full");
    assert_eq!(pipeline.labels["team"], "data");
    assert_eq!(pipeline.source_dir, Path::new("/p"));
    let a = &pipeline.tasks[0];
    assert_eq!(a.retry.retries, 2);
    assert_eq!(a.retry.delay, Duration::from_secs(10));
    assert_eq!(a.timeout, Some(Duration::from_secs(3600)));
    assert_eq!(a.memory_limit, Some(1 << 30));
    assert_eq!(a.skip_on_exit_code, Some(99));
    assert_eq!(a.trigger, TriggerRule::AllSuccess);
    let b = &pipeline.tasks[1];
    assert_eq!(b.retry.retries, 0);
    assert!(b.retry.exponential);
    assert_eq!(b.retry.max_delay, Some(Duration::from_secs(60)));
    assert_eq!(b.retry.on_exit_codes, [75]);
    assert_eq!(b.timeout, Some(Duration::from_secs(90)));
    assert_eq!(b.skip_on_exit_code, Some(42));
    assert_eq!(b.memory_limit, Some(256 << 20));
    assert_eq!(b.trigger, TriggerRule::AllDone);
    assert_eq!(b.when.as_deref(), Some("params.limit > 3"));
    assert_eq!(b.workdir.as_deref(), Some(Path::new("sub")));
    assert_eq!(pipeline.dag.upstream(1), [0]);
}

#[test]
fn params_and_secrets() {
    let pipeline = parse_source(Path::new("full.yaml"), FULL)
        .pipelines
        .remove(0);
    let limit = pipeline.param("limit").unwrap();
    assert_eq!(limit.param_type, ParamType::Integer);
    assert_eq!(
        pipeline.param("ratio").unwrap().default,
        Some(ParamValue::Number(1.0))
    );
    assert_eq!(pipeline.param("env").unwrap().allowed.len(), 2);
    assert!(pipeline.param("token").unwrap().secret);
    assert_eq!(
        pipeline.secrets[0].source,
        SecretSource::Env("API_KEY".into())
    );
    assert_eq!(
        pipeline.secrets[1].source,
        SecretSource::File("cert.pem".into())
    );
    assert_eq!(
        pipeline.env,
        [("BASE".to_owned(), "/data/{{ ds }}".to_owned())]
    );
}

#[test]
fn meaning_errors_are_all_reported_in_line_order() {
    let text = FULL
        .replace("default: dev, enum", "default: stg, enum")
        .replace("apiVersion: aqueduct.dev/v1", "apiVersion: aqueduct.dev/v2")
        .replace("- { name: CERT, fromFile: cert.pem }", "- { name: CERT }")
        .replace("skipOnExitCode: 42", "skipOnExitCode: 300")
        .replace("retryDelay: 10s", "retryDelay: 10 seconds");
    let loaded = parse_source(Path::new("full.yaml"), &text);
    let codes: Vec<(usize, Code)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.line, d.code))
        .collect();
    assert_eq!(
        codes,
        [
            (1, Code::ApiVersion),
            (11, Code::BadParam),
            (15, Code::BadDuration),
            (22, Code::BadSecret),
            (36, Code::InvalidValue)
        ]
    );
    assert!(loaded.pipelines.is_empty());
}

const NOTIFIED: &str = r#"apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: notified
spec:
  notifications:
    - on: [failure, retry]
      webhook: { url: "http://127.0.0.1:9/hook", secretEnv: HOOK_KEY }
      message: "{{ pipeline }} {{ task }} failed"
    - on: [success]
      slack: { urlEnv: SLACK_URL }
  tasks:
    - name: a
      run: echo a
"#;

#[test]
fn notifications_name_their_events_and_one_sink() {
    use aqueduct_core::notify::{NotifyOn, Sink};
    let loaded = parse_source(Path::new("n.yaml"), NOTIFIED);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let notifications = &loaded.pipelines[0].notifications;
    assert_eq!(notifications[0].on, [NotifyOn::Failure, NotifyOn::Retry]);
    assert_eq!(
        notifications[0].sink,
        Sink::Webhook {
            url: "http://127.0.0.1:9/hook".into(),
            secret_env: Some("HOOK_KEY".into())
        }
    );
    assert_eq!(
        notifications[0].message.as_deref(),
        Some("{{ pipeline }} {{ task }} failed")
    );
    assert_eq!(
        notifications[1].sink,
        Sink::Slack {
            url_env: "SLACK_URL".into()
        }
    );
}

#[test]
fn bad_notifications_are_reported_where_they_are() {
    let text = NOTIFIED
        .replace("[failure, retry]", "[failure, sla]")
        .replace("http://127.0.0.1:9/hook", "ftp://x")
        .replace("{{ pipeline }} {{ task }} failed", "{{ pipeline")
        .replace("slack: { urlEnv: SLACK_URL }", "slack: { urlEnv: 1-BAD }");
    let loaded = parse_source(Path::new("n.yaml"), &text);
    let codes: Vec<(usize, usize, Code)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.code))
        .collect();
    assert_eq!(
        codes,
        [
            (7, 21, Code::BadNotification),
            (8, 23, Code::BadNotification),
            (9, 16, Code::BadTemplate),
            (11, 24, Code::BadNotification),
        ]
    );
    let both = NOTIFIED.replace(
        "      slack: { urlEnv: SLACK_URL }",
        "      slack: { urlEnv: SLACK_URL }\n      webhook: { url: \"http://x\" }",
    );
    let loaded = parse_source(Path::new("n.yaml"), &both);
    let message = &loaded.diagnostics[0].message;
    assert_eq!(loaded.diagnostics[0].line, 10, "{message}");
    assert!(
        message.contains("exactly one of `webhook`, `slack` or `email`"),
        "{message}"
    );
}

const EMAILED: &str = r#"apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: emailed
spec:
  notifications:
    - on: [failure]
      email:
        to: [oncall@example.com, "data+alerts@mail.example-corp.org", root@localhost, oncall@example.com]
        subject: "{{ pipeline }}: {{ task }} failed"
      message: "{{ task }} failed on {{ ds }}"
  tasks:
    - name: a
      run: echo a
"#;

#[test]
fn email_notifications_name_their_recipients_once_and_a_subject() {
    use aqueduct_core::notify::Sink;
    let loaded = parse_source(Path::new("e.yaml"), EMAILED);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let notification = &loaded.pipelines[0].notifications[0];
    assert_eq!(
        notification.sink,
        Sink::Email {
            to: vec![
                "oncall@example.com".into(),
                "data+alerts@mail.example-corp.org".into(),
                "root@localhost".into()
            ],
            subject: Some("{{ pipeline }}: {{ task }} failed".into()),
        }
    );
    assert_eq!(
        notification.sink.key(),
        "email oncall@example.com,data+alerts@mail.example-corp.org,root@localhost"
    );
    assert_eq!(
        notification.message.as_deref(),
        Some("{{ task }} failed on {{ ds }}")
    );
    let no_subject = EMAILED.replace(
        "        subject: \"{{ pipeline }}: {{ task }} failed\"\n",
        "",
    );
    let loaded = parse_source(Path::new("e.yaml"), &no_subject);
    assert!(matches!(
        &loaded.pipelines[0].notifications[0].sink,
        Sink::Email { subject: None, .. }
    ));
}

#[test]
fn bad_email_addresses_are_reported_where_they_are() {
    let text = EMAILED
        .replace(
            "[oncall@example.com, \"data+alerts@mail.example-corp.org\", root@localhost, oncall@example.com]",
            "[oncall, \"Ops <ops@x.org>\", a@b@c.org, x@-bad.org, a..b@x.org, ok@x.org, \"sp ace@x.org\", x@y.]",
        )
        .replace("{{ pipeline }}: {{ task }} failed", "{{ pipeline");
    let loaded = parse_source(Path::new("e.yaml"), &text);
    let found: Vec<(usize, usize, Code, &str)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.code, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                9,
                14,
                Code::BadNotification,
                "`oncall` is not an e-mail address"
            ),
            (
                9,
                22,
                Code::BadNotification,
                "`Ops <ops@x.org>` is not an e-mail address"
            ),
            (
                9,
                41,
                Code::BadNotification,
                "`a@b@c.org` is not an e-mail address"
            ),
            (
                9,
                52,
                Code::BadNotification,
                "`x@-bad.org` is not an e-mail address"
            ),
            (
                9,
                64,
                Code::BadNotification,
                "`a..b@x.org` is not an e-mail address"
            ),
            (
                9,
                86,
                Code::BadNotification,
                "`sp ace@x.org` is not an e-mail address"
            ),
            (
                9,
                102,
                Code::BadNotification,
                "`x@y.` is not an e-mail address"
            ),
            (
                10,
                18,
                Code::BadTemplate,
                "bad template in e-mail subject: syntax error: unexpected end of input, expected end of variable block"
            ),
        ],
        "{:#?}",
        loaded.diagnostics
    );
    assert!(
        loaded.diagnostics[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("oncall@example.com")
    );
    let nobody = EMAILED.replace(
        "[oncall@example.com, \"data+alerts@mail.example-corp.org\", root@localhost, oncall@example.com]",
        "[]",
    );
    let loaded = parse_source(Path::new("e.yaml"), &nobody);
    let message = &loaded.diagnostics[0].message;
    assert_eq!(
        (
            loaded.diagnostics.len(),
            loaded.diagnostics[0].line,
            loaded.diagnostics[0].code
        ),
        (1, 7, Code::BadNotification),
        "{message}"
    );
    assert!(
        message.contains("at least one address in `to`"),
        "{message}"
    );
    let two_sinks = EMAILED.replace(
        "      email:\n",
        "      slack: { urlEnv: SLACK_URL }\n      email:\n",
    );
    let loaded = parse_source(Path::new("e.yaml"), &two_sinks);
    assert!(
        loaded.diagnostics[0].message.contains("exactly one of"),
        "{:?}",
        loaded.diagnostics
    );
}

#[test]
fn deadlines_are_a_duration_after_a_start_or_a_time_of_day() {
    use aqueduct_core::notify::{DeadlineFrom, DeadlineSpec};
    let with = |deadline: &str| {
        let text = NOTIFIED.replace("  tasks:\n", &format!("  deadline: {deadline}\n  tasks:\n"));
        parse_source(Path::new("n.yaml"), &text)
    };
    let loaded = with("{ within: 30m, from: logical_date }");
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(
        loaded.pipelines[0].deadline,
        Some(DeadlineSpec::Within {
            from: DeadlineFrom::LogicalDate,
            within: Duration::from_secs(1800)
        })
    );
    let by = with("{ by: \"06:30\" }");
    assert_eq!(
        by.pipelines[0].deadline,
        Some(DeadlineSpec::By {
            hour: 6,
            minute: 30
        })
    );
    for bad in [
        "{ within: soon }",
        "{ by: \"25:00\" }",
        "{ within: 1h, by: \"06:00\" }",
        "{ within: 1h, from: start }",
    ] {
        let loaded = with(bad);
        assert_eq!(
            loaded.diagnostics.len(),
            1,
            "{bad}: {:?}",
            loaded.diagnostics
        );
        assert_eq!(loaded.diagnostics[0].line, 12, "{bad}");
    }
}

#[test]
fn a_task_has_its_own_deadline_checked_as_the_runs_is() {
    use aqueduct_core::notify::{DeadlineFrom, DeadlineSpec};
    let with = |deadline: &str| {
        let text = NOTIFIED.replace(
            "      run: echo a\n",
            &format!("      run: echo a\n      deadline: {deadline}\n"),
        );
        parse_source(Path::new("n.yaml"), &text)
    };
    let loaded = with("{ within: 10m }");
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.pipelines[0].deadline, None);
    assert_eq!(
        loaded.pipelines[0].tasks[0].deadline,
        Some(DeadlineSpec::Within {
            from: DeadlineFrom::RunAfter,
            within: Duration::from_secs(600)
        })
    );
    let bad = with("{ by: \"6am\" }");
    let problems: Vec<(usize, Code)> = bad.diagnostics.iter().map(|d| (d.line, d.code)).collect();
    assert_eq!(
        problems,
        [(15, Code::BadNotification)],
        "{:?}",
        bad.diagnostics
    );
}

#[test]
fn app_events_belong_to_the_servers_config_not_to_a_pipeline() {
    use aqueduct_core::notify::NotifyOn;
    let text = NOTIFIED.replace("[failure, retry]", "[failure, sync_failed]");
    let loaded = parse_source(Path::new("n.yaml"), &text);
    let problem = &loaded.diagnostics[0];
    assert_eq!((problem.line, problem.column), (7, 21));
    assert!(
        problem
            .message
            .contains("`sync_failed` is an event of a GitOps app"),
        "{}",
        problem.message
    );

    // the config file's entries take them, and report problems at their position in it
    let config = "defaults:\n  - on: [sync_failed, health_degraded, failure]\n    \
                  webhook: { url: \"http://127.0.0.1:9/hook\" }\n  - on: [sla]\n    \
                  slack: { urlEnv: SLACK }\n";
    #[derive(serde::Deserialize)]
    struct File {
        defaults: Vec<aqueduct_spec::raw::NotificationDoc>,
    }
    let file: File = serde_saphyr::from_str(config).unwrap();
    let lower = aqueduct_spec::lower::lower_notification_list;
    let problems = lower(&file.defaults, Path::new("aq.yaml"), config).unwrap_err();
    let found: Vec<(usize, usize, Code)> = problems
        .iter()
        .map(|d| (d.line, d.column, d.code))
        .collect();
    assert_eq!(found, [(4, 10, Code::BadNotification)]);
    let specs = lower(&file.defaults[..1], Path::new("aq.yaml"), config).unwrap();
    assert_eq!(
        specs[0].on,
        [
            NotifyOn::SyncFailed,
            NotifyOn::HealthDegraded,
            NotifyOn::Failure
        ]
    );
}
