//! GitOps apps and their sync history in a [`super::MemStore`].

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::records::{AppRecord, NewSync, Page, SyncRecord, truncate_to_micros as micros};
use crate::{Error, Result};

#[derive(Debug, Clone, Default)]
pub(super) struct Apps {
    by_name: BTreeMap<String, AppRecord>,
    /// Sync `id` is at index `id - 1`; rows stay when their app is deleted.
    syncs: Vec<SyncRecord>,
}

impl Apps {
    pub(super) fn upsert(
        &mut self,
        name: &str,
        spec_json: &str,
        origin: &str,
        at: Timestamp,
    ) -> AppRecord {
        let at = micros(at);
        let app = self
            .by_name
            .entry(name.to_owned())
            .or_insert_with(|| AppRecord {
                name: name.to_owned(),
                spec_json: spec_json.to_owned(),
                origin: origin.to_owned(),
                applied_commit: None,
                auto_sync_suspended: false,
                created_at: at,
                updated_at: at,
            });
        if app.spec_json != spec_json || app.origin != origin {
            app.spec_json = spec_json.to_owned();
            app.origin = origin.to_owned();
            app.updated_at = at;
        }
        app.clone()
    }

    pub(super) fn get(&self, name: &str) -> Result<&AppRecord> {
        self.by_name.get(name).ok_or_else(|| app_not_found(name))
    }

    fn get_mut(&mut self, name: &str) -> Result<&mut AppRecord> {
        self.by_name
            .get_mut(name)
            .ok_or_else(|| app_not_found(name))
    }

    pub(super) fn list(&self) -> Vec<AppRecord> {
        self.by_name.values().cloned().collect()
    }

    pub(super) fn delete(&mut self, name: &str) -> Result<()> {
        self.by_name
            .remove(name)
            .map(drop)
            .ok_or_else(|| app_not_found(name))
    }

    pub(super) fn set_suspended(
        &mut self,
        name: &str,
        suspended: bool,
        at: Timestamp,
    ) -> Result<()> {
        let app = self.get_mut(name)?;
        if app.auto_sync_suspended != suspended {
            app.auto_sync_suspended = suspended;
            app.updated_at = micros(at);
        }
        Ok(())
    }

    /// Appends a history row for `sync`; the caller has checked that its app exists.
    pub(super) fn push_sync(&mut self, sync: NewSync, at: Timestamp) -> SyncRecord {
        let record = SyncRecord::of(self.syncs.len() as i64 + 1, sync, at);
        self.syncs.push(record.clone());
        record
    }

    /// Makes `commit` the app's applied commit.
    pub(super) fn mark_applied(&mut self, name: &str, commit: &str, at: Timestamp) -> Result<()> {
        let app = self.get_mut(name)?;
        app.applied_commit = Some(commit.to_owned());
        app.updated_at = micros(at);
        Ok(())
    }

    pub(super) fn syncs_of(&self, app: &str, page: Page) -> (Vec<SyncRecord>, u64) {
        let newest_first = self.syncs.iter().rev();
        let of_app: Vec<SyncRecord> = newest_first
            .filter(|sync| sync.app == app)
            .cloned()
            .collect();
        super::paginate(of_app, page)
    }

    pub(super) fn sync(&self, app: &str, id: i64) -> Result<&SyncRecord> {
        let index = id
            .checked_sub(1)
            .and_then(|index| usize::try_from(index).ok());
        let found = index.and_then(|index| self.syncs.get(index));
        found
            .filter(|sync| sync.app == app)
            .ok_or_else(|| Error::NotFound(format!("sync {id} of app {app}")))
    }
}

fn app_not_found(name: &str) -> Error {
    Error::NotFound(format!("app {name}"))
}
