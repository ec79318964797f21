//! The UI's URLs: names go in as percent-encoded path segments, so a GitOps pipeline
//! (`examples/hello`) or a run id (`manual__2026-01-01T00:00:00+00:00`) stays one segment.

/// `text` as one path segment: RFC 3986 unreserved characters and `:`/`@` as they are, every
/// other byte as `%XX` (so `/`, `+`, `?`, `#` and `%` are encoded).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `text` as a query value (as [`segment`], which also encodes `&`, `=` and space).
pub fn query_value(text: &str) -> String {
    segment(text)
}

/// `/pipelines/{name}`.
pub fn pipeline(name: &str) -> String {
    format!("/pipelines/{}", segment(name))
}

/// `/pipelines/{name}/runs/{run_id}`: the run page, where notification links point.
pub fn run(pipeline: &str, run_id: &str) -> String {
    format!("{}/runs/{}", self::pipeline(pipeline), segment(run_id))
}

/// `/pipelines/{name}/runs/{run_id}/tasks/{task}/logs?attempt=N`.
pub fn log(pipeline: &str, run_id: &str, task: &str, attempt: u32) -> String {
    format!(
        "{}/tasks/{}/logs?attempt={attempt}",
        run(pipeline, run_id),
        segment(task)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_slashes_stay_one_segment() {
        assert_eq!(pipeline("examples/hello"), "/pipelines/examples%2Fhello");
        assert_eq!(
            run("examples/hello", "manual__2026-01-01T00:00:00+00:00"),
            "/pipelines/examples%2Fhello/runs/manual__2026-01-01T00:00:00%2B00:00"
        );
        assert_eq!(
            log("a b", "r", "t?#", 2),
            "/pipelines/a%20b/runs/r/tasks/t%3F%23/logs?attempt=2"
        );
    }
}
