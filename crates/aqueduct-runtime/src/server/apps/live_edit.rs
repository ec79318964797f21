//! Live edits: a GitOps pipeline's definition replaced through the API
//! (`PUT /api/v1/pipelines/{name}/definition`), which is drift.
//!
//! The edit records a new version (content-hashed like git's: name, applied commit, text) and
//! marks the pipeline changed live in the store (`Store::record_live_edit`), so the mark
//! survives a restart. The scheduler gets the new definition at once: the next runs use it,
//! runs in flight keep theirs, and its tasks still run in the applied commit's tree. The app
//! shows `OutOfSync` ("changed live through the API") and `app diff` the fields; a sync
//! (manual, or automated under `selfHeal`, started right after the edit) reverts it to git and
//! clears the mark. Pipelines of the plain `--pipelines` folder are refused: their file is the
//! source of truth, and a folder has no sync to show or revert drift with.

use std::path::Path;
use std::sync::Arc;

use aqueduct_core::reconcile::AutoSyncKind;
use aqueduct_core::scheduler::PipelineDef;
use aqueduct_store::{NewVersion, Store};
use jiff::Timestamp;

use super::Applied;
use crate::server::Server;
use crate::server::commands::CommandError;
use crate::server::load;

/// What a live edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEdit {
    /// Qualified (`app/name`).
    pub pipeline: String,
    pub app: Option<String>,
    /// The version the next runs use.
    pub version: i64,
    pub hash: String,
    /// The definition now differs from git's at the applied commit (an edit back to git's text
    /// is not drift).
    pub changed_live: bool,
    /// Automated sync with `selfHeal` is on (and not suspended): the edit is reverted at once.
    pub self_heal: bool,
}

/// The history initiator of an automated sync of this kind: `self-heal` when it reverts live
/// changes, `automated` otherwise.
pub(super) fn auto_sync_initiator(kind: AutoSyncKind) -> &'static str {
    match kind {
        AutoSyncKind::SelfHeal => "self-heal",
        _ => "automated",
    }
}

impl<S: Store> Server<S> {
    /// Replaces the definition of `name` with `text` (see the module docs).
    pub(in crate::server) async fn replace_pipeline(
        &mut self,
        name: &str,
        text: &str,
        initiator: &str,
    ) -> Result<LiveEdit, CommandError> {
        self.refuse_folder_pipeline(name)?;
        let not_found = || CommandError::NotFound(format!("no pipeline {name}"));
        let (app, local) = name.split_once('/').ok_or_else(not_found)?;
        let state = self.apps.get(app).ok_or_else(not_found)?;
        let applied = state.applied.as_ref().ok_or_else(not_found)?;
        let current = applied
            .defs
            .iter()
            .find(|def| def.pipeline.name == name)
            .ok_or_else(not_found)?
            .clone();
        let self_heal = state.spec.policy.automated
            && state.spec.policy.self_heal
            && !state.auto_sync_suspended;
        let commit = applied.commit.id.to_string();
        let stored = self.store.get_version(current.version).await;
        let source = stored.map_err(|error| CommandError::Internal(error.to_string()))?;
        let mut pipeline = parse_edit(name, &source.source, text)?;
        pipeline.source_dir = current.pipeline.source_dir.clone();
        let hash = crate::hash::content_hash(&[name, &commit, text]);
        let version = NewVersion {
            pipeline: name.to_owned(),
            hash: hash.clone(),
            definition: text.to_owned(),
            source: source.source,
        };
        let recorded = self.store.record_live_edit(version, Timestamp::now()).await;
        let recorded = recorded.map_err(|error| CommandError::Internal(error.to_string()))?;
        let def = PipelineDef {
            pipeline: Arc::new(pipeline),
            version: recorded.id,
        };
        let applied = self
            .apps
            .get_mut(app)
            .and_then(|state| state.applied.as_mut())
            .ok_or_else(not_found)?;
        let git_hash = mark_changed_live(applied, def, local, &hash, text);
        let changed_live = git_hash != hash;
        tracing::info!(pipeline = %name, initiator, version = recorded.id, changed_live, self_heal, "pipeline definition replaced live through the api");
        self.publish_pipelines()
            .await
            .map_err(|error| CommandError::Internal(format!("{error:#}")))?;
        self.publish_apps();
        Ok(LiveEdit {
            pipeline: name.to_owned(),
            app: Some(app.to_owned()),
            version: recorded.id,
            hash,
            changed_live,
            self_heal,
        })
    }

    /// Right after a live edit: the app's automated sync decides at once, against the last
    /// fetch of its revision, so `selfHeal` reverts the edit without waiting for the next poll.
    pub(in crate::server) async fn reconcile_after_live_edit(
        &mut self,
        app: &str,
    ) -> anyhow::Result<()> {
        self.auto_sync(app).await?;
        self.publish_apps();
        Ok(())
    }

    /// A pipeline of the plain folder is not edited live: its file is its source of truth.
    fn refuse_folder_pipeline(&self, name: &str) -> Result<(), CommandError> {
        let file = self.defs_by_file.iter().find_map(|(file, defs)| {
            let defines = defs.iter().any(|def| def.pipeline.name == name);
            defines.then_some(file)
        });
        match file {
            Some(file) => Err(CommandError::DefinedInFolder(format!(
                "pipeline {name} is defined by {} in the pipelines folder: edit that file (the folder is reloaded when it changes); live edits are for GitOps pipelines",
                file.display()
            ))),
            None => Ok(()),
        }
    }

    /// After a restart: the app's pipelines that were changed live (marked in the store) run
    /// their live version again, still marked, instead of git's.
    pub(in crate::server) async fn restore_live_edits(
        &self,
        applied: &mut Applied,
    ) -> anyhow::Result<()> {
        for index in 0..applied.defs.len() {
            let name = applied.defs[index].pipeline.name.clone();
            let row = match self.store.get_pipeline(&name).await {
                Ok(row) => row,
                Err(aqueduct_store::Error::NotFound(_)) => continue,
                Err(error) => return Err(error.into()),
            };
            let Some(live_id) = row.live_version else {
                continue;
            };
            let live = self.store.get_version(live_id).await?;
            let Some(mut pipeline) = load::parse_version(&name, &live.source, &live.definition)
            else {
                tracing::error!(pipeline = %name, version = live_id, "the live version no longer parses; the pipeline runs git's definition");
                continue;
            };
            pipeline.source_dir = applied.defs[index].pipeline.source_dir.clone();
            // the startup re-read recorded git's version as the latest: the live one runs
            let again = NewVersion {
                pipeline: name.clone(),
                hash: live.hash.clone(),
                definition: live.definition.clone(),
                source: live.source.clone(),
            };
            self.store
                .record_pipeline_versions(vec![again], Timestamp::now())
                .await?;
            let local = name.rsplit('/').next().unwrap_or_default().to_owned();
            let def = PipelineDef {
                pipeline: Arc::new(pipeline),
                version: live_id,
            };
            mark_changed_live(applied, def, &local, &live.hash, &live.definition);
            tracing::info!(pipeline = %name, version = live_id, "pipeline runs its live edit again: it stays out of sync until a sync");
        }
        Ok(())
    }
}

/// Puts a live definition in place of the applied one; returns git's hash for it.
fn mark_changed_live(
    applied: &mut Applied,
    def: PipelineDef,
    local: &str,
    hash: &str,
    text: &str,
) -> String {
    let name = def.pipeline.name.clone();
    let hashes = Arc::make_mut(&mut applied.hashes);
    let previous = hashes.insert(name.clone(), hash.to_owned());
    let git_hash = match applied.changed_live.get(&name) {
        Some(git_hash) => git_hash.clone(),
        None => previous.unwrap_or_default(),
    };
    if git_hash == hash {
        applied.changed_live.remove(&name);
    } else {
        applied.changed_live.insert(name.clone(), git_hash.clone());
    }
    let texts = crate::gitops::Texts::make_mut(&mut applied.texts);
    texts.insert(local.to_owned(), text.to_owned());
    if let Some(slot) = applied.defs.iter_mut().find(|d| d.pipeline.name == name) {
        *slot = def;
    }
    git_hash
}

/// The pipeline `name` (qualified) as `text` defines it, parsed as the file `source`.
fn parse_edit(
    name: &str,
    source: &str,
    text: &str,
) -> Result<aqueduct_core::Pipeline, CommandError> {
    let parsed = aqueduct_spec::parse_source(Path::new(source), text);
    if let Some(problem) = parsed.diagnostics.first() {
        let message = format!(
            "invalid definition: {}:{}: {}: {}",
            problem.line,
            problem.column,
            problem.code.as_str(),
            problem.message
        );
        return Err(CommandError::Invalid(message));
    }
    load::parse_version(name, source, text).ok_or_else(|| {
        let local = name.rsplit('/').next().unwrap_or_default();
        CommandError::Invalid(format!("the definition must be named `{local}`"))
    })
}
