//! Naming rules: names become file paths, environment variable parts and template keys, so
//! they are restricted to characters that are safe in all three.

use aqueduct_core::template::env_name;

use super::Lowering;
use crate::diagnostic::Code;
use crate::located::Located;

/// Pipeline and task names: ASCII letters, digits, `_`, `-`, `.`; starting with a letter or
/// digit; at most 128 characters.
pub fn is_safe_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok && name.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// Parameter names: usable as `params.<name>` in templates.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Environment variable names.
pub fn is_env_name(name: &str) -> bool {
    is_identifier(name)
}

/// Reports `name` when it is not a safe pipeline or task name.
pub(crate) fn check_name(cx: &mut Lowering<'_>, name: &Located<String>, what: &str) {
    if is_safe_name(&name.value) {
        return;
    }
    let message = format!("unsafe {what} name `{}`", name.value);
    let suggestion: String = env_name(&name.value)
        .to_lowercase()
        .trim_matches('_')
        .to_owned();
    let mut hint = "use letters, digits, `_`, `-` and `.`, starting with a letter or digit (at most 128 characters)".to_owned();
    if is_safe_name(&suggestion) {
        hint.push_str(&format!("; for example `{suggestion}`"));
    }
    cx.report(name, Code::UnsafeName, message, Some(hint));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_safe_name("daily-etl_v2.1"));
        assert!(!is_safe_name("../etc"));
        assert!(!is_safe_name("a b"));
        assert!(!is_safe_name(""));
        assert!(!is_safe_name("-x"));
        assert!(is_identifier("full_refresh"));
        assert!(!is_identifier("full-refresh"));
        assert!(!is_identifier("1st"));
    }
}
