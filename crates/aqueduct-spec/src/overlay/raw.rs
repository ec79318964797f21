//! The overlay format as written in YAML: `kind: PipelineOverlay` documents with only the
//! patchable fields of a pipeline. Their doc comments become the published JSON Schema
//! (`docs/schema/pipeline-overlay.schema.json`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

use crate::located::Located;
use crate::scalar::{Scalar, TextOrNumber};

/// The kind of an overlay document.
pub const OVERLAY_KIND: &str = "PipelineOverlay";

/// An environment overlay of one base pipeline: `apiVersion: aqueduct.dev/v1`,
/// `kind: PipelineOverlay`, `metadata.name` naming the base pipeline.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "aqueduct PipelineOverlay")]
pub struct PipelineOverlayDoc {
    /// Format version; must be `aqueduct.dev/v1`.
    pub api_version: Located<String>,
    /// Document kind; must be `PipelineOverlay`.
    pub kind: Located<String>,
    pub metadata: OverlayMetadata,
    #[serde(default)]
    pub spec: OverlaySpec,
}

/// Which pipeline the overlay patches.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OverlayMetadata {
    /// The name of a pipeline of the app's base folder.
    pub name: Located<String>,
}

/// The patch. A field left out keeps the base's value; `null` (where allowed) removes it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OverlaySpec {
    /// Replaces the base's `schedule`; `null` makes the pipeline run only when triggered.
    #[serde(default)]
    pub schedule: Patch<Located<String>>,
    /// Replaces the base's `timezone`; `null` goes back to `UTC`.
    #[serde(default)]
    pub timezone: Patch<Located<String>>,
    /// Replaces the base's `startDate`; `null` removes it.
    #[serde(default)]
    pub start_date: Patch<Located<String>>,
    /// Replaces the base's `endDate`; `null` removes it.
    #[serde(default)]
    pub end_date: Patch<Located<String>>,
    /// Replaces the base's `catchup`.
    #[serde(default)]
    pub catchup: Option<bool>,
    /// Replaces the base's `dataIntervals`.
    #[serde(default)]
    pub data_intervals: Option<bool>,
    /// Replaces the base's `maxActiveRuns`.
    #[serde(default)]
    pub max_active_runs: Option<u32>,
    /// Replaces the base's `maxActiveTasks`.
    #[serde(default)]
    pub max_active_tasks: Option<u32>,
    /// Patches of parameters the base declares, by name.
    #[serde(default)]
    pub params: BTreeMap<Located<String>, ParamPatch>,
    /// Pipeline-level environment, merged by name into the base's; `null` removes a variable.
    #[serde(default)]
    pub env: BTreeMap<Located<String>, Option<String>>,
    /// Patches of tasks the base declares, matched by name.
    #[serde(default)]
    pub tasks: Vec<TaskPatch>,
}

/// The patchable fields of a parameter (its type stays the base's).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParamPatch {
    /// Replaces the default; `null` removes it, which makes the parameter required.
    #[serde(default)]
    pub default: Patch<Located<Scalar>>,
    /// Replaces the description.
    #[serde(default)]
    pub description: Patch<String>,
    /// Replaces the list of allowed values; `null` allows any value.
    #[serde(default, rename = "enum")]
    pub allowed: Patch<Vec<Scalar>>,
    /// Replaces `secret`.
    #[serde(default)]
    pub secret: Option<bool>,
}

/// The patchable fields of a task.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaskPatch {
    /// The name of a task of the base pipeline.
    pub name: Located<String>,
    /// The task's environment, merged by name into the base task's; `null` removes a variable.
    #[serde(default)]
    pub env: BTreeMap<Located<String>, Option<String>>,
    /// Resource limits, merged into the base task's.
    #[serde(default)]
    pub resources: Option<ResourcesPatch>,
    /// Replaces the task's `timeout`; `null` removes the task's own (`spec.defaults` applies).
    #[serde(default)]
    pub timeout: Patch<Located<TextOrNumber>>,
    /// Replaces the task's `retries`.
    #[serde(default)]
    pub retries: Option<u32>,
}

/// The patchable resource limits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourcesPatch {
    /// Replaces the memory limit; `null` removes the task's own.
    #[serde(default)]
    pub memory: Patch<Located<TextOrNumber>>,
}

/// A patched optional value: left out (keep the base's), `null` (remove it) or a new value.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Remove,
    Set(T),
}

impl<T> Patch<T> {
    /// Applies the patch to the base's value.
    pub fn apply(self, base: &mut Option<T>) {
        match self {
            Patch::Keep => {}
            Patch::Remove => *base = None,
            Patch::Set(value) => *base = Some(value),
        }
    }
}

impl<T> Patch<Located<T>> {
    /// The patch with its value marked as written in the overlay.
    pub fn in_overlay(self) -> Patch<Located<T>> {
        match self {
            Patch::Set(value) => Patch::Set(value.in_overlay()),
            other => other,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    /// Only called for a key that is present (fields use `#[serde(default)]`), so `null` is
    /// told apart from a key left out.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Patch::Set(value),
            None => Patch::Remove,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Patch<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        <Option<T>>::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <Option<T>>::json_schema(generator)
    }
}
