//! Resolving a run's parameter values from declared defaults and per-run overrides.

use std::collections::BTreeMap;

use crate::pipeline::{ParamValue, Pipeline};
use crate::{Error, Result};

/// The parameter values of a run: each declared parameter's override (`name=value` text, parsed
/// as its declared type) or default. Unknown names, values of the wrong type, values outside the
/// allowed set and missing required parameters are errors.
pub fn resolve_params(
    pipeline: &Pipeline,
    overrides: &[(String, String)],
) -> Result<BTreeMap<String, ParamValue>> {
    let mut values = BTreeMap::new();
    for (name, text) in overrides {
        let Some(spec) = pipeline.param(name) else {
            let known: Vec<&str> = pipeline.params.iter().map(|p| p.name.as_str()).collect();
            let known = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            return Err(Error::Param(format!(
                "unknown parameter `{name}` (declared: {known})"
            )));
        };
        let value = spec.param_type.parse(text).ok_or_else(|| {
            Error::Param(format!(
                "parameter `{name}` expects {}, got `{text}`",
                spec.param_type.with_article()
            ))
        })?;
        values.insert(name.clone(), value);
    }
    for spec in &pipeline.params {
        if !values.contains_key(&spec.name) {
            let default = spec.default.clone().ok_or_else(|| {
                Error::Param(format!(
                    "parameter `{}` is required: pass --param {}=VALUE",
                    spec.name, spec.name
                ))
            })?;
            values.insert(spec.name.clone(), default);
        }
        let value = &values[&spec.name];
        if !spec.allowed.is_empty() && !spec.allowed.contains(value) {
            let allowed: Vec<String> = spec.allowed.iter().map(ToString::to_string).collect();
            return Err(Error::Param(format!(
                "parameter `{}` must be one of {}, got `{value}`",
                spec.name,
                allowed.join(", ")
            )));
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{ParamSpec, ParamType};

    fn pipeline() -> Pipeline {
        let param = |name: &str, param_type, default| ParamSpec {
            name: name.into(),
            param_type,
            default,
            description: None,
            allowed: vec![],
            secret: false,
        };
        let mut env = param(
            "env",
            ParamType::String,
            Some(ParamValue::String("dev".into())),
        );
        env.allowed = vec![
            ParamValue::String("dev".into()),
            ParamValue::String("prod".into()),
        ];
        Pipeline {
            name: "p".into(),
            description: None,
            labels: Default::default(),
            params: vec![
                env,
                param("limit", ParamType::Integer, None),
                param("full", ParamType::Boolean, Some(ParamValue::Boolean(false))),
            ],
            env: vec![],
            secrets: vec![],
            tasks: vec![],
            dag: Default::default(),
            source_dir: ".".into(),
            notifications: Vec::new(),
            deadline: None,
            schedule: Default::default(),
        }
    }

    fn overrides(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let values =
            resolve_params(&pipeline(), &overrides(&[("limit", "5"), ("full", "true")])).unwrap();
        assert_eq!(values["env"], ParamValue::String("dev".into()));
        assert_eq!(values["limit"], ParamValue::Integer(5));
        assert_eq!(values["full"], ParamValue::Boolean(true));
    }

    #[test]
    fn errors() {
        let p = pipeline();
        let err = |pairs| {
            resolve_params(&p, &overrides(pairs))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[]).contains("`limit` is required"));
        assert!(err(&[("limit", "many")]).contains("expects an integer, got `many`"));
        assert!(err(&[("limit", "1"), ("nope", "1")]).contains("unknown parameter `nope`"));
        assert!(err(&[("limit", "1"), ("env", "stg")]).contains("must be one of dev, prod"));
    }
}
