//! Lowering of `spec.params`: types, defaults and allowed values agree.

use std::collections::BTreeMap;

use aqueduct_core::{ParamSpec, ParamType, ParamValue};

use super::Lowering;
use super::names::is_identifier;
use crate::diagnostic::Code;
use crate::located::Located;
use crate::raw::{ParamDoc, ParamTypeDoc};
use crate::scalar::Scalar;

pub(crate) fn lower_params(
    cx: &mut Lowering<'_>,
    params: &BTreeMap<Located<String>, ParamDoc>,
) -> Vec<ParamSpec> {
    params
        .iter()
        .filter_map(|(name, doc)| lower_param(cx, name, doc))
        .collect()
}

fn lower_param(cx: &mut Lowering<'_>, name: &Located<String>, doc: &ParamDoc) -> Option<ParamSpec> {
    if !is_identifier(&name.value) {
        let message = format!("parameter name `{}` is not an identifier", name.value);
        let hint = "use letters, digits and `_` so templates can write `params.<name>`".to_owned();
        cx.report(name, Code::BadParam, message, Some(hint));
    }
    let param_type = match (doc.param_type, &doc.default) {
        (Some(declared), _) => declared_type(declared),
        (None, Some(default)) => scalar_value(&default.value).param_type(),
        (None, None) => ParamType::String,
    };
    let default = match &doc.default {
        Some(default) => Some(coerce(cx, default, param_type, &name.value)?),
        None => None,
    };
    let allowed = doc
        .allowed
        .iter()
        .flatten()
        .map(|value| {
            let located = Located {
                value: value.clone(),
                line: name.line,
                column: name.column,
                origin: name.origin,
            };
            coerce(cx, &located, param_type, &name.value)
        })
        .collect::<Option<Vec<_>>>()?;
    if let Some(default) = &default
        && !allowed.is_empty()
        && !allowed.contains(default)
    {
        let message = format!(
            "default of parameter `{}` is not one of its allowed values",
            name.value
        );
        cx.report(name, Code::BadParam, message, None);
    }
    Some(ParamSpec {
        name: name.value.clone(),
        param_type,
        default,
        description: doc.description.clone(),
        allowed,
        secret: doc.secret,
    })
}

fn declared_type(doc: ParamTypeDoc) -> ParamType {
    match doc {
        ParamTypeDoc::String => ParamType::String,
        ParamTypeDoc::Integer => ParamType::Integer,
        ParamTypeDoc::Number => ParamType::Number,
        ParamTypeDoc::Boolean => ParamType::Boolean,
    }
}

fn scalar_value(scalar: &Scalar) -> ParamValue {
    match scalar {
        Scalar::String(text) => ParamValue::String(text.clone()),
        Scalar::Integer(number) => ParamValue::Integer(*number),
        Scalar::Number(number) => ParamValue::Number(*number),
        Scalar::Boolean(flag) => ParamValue::Boolean(*flag),
    }
}

/// `value` as `param_type`: integers widen to numbers; anything else must match.
fn coerce(
    cx: &mut Lowering<'_>,
    value: &Located<Scalar>,
    param_type: ParamType,
    name: &str,
) -> Option<ParamValue> {
    let converted = match (scalar_value(&value.value), param_type) {
        (ParamValue::Integer(number), ParamType::Number) => Some(ParamValue::Number(number as f64)),
        (converted, wanted) if converted.param_type() == wanted => Some(converted),
        _ => None,
    };
    if converted.is_none() {
        let message = format!(
            "value of parameter `{name}` is not of type {}",
            param_type.name()
        );
        cx.report(value, Code::BadParam, message, None);
    }
    converted
}
