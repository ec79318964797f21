//! `aqueduct validate [--overlay DIR] PATH...`

use anyhow::Context;
use serde_json::json;

use crate::args::{Output, ValidateArgs};
use crate::diagnostics::{print_human, to_json};
use crate::exit;

pub(crate) fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let loaded = match &args.overlay {
        Some(overlay) => aqueduct_spec::load_overlaid(&args.paths, overlay),
        None => aqueduct_spec::load_paths(&args.paths),
    }
    .context("cannot validate")?;
    let valid = loaded.diagnostics.is_empty();
    match args.output {
        Output::Json => {
            let document = json!({
                "valid": valid,
                "files": loaded.files,
                "pipelines": loaded.pipelines.iter().map(|p| json!({"name": p.name, "tasks": p.tasks.len()})).collect::<Vec<_>>(),
                "diagnostics": loaded.diagnostics.iter().map(to_json).collect::<Vec<_>>(),
            });
            anstream::println!("{}", serde_json::to_string_pretty(&document)?);
        }
        Output::Text => {
            print_human(&loaded.diagnostics);
            let problems = loaded.diagnostics.len();
            let pipelines = loaded.pipelines.len();
            let files = loaded.files;
            if valid {
                anstream::println!("{pipelines} pipeline(s) in {files} file(s): all valid");
            } else {
                anstream::println!(
                    "{problems} problem(s) in {files} file(s); {pipelines} valid pipeline(s)"
                );
            }
        }
    }
    Ok(if valid { exit::SUCCESS } else { exit::FAILURE })
}
