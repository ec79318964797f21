//! Tidy: architecture rules and hygiene checked as tests, so CI enforces them.

use std::path::{Path, PathBuf};

use crate::codegen::{generated, root};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() && name != "target" && !name.starts_with('.') {
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("xtask"), &mut files);
    files
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc: {missing:#?}"
    );
}

#[test]
fn no_ignored_or_should_panic_tests() {
    let ignore = ["#[ignore", "#[should_panic"].concat_markers();
    let offenders: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            ignore.iter().any(|marker| text.contains(marker.as_str()))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "tests must not be ignored: {offenders:#?}"
    );
}

/// Builds the markers at run time so this file does not match itself.
trait ConcatMarkers {
    fn concat_markers(&self) -> Vec<String>;
}

impl ConcatMarkers for [&str; 2] {
    fn concat_markers(&self) -> Vec<String> {
        self.iter()
            .map(|m| format!("{m}]"))
            .chain(self.iter().map(|m| format!("{m}(")))
            .collect()
    }
}

#[test]
fn core_stays_pure() {
    let manifest = std::fs::read_to_string(root().join("crates/aqueduct-core/Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let allowed = ["thiserror", "jiff", "minijinja", "croner"];
    for line in dependencies.lines().filter(|l| !l.trim().is_empty()) {
        let name = line.split(['.', ' ', '=']).next().unwrap();
        assert!(
            allowed.contains(&name),
            "aqueduct-core may not depend on {name}: it has no IO, clock or async runtime"
        );
    }
    let mut files = Vec::new();
    rust_files(&root().join("crates/aqueduct-core/src"), &mut files);
    for path in files.iter().filter(|p| !p.ends_with("tests.rs")) {
        let text = std::fs::read_to_string(path).unwrap();
        for banned in [
            "::now(",
            "std::fs",
            "std::process",
            "std::net",
            "tokio",
            "std::thread",
        ] {
            assert!(
                !text.contains(banned),
                "{} uses {banned}: the core does no IO and reads no clock",
                path.display()
            );
        }
    }
}

#[test]
fn generated_files_are_up_to_date() {
    for (path, expected) in generated() {
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "{} is stale: run `cargo xtask codegen`",
            path.display()
        );
    }
}

#[test]
fn architecture_names_every_crate() {
    let architecture = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(
            architecture.contains(&format!("`{name}`")),
            "docs/ARCHITECTURE.md does not describe crate {name}"
        );
    }
}
