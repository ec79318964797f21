//! Label selectors of the pipelines list (`?label=team=data,tier=gold`): Kubernetes'
//! equality-based selector, every `key=value` pair of which a pipeline's `metadata.labels` must
//! carry.

use std::collections::BTreeMap;
use std::fmt;

/// The `key=value` pairs a pipeline's labels must all carry; empty matches every pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pairs: Vec<(String, String)>,
}

impl LabelSelector {
    /// Reads comma-separated `key=value` pairs (spaces around each pair and around `=` are
    /// ignored; the value may be empty or hold `=`). A pair without `=` or with an empty key is
    /// an error that names it.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut pairs = Vec::new();
        for pair in text
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("label selector {pair:?} is not key=value"));
            };
            let key = key.trim();
            if key.is_empty() {
                return Err(format!("label selector {pair:?} has an empty key"));
            }
            pairs.push((key.to_owned(), value.trim().to_owned()));
        }
        Ok(LabelSelector { pairs })
    }

    /// True when the selector has no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// True when `labels` carries every pair.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.pairs
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
    }
}

/// The selector as [`LabelSelector::parse`] reads it back: `key=value` pairs joined by commas.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (key, value)) in self.pairs.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{key}={value}")?;
        }
        Ok(())
    }
}

/// The app a pipeline belongs to: the part of an app pipeline's name (`<app>/<name>`) before
/// the slash; `None` for a pipeline of the plain folder.
pub fn app_of(pipeline: &str) -> Option<&str> {
    pipeline.split_once('/').map(|(app, _)| app)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn a_selector_matches_pipelines_carrying_every_pair() {
        let selector = LabelSelector::parse(" team = data, tier=gold ,").expect("parse");
        assert_eq!(selector.to_string(), "team=data,tier=gold");
        assert!(selector.matches(&labels(&[("team", "data"), ("tier", "gold"), ("x", "y")])));
        assert!(!selector.matches(&labels(&[("team", "data")])));
        assert!(!selector.matches(&labels(&[("team", "data"), ("tier", "silver")])));
        let empty = LabelSelector::parse("").expect("parse empty");
        assert!(empty.is_empty() && empty.matches(&labels(&[])));
        let with_equals = LabelSelector::parse("expr=a=b").expect("parse");
        assert!(with_equals.matches(&labels(&[("expr", "a=b")])));
    }

    #[test]
    fn a_pair_without_a_key_or_an_equals_sign_is_refused() {
        assert_eq!(
            LabelSelector::parse("team").unwrap_err(),
            "label selector \"team\" is not key=value"
        );
        assert_eq!(
            LabelSelector::parse("=data").unwrap_err(),
            "label selector \"=data\" has an empty key"
        );
    }

    #[test]
    fn the_app_is_the_name_before_the_slash() {
        assert_eq!(app_of("dev/etl"), Some("dev"));
        assert_eq!(app_of("etl"), None);
    }
}
