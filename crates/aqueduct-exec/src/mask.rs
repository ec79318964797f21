//! Secret masking: every occurrence of a secret value in a captured line becomes `***`.
//!
//! Output is masked line by line, so a secret that spans lines (a PEM key, say) would never
//! match as a whole. Each line of a multi-line secret is therefore masked on its own.

/// What replaces a secret in the logs.
const REPLACEMENT: &str = "***";

#[derive(Debug, Clone, Default)]
pub(crate) struct Masker {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
}

impl Masker {
    pub(crate) fn new(mask: &[String]) -> Self {
        let mut secrets: Vec<String> = mask
            .iter()
            .flat_map(|secret| secret.split('\n'))
            .map(|secret_line| secret_line.trim_end_matches('\r'))
            .filter(|secret_line| !secret_line.is_empty())
            .map(str::to_owned)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Masker { secrets }
    }

    pub(crate) fn apply(&self, mut text: String) -> String {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), REPLACEMENT);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(secrets: &[&str]) -> Masker {
        let owned: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        Masker::new(&owned)
    }

    #[test]
    fn replaces_every_occurrence() {
        let masked = masker(&["s3cr3t"]).apply("pw=s3cr3t again s3cr3ts3cr3t".into());
        assert_eq!(masked, "pw=*** again ******");
    }

    #[test]
    fn ignores_empty_secrets() {
        assert_eq!(masker(&["", "\n"]).apply("plain".into()), "plain");
    }

    #[test]
    fn longer_secret_wins_over_its_prefix() {
        let masked = masker(&["abc", "abcdef"]).apply("x abcdef y abc".into());
        assert_eq!(masked, "x *** y ***");
    }

    #[test]
    fn masks_each_line_of_a_multi_line_secret() {
        let pem = "-----BEGIN KEY-----\r\nQUJD\nREVG\n-----END KEY-----\n";
        let masker = masker(&[pem]);
        assert_eq!(masker.apply("QUJD".into()), "***");
        assert_eq!(masker.apply("REVG tail".into()), "*** tail");
        assert_eq!(masker.apply("-----BEGIN KEY-----".into()), "***");
    }
}
