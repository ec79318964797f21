//! `aqueduct run`: outcomes, retries, timeouts, limits, outputs, cancel and injection safety.

use std::time::Duration;

use jiff::Timestamp;

use crate::support::{Workspace, alive, log_of, read_pid, task, wait_until};

#[test]
fn success_runs_tasks_in_order_and_reports_json() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "ok",
        "  tasks:\n    - name: first\n      run: echo one >> order.txt\n    - name: second\n      needs: [first]\n      run: echo two >> order.txt\n",
    );
    let (code, report) = ws.run_json(&file, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["pipeline"], "ok");
    assert_eq!(report["state"], "success");
    assert!(report["run_id"].as_str().unwrap().starts_with("manual__"));
    for name in ["first", "second"] {
        let t = task(&report, name);
        assert_eq!(t["state"], "success");
        assert_eq!(t["attempts"], 1);
        assert_eq!(t["exit_code"], 0);
        assert!(t["duration_ms"].is_u64());
    }
    // tasks run in the pipeline file's directory, in dependency order
    assert_eq!(
        std::fs::read_to_string(ws.path().join("order.txt")).unwrap(),
        "one\ntwo\n"
    );
}

#[test]
fn failure_fails_the_run_and_marks_downstream_upstream_failed() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "bad",
        "  tasks:\n    - name: boom\n      run: echo about to fail; echo oops >&2; exit 3\n    - name: after\n      needs: [boom]\n      run: 'true'\n",
    );
    let (code, report) = ws.run_json(&file, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["state"], "failed");
    let boom = task(&report, "boom");
    assert_eq!(boom["state"], "failed");
    assert_eq!(boom["exit_code"], 3);
    assert_eq!(task(&report, "after")["state"], "upstream_failed");
    let log = log_of(&report, "boom", 1);
    assert!(log.contains(" out about to fail\n"), "{log}");
    assert!(log.contains(" err oops\n"), "{log}");
}

#[test]
fn retries_with_exponential_backoff_until_success() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "flaky",
        "  tasks:\n    - name: flaky\n      retries: 3\n      retryDelay: 200ms\n      retryExponentialBackoff: true\n      run: |\n        echo \"try {{ try_number }}\"\n        n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count\n        [ $n -ge 3 ]\n",
    );
    let (code, report) = ws.run_json(&file, &[]);
    assert_eq!(code, 0, "{report:#}");
    let flaky = task(&report, "flaky");
    assert_eq!(flaky["state"], "success");
    assert_eq!(flaky["attempts"], 3);
    let first_line_at = |attempt: usize| -> Timestamp {
        let log = log_of(&report, "flaky", attempt);
        assert!(log.contains(&format!(" out try {attempt}\n")), "{log}");
        log.split(' ').next().unwrap().parse().unwrap()
    };
    // the waits before tries 2 and 3 respect 200 ms and 400 ms (exponential backoff)
    let wait_2 = first_line_at(2).duration_since(first_line_at(1));
    let wait_3 = first_line_at(3).duration_since(first_line_at(2));
    assert!(wait_2.as_millis() >= 200, "{wait_2:?}");
    assert!(wait_3.as_millis() >= 400, "{wait_3:?}");
}

#[test]
fn retry_on_exit_codes_does_not_retry_other_codes() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "picky",
        "  tasks:\n    - name: t\n      retries: 3\n      retryDelay: 10ms\n      retryOnExitCodes: [75]\n      run: exit 4\n",
    );
    let (code, report) = ws.run_json(&file, &[]);
    assert_eq!(code, 1);
    assert_eq!(task(&report, "t")["attempts"], 1);
}

#[test]
fn timeout_kills_the_whole_process_tree() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "slow",
        "  tasks:\n    - name: slow\n      timeout: 500ms\n      run: |\n        sleep 30 &\n        echo $! > child.pid\n        echo started\n        sleep 30\n",
    );
    let (code, report) = ws.run_json(&file, &[]);
    assert_eq!(code, 1);
    let slow = task(&report, "slow");
    assert_eq!(slow["state"], "failed");
    assert_eq!(slow["outcome"], "timed_out");
    assert!(log_of(&report, "slow", 1).contains(" out started\n"));
    let child = read_pid(&ws.path().join("child.pid"));
    assert!(
        wait_until(Duration::from_secs(2), || !alive(child)),
        "background child {child} survived"
    );
}

#[test]
fn memory_limit_reports_out_of_memory() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "hungry",
        "  tasks:\n    - name: hungry\n      resources:\n        memory: 64Mi\n      run: python3 -c \"b = bytearray(400 * 1024 * 1024); import time; time.sleep(2); print(len(b))\"\n    - name: modest\n      resources:\n        memory: 1Gi\n      run: python3 -c \"b = bytearray(16 * 1024 * 1024); print(len(b))\"\n",
    );
    let (code, report) = ws.run_json(&file, &[]);
    assert_eq!(code, 1, "{report:#}");
    let hungry = task(&report, "hungry");
    assert_eq!(hungry["state"], "failed");
    assert_eq!(hungry["outcome"], "out_of_memory");
    assert_eq!(hungry["detail"], "out of memory");
    assert_eq!(task(&report, "modest")["state"], "success");
}

#[test]
fn skip_exit_code_99_skips_the_task_and_its_all_success_downstream() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "skippy",
        "  tasks:\n    - name: check\n      run: exit 99\n    - name: work\n      needs: [check]\n      run: 'true'\n    - name: anyway\n      needs: [check]\n      trigger: none_failed\n      run: 'true'\n",
    );
    let (code, report) = ws.run_json(&file, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["state"], "success");
    assert_eq!(task(&report, "check")["state"], "skipped");
    assert_eq!(task(&report, "work")["state"], "skipped");
    assert_eq!(task(&report, "anyway")["state"], "success");
}

#[test]
fn outputs_reach_downstream_through_templates_and_environment() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "outs",
        "  tasks:\n    - name: produce\n      run: |\n        echo \"rows=42\" >> \"$AQUEDUCT_OUTPUT\"\n        echo \"path=/data/x y.csv\" >> \"$AQUEDUCT_OUTPUT\"\n    - name: consume\n      needs: [produce]\n      run: |\n        echo template={{ tasks.produce.outputs.rows }} env=$AQUEDUCT_OUTPUT_PRODUCE_ROWS\n        printf '%s\\n' {{ tasks.produce.outputs.path }}\n",
    );
    let (code, report) = ws.run_json(&file, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(task(&report, "produce")["outputs"]["rows"], "42");
    let log = log_of(&report, "consume", 1);
    assert!(log.contains(" out template=42 env=42\n"), "{log}");
    // an output with a space stays one shell word
    assert!(log.contains(" out /data/x y.csv\n"), "{log}");
}

#[test]
fn hostile_parameter_cannot_inject_shell() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "inject",
        "  params:\n    name:\n      default: safe\n  tasks:\n    - name: greet\n      run: echo hello {{ params.name }} > greeting.txt\n    - name: env\n      run: echo \"$AQUEDUCT_PARAM_NAME\" > env.txt\n",
    );
    let hostile = "x'; touch pwned; echo '$(touch pwned2)`touch pwned3`";
    let (code, report) = ws.run_json(&file, &["--param", &format!("name={hostile}")]);
    assert_eq!(code, 0, "{report:#}");
    for marker in ["pwned", "pwned2", "pwned3"] {
        assert!(
            !ws.path().join(marker).exists(),
            "{marker} was created: injection"
        );
    }
    let greeting = std::fs::read_to_string(ws.path().join("greeting.txt")).unwrap();
    assert_eq!(greeting, format!("hello {hostile}\n"));
    assert_eq!(
        std::fs::read_to_string(ws.path().join("env.txt")).unwrap(),
        format!("{hostile}\n")
    );
}

#[test]
fn secrets_are_masked_in_logs() {
    let ws = Workspace::new();
    ws.write("token.txt", "file-secret-value\n");
    let file = ws.pipeline(
        "masked",
        "  params:\n    password:\n      default: hunter2-long\n      secret: true\n  secrets:\n    - name: API_TOKEN\n      fromFile: token.txt\n    - name: DB_PASS\n      fromEnv: AQ_TEST_DB_PASS\n  tasks:\n    - name: leak\n      run: |\n        echo \"token=$API_TOKEN db=$DB_PASS\"\n        echo pw={{ params.password }} >&2\n",
    );
    let output = ws
        .command()
        .env("AQ_TEST_DB_PASS", "env-secret-value")
        .args(["run", "--output", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let report = crate::support::parse_json(&output);
    assert_eq!(report["state"], "success", "{report:#}");
    let log = log_of(&report, "leak", 1);
    assert!(log.contains(" out token=*** db=***\n"), "{log}");
    assert!(log.contains(" err pw=***\n"), "{log}");
    for secret in ["file-secret-value", "env-secret-value", "hunter2-long"] {
        assert!(!log.contains(secret), "{secret} leaked: {log}");
    }
}

#[test]
fn ctrl_c_cancels_the_run_and_stops_every_task() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "long",
        "  tasks:\n    - name: sleeper\n      run: |\n        sleep 60 &\n        echo $! > child.pid\n        echo $$ > task.pid\n        wait\n    - name: later\n      needs: [sleeper]\n      run: 'true'\n",
    );
    let child = ws
        .command()
        .args(["run", "--output", "json"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let task_pid_file = ws.path().join("task.pid");
    assert!(wait_until(Duration::from_secs(10), || task_pid_file
        .exists()
        && std::fs::read_to_string(&task_pid_file)
            .unwrap()
            .ends_with('\n')));
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let report = crate::support::parse_json(&output);
    assert_eq!(report["state"], "cancelled");
    assert_eq!(task(&report, "sleeper")["state"], "cancelled");
    assert_eq!(task(&report, "later")["state"], "cancelled");
    for pid_file in ["task.pid", "child.pid"] {
        let pid = read_pid(&ws.path().join(pid_file));
        assert!(
            wait_until(Duration::from_secs(2), || !alive(pid)),
            "{pid_file} {pid} still running"
        );
    }
}

#[test]
fn when_condition_and_params_and_date() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "cond",
        "  params:\n    full:\n      type: boolean\n      default: false\n  tasks:\n    - name: maybe\n      when: params.full\n      run: 'true'\n    - name: day\n      run: echo \"{{ ds }} {{ ds_nodash }} {{ logical_date }}\"\n",
    );
    let (code, report) = ws.run_json(&file, &["--date", "2026-03-29"]);
    assert_eq!(code, 0);
    assert_eq!(task(&report, "maybe")["state"], "skipped");
    assert!(
        log_of(&report, "day", 1).contains(" out 2026-03-29 20260329 2026-03-29T00:00:00+00:00\n")
    );
    let (_, report) = ws.run_json(&file, &["--param", "full=true"]);
    assert_eq!(task(&report, "maybe")["state"], "success");
}

#[test]
fn bad_parameters_and_invalid_files_do_not_run() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "p",
        "  params:\n    n:\n      type: integer\n  tasks:\n    - name: t\n      run: touch ran\n",
    );
    let output = ws.command().arg("run").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("parameter `n` is required"));
    let output = ws
        .command()
        .arg("run")
        .arg(&file)
        .args(["-p", "n=lots"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let broken = ws.pipeline(
        "broken",
        "  tasks:\n    - name: t\n      run: touch ran\n      needs: [nope]\n",
    );
    let output = ws.command().arg("run").arg(&broken).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("error[unknown_task]"));
    assert!(!ws.path().join("ran").exists());
}

#[test]
fn text_output_shows_progress_summary_and_streamed_logs() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "text",
        "  tasks:\n    - name: hello\n      run: echo hi there\n",
    );
    let output = ws
        .command()
        .args(["run", "--logs"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("hello | hi there"), "{stdout}");
    assert!(stdout.contains("success"), "{stdout}");
    assert!(stderr.contains("hello running (try 1)"), "{stderr}");
    assert!(stderr.contains("hello success (try 1)"), "{stderr}");
}

#[test]
fn outputs_work_with_a_relative_home_from_another_directory() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "reloc",
        "  tasks:\n    - name: out\n      run: echo k=v >> \"$AQUEDUCT_OUTPUT\"\n",
    );
    std::fs::create_dir_all(ws.path().join("elsewhere")).unwrap();
    let output = ws
        .command()
        .current_dir(ws.path().join("elsewhere"))
        .args(["run", "--output", "json", "--home", "relative-home"])
        .arg(&file)
        .output()
        .unwrap();
    let report = crate::support::parse_json(&output);
    assert_eq!(report["state"], "success", "{report:#}");
    assert_eq!(task(&report, "out")["outputs"]["k"], "v");
    assert!(
        ws.path()
            .join("elsewhere/relative-home/logs/reloc")
            .is_dir()
    );
}

#[test]
fn date_with_offset_keeps_its_instant_and_when_typos_fail() {
    let ws = Workspace::new();
    let file = ws.pipeline(
        "dates",
        "  tasks:\n    - name: ts\n      run: echo {{ ts }}\n    - name: typo\n      when: params.nope\n      run: 'true'\n",
    );
    let (code, report) = ws.run_json(&file, &["--date", "2026-03-01T23:30:00-05:00"]);
    assert_eq!(code, 1);
    assert!(log_of(&report, "ts", 1).contains(" out 2026-03-02T04:30:00+00:00\n"));
    let typo = task(&report, "typo");
    assert_eq!(typo["state"], "failed");
    assert_eq!(typo["outcome"], "not_started");
    assert!(
        typo["detail"].as_str().unwrap().contains("undefined"),
        "{typo}"
    );
}
