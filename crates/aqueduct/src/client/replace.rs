//! `aqueduct replace PIPELINE -f FILE`: a live edit of a pipeline's definition
//! (`PUT /api/v1/pipelines/{name}/definition`), kubectl's verb.

use std::io::Read as _;

use anyhow::Context as _;

use super::args::ReplaceArgs;
use super::http::{ApiClient, Route};
use super::table::print_json;
use super::wire;
use crate::args::Output;

pub(crate) fn replace(args: ReplaceArgs) -> anyhow::Result<()> {
    let text = read_definition(&args.filename)?;
    let client = ApiClient::new(&args.connection);
    let route = Route::new(&["pipelines", &args.pipeline, "definition"]);
    let document = client.put_yaml(&route, &text)?;
    if args.connection.output == Output::Json {
        return print_json(&document);
    }
    let replaced: wire::PipelineReplaced = wire::parse(&document)?;
    anstream::println!("{}", summary(&replaced));
    Ok(())
}

fn read_definition(file: &std::path::Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("failed to read the definition from standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("failed to read {}", file.display()))
}

/// One line: what changed, and what happens to the drift.
fn summary(replaced: &wire::PipelineReplaced) -> String {
    let head = format!(
        "pipeline {} replaced: the next runs use version {}",
        replaced.pipeline, replaced.version
    );
    let Some(app) = &replaced.app else {
        return head;
    };
    if !replaced.changed_live {
        return format!("{head}; it matches git, app {app} is not out of sync for it");
    }
    if replaced.self_heal {
        format!("{head}; changed live: app {app} has selfHeal on and reverts it to git now")
    } else {
        format!(
            "{head}; changed live: app {app} shows it OutOfSync until `aqueduct app sync {app}`"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{summary, wire};

    fn replaced(app: Option<&str>, changed_live: bool, self_heal: bool) -> wire::PipelineReplaced {
        wire::PipelineReplaced {
            pipeline: "dev/etl".to_owned(),
            app: app.map(str::to_owned),
            version: 7,
            changed_live,
            self_heal,
        }
    }

    #[test]
    fn the_summary_says_what_happens_to_the_drift() {
        let kept = summary(&replaced(Some("dev"), true, false));
        assert!(
            kept.ends_with("app dev shows it OutOfSync until `aqueduct app sync dev`"),
            "{kept}"
        );
        let healed = summary(&replaced(Some("dev"), true, true));
        assert!(
            healed.contains("selfHeal on and reverts it to git now"),
            "{healed}"
        );
        let same = summary(&replaced(Some("dev"), false, true));
        assert!(same.contains("it matches git"), "{same}");
        assert_eq!(
            summary(&replaced(None, false, false)),
            "pipeline dev/etl replaced: the next runs use version 7"
        );
    }
}
