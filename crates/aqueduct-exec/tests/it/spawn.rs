//! Spawning: workdir, environment, the command passed verbatim, and spawn errors.

use aqueduct_exec::{Error, Outcome};

use crate::support::{Fixture, run, texts};

#[tokio::test]
async fn runs_in_the_workdir() {
    let fixture = Fixture::new();
    std::fs::create_dir(fixture.path("sub")).unwrap();
    let mut spec = fixture.spec("pwd; ls");
    spec.workdir = fixture.path("sub");
    std::fs::write(fixture.path("sub/marker"), "").unwrap();
    run(spec).await;
    let expected = fixture.path("sub").canonicalize().unwrap();
    assert_eq!(
        texts(&fixture.log_lines()),
        [expected.to_str().unwrap(), "marker"]
    );
}

#[tokio::test]
async fn env_is_overlaid_on_the_inherited_environment() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("echo \"$AQ_EXEC_TEST_VAR\"; test -n \"$PATH\" && echo inherited");
    spec.env = vec![("AQ_EXEC_TEST_VAR".into(), "value with spaces".into())];
    run(spec).await;
    assert_eq!(
        texts(&fixture.log_lines()),
        ["value with spaces", "inherited"]
    );
}

#[tokio::test]
async fn command_reaches_the_shell_verbatim() {
    let fixture = Fixture::new();
    let (finished, _) = run(fixture.spec(r#"printf '%s|' "a;b" '$HOME' "it's"; echo"#)).await;
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert_eq!(texts(&fixture.log_lines()), ["a;b|$HOME|it's|"]);
}

#[tokio::test]
async fn missing_workdir_is_an_error_naming_it() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("true");
    spec.workdir = fixture.path("does-not-exist");
    let error = aqueduct_exec::spawn(spec, None).unwrap_err();
    assert!(matches!(error, Error::Workdir { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("does-not-exist"), "{message}");
    assert!(message.starts_with("cannot use workdir /"), "{message}");
}

#[tokio::test]
async fn unwritable_log_path_is_an_error_naming_it() {
    let fixture = Fixture::new();
    std::fs::write(fixture.path("a-file"), "").unwrap();
    let mut spec = fixture.spec("true");
    spec.log_path = fixture.path("a-file/attempt.log");
    let error = aqueduct_exec::spawn(spec, None).unwrap_err();
    assert!(matches!(error, Error::LogFile { .. }), "{error:?}");
    assert!(error.to_string().contains("a-file/attempt.log"), "{error}");
}
