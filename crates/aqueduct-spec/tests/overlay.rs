//! Environment overlays: the merge rules, the rendered text, and where problems are reported.

use std::path::Path;
use std::time::Duration;

use aqueduct_core::ParamValue;
use aqueduct_spec::{Overlaid, SourceFile, parse_overlaid, parse_source};

const BASE: &str = r#"apiVersion: aqueduct.dev/v1
kind: Pipeline
metadata:
  name: etl
spec:
  schedule: "0 6 * * *"
  timezone: Europe/Berlin
  params:
    target: { default: dev, enum: [dev, staging, prod] }
    limit: { default: 5 }
  env:
    A: "1"
    B: "2"
  tasks:
    - name: extract
      run: echo extract
      timeout: 10m
      env: { X: "x", Y: "y" }
    - name: load
      run: echo load
      needs: [extract]
      resources: { memory: 256Mi }
"#;

const PROD: &str = r#"apiVersion: aqueduct.dev/v1
kind: PipelineOverlay
metadata:
  name: etl
spec:
  schedule: "@hourly"
  params:
    target: { default: prod }
  env:
    B: "two"
    A: null
    C: "3"
  tasks:
    - name: load
      env: { Z: "z" }
      retries: 3
      resources: { memory: 2Gi }
    - name: extract
      timeout: null
      env: { Y: null }
"#;

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.into(),
        text: text.to_owned(),
    }
}

fn overlaid(base: &[(&str, &str)], overlay: &[(&str, &str)]) -> Overlaid {
    let base: Vec<SourceFile> = base.iter().map(|(p, t)| file(p, t)).collect();
    let overlay: Vec<SourceFile> = overlay.iter().map(|(p, t)| file(p, t)).collect();
    parse_overlaid(&base, &overlay)
}

/// Every diagnostic as `file:line:col: code: message`.
fn problems(result: &Overlaid) -> String {
    let lines: Vec<String> = result
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}: {}", d.location(), d.code.as_str(), d.message))
        .collect();
    lines.join("\n")
}

#[test]
fn scalars_replace_maps_merge_by_key_and_null_removes() {
    let result = overlaid(&[("base/etl.yaml", BASE)], &[("envs/prod/etl.yaml", PROD)]);
    assert_eq!(problems(&result), "");
    let merged = &result.pipelines[0];
    let pipeline = &merged.pipeline;
    assert_eq!(pipeline.schedule.cron.as_deref(), Some("@hourly"));
    assert_eq!(pipeline.schedule.timezone, "Europe/Berlin");
    let target = pipeline.param("target").expect("param target");
    assert_eq!(target.default, Some(ParamValue::String("prod".into())));
    assert_eq!(target.allowed.len(), 3, "enum kept from the base");
    let limit = pipeline.param("limit").expect("param limit");
    assert_eq!(limit.default, Some(ParamValue::Integer(5)));
    let env: Vec<(&str, &str)> = pipeline
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("B", "two"), ("C", "3")]);
    let extract = &pipeline.tasks[0];
    assert_eq!(extract.timeout, None, "null removed the task's timeout");
    assert_eq!(extract.env, [("X".to_owned(), "x".to_owned())]);
    let load = &pipeline.tasks[1];
    assert_eq!(load.memory_limit, Some(2 << 30));
    assert_eq!(load.retry.retries, 3);
    assert_eq!(load.env, [("Z".to_owned(), "z".to_owned())]);
    assert_eq!(
        load.needs,
        ["extract"],
        "fields the overlay lacks stay the base's"
    );
    assert_eq!(
        pipeline.source_dir,
        Path::new("base"),
        "tasks run in the base file's folder"
    );
    assert_eq!(merged.file, Path::new("base/etl.yaml"));
}

#[test]
fn the_text_is_the_merged_document_and_reads_back_as_the_same_pipeline() {
    let result = overlaid(&[("base/etl.yaml", BASE)], &[("envs/prod/etl.yaml", PROD)]);
    let merged = &result.pipelines[0];
    insta::assert_snapshot!(merged.text, @r#"
    apiVersion: aqueduct.dev/v1
    kind: Pipeline
    metadata:
      name: etl
    spec:
      env:
        B: two
        C: "3"
      params:
        limit:
          default: 5
          secret: false
        target:
          default: prod
          enum:
          - dev
          - staging
          - prod
          secret: false
      schedule: "@hourly"
      tasks:
      - env:
          X: x
        name: extract
        run: echo extract
      - env:
          Z: z
        name: load
        needs:
        - extract
        resources:
          memory: 2Gi
        retries: 3
        run: echo load
      timezone: Europe/Berlin
    "#);
    let reread = parse_source(Path::new("base/etl.yaml"), &merged.text);
    assert!(reread.diagnostics.is_empty(), "{:#?}", reread.diagnostics);
    assert_eq!(reread.pipelines[0], merged.pipeline);
}

#[test]
fn an_overlay_change_changes_the_text_and_no_overlay_keeps_the_base() {
    let plain = overlaid(&[("base/etl.yaml", BASE)], &[]);
    let prod = overlaid(&[("base/etl.yaml", BASE)], &[("envs/prod/etl.yaml", PROD)]);
    let other = PROD.replace("@hourly", "@daily");
    let changed = overlaid(
        &[("base/etl.yaml", BASE)],
        &[("envs/prod/etl.yaml", &other)],
    );
    assert_eq!(
        plain.pipelines[0].pipeline,
        parse_source(Path::new("base/etl.yaml"), BASE).pipelines[0]
    );
    assert_ne!(plain.pipelines[0].text, prod.pipelines[0].text);
    assert_ne!(prod.pipelines[0].text, changed.pipelines[0].text);
}

#[test]
fn the_overlay_folder_may_add_pipelines_of_its_own() {
    let own = BASE.replace("name: etl", "name: audit");
    let result = overlaid(
        &[("base/etl.yaml", BASE)],
        &[("envs/prod/etl.yaml", PROD), ("envs/prod/audit.yaml", &own)],
    );
    assert_eq!(problems(&result), "");
    let names: Vec<&str> = result
        .pipelines
        .iter()
        .map(|p| p.pipeline.name.as_str())
        .collect();
    assert_eq!(names, ["etl", "audit"]);
    assert_eq!(
        result.pipelines[1].pipeline.source_dir,
        Path::new("envs/prod")
    );
    assert_eq!(
        result.pipelines[1].pipeline.schedule.cron.as_deref(),
        Some("0 6 * * *")
    );
}

#[test]
fn overlay_problems_are_reported_at_the_overlay_and_base_problems_at_the_base() {
    let broken = r#"apiVersion: aqueduct.dev/v1
kind: PipelineOverlay
metadata:
  name: etl
spec:
  schedule: "61 * * * *"
  params:
    target: { default: live }
    limt: { default: 1 }
  env:
    "bad name": x
  tasks:
    - name: lod
      env: { Z: "z" }
    - name: extract
      timeout: soon
      resources: { memory: lots }
---
apiVersion: aqueduct.dev/v1
kind: PipelineOverlay
metadata:
  name: elt
---
apiVersion: aqueduct.dev/v1
kind: PipelineOverlay
metadata:
  name: etl
  labels: { a: b }
spec:
  tasks:
    - name: load
      run: echo patched
"#;
    let base_broken = BASE.replace("needs: [extract]", "needs: [extrakt]");
    let result = overlaid(
        &[("base/etl.yaml", &base_broken)],
        &[("envs/prod/etl.yaml", broken)],
    );
    assert!(result.pipelines.is_empty());
    insta::assert_snapshot!(problems(&result), @r"
    base/etl.yaml:21:15: unknown_task: task `load` needs `extrakt`, which is not a task of this pipeline
    envs/prod/etl.yaml:6:13: bad_schedule: invalid schedule `61 * * * *`: minute field `61`: number out of bounds
    envs/prod/etl.yaml:8:5: bad_param: default of parameter `target` is not one of its allowed values
    envs/prod/etl.yaml:9:5: bad_param: the base pipeline has no parameter `limt`
    envs/prod/etl.yaml:11:5: bad_env: `bad name` is not a valid environment variable name
    envs/prod/etl.yaml:13:13: unknown_task: the base pipeline has no task `lod`
    envs/prod/etl.yaml:16:16: bad_duration: invalid duration `soon` in `timeout`
    envs/prod/etl.yaml:17:28: bad_memory: invalid memory size `lots`
    envs/prod/etl.yaml:22:9: unknown_pipeline: no base pipeline is named `elt`
    envs/prod/etl.yaml:28:3: unknown_field: unknown field `labels` (at `metadata.labels`)
    envs/prod/etl.yaml:32:7: unknown_field: unknown field `run` (at `spec.tasks[0].run`)
    ");
}

#[test]
fn two_overlays_of_one_pipeline_and_a_clashing_own_pipeline_are_refused() {
    let second = "apiVersion: aqueduct.dev/v1\nkind: PipelineOverlay\nmetadata:\n  name: etl\n";
    let result = overlaid(
        &[("base/etl.yaml", BASE)],
        &[
            ("envs/prod/a.yaml", PROD),
            ("envs/prod/b.yaml", second),
            ("envs/prod/c.yaml", BASE),
        ],
    );
    insta::assert_snapshot!(problems(&result), @r"
    envs/prod/b.yaml:4:9: duplicate_pipeline: pipeline `etl` is already patched in envs/prod/a.yaml
    envs/prod/c.yaml:4:9: duplicate_pipeline: pipeline `etl` is already defined in base/etl.yaml
    ");
}

#[test]
fn a_patched_timeout_is_checked_as_a_duration() {
    let overlay = PROD.replace("timeout: null", "timeout: 90");
    let result = overlaid(
        &[("base/etl.yaml", BASE)],
        &[("envs/prod/etl.yaml", &overlay)],
    );
    assert_eq!(problems(&result), "");
    assert_eq!(
        result.pipelines[0].pipeline.tasks[0].timeout,
        Some(Duration::from_secs(90))
    );
}
