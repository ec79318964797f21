//! Several active servers on one database: each schedules a share of the work.
//!
//! The work is cut into **units**: each GitOps app (its git sync, its pipelines, their runs) and
//! each pipeline of the plain folder. A server schedules the units it holds, and only those;
//! every server still loads every pipeline, so any of them answers reads. Holding a unit is a
//! lock in the database ([`Shares`]: a PostgreSQL advisory lock on a connection of the server's
//! own, released by PostgreSQL when the server dies), so no two servers ever schedule one
//! pipeline. Every second the loop compares its share with a fair one (units over live
//! servers, rounded up): it claims free units up to it and releases idle ones above it, so a
//! new server gets work and a dead server's units are taken over at once (their active runs
//! restored from the store, their running attempts lost and retried per policy).
//!
//! The pools' slots are shared too: each server holds some of every pool's slots (rows claimed
//! with `FOR UPDATE SKIP LOCKED`) and admits its tasks within them; see `pools.rs`.
//!
//! Without [`Shares`] (SQLite) the server holds every unit and every slot.

use futures_util::future::BoxFuture;

/// The unit of a pipeline: its app's for a GitOps pipeline (named `<app>/<name>`), its own for
/// a pipeline of the folder.
pub fn unit_of_pipeline(pipeline: &str) -> String {
    match pipeline.split_once('/') {
        Some((app, _)) => unit_of_app(app),
        None => format!("pipeline:{pipeline}"),
    }
}

/// The unit of a GitOps app.
pub fn unit_of_app(app: &str) -> String {
    format!("app:{app}")
}

/// Why a command on `unit` is not carried out here.
pub(super) fn elsewhere(unit: &str) -> String {
    match unit.split_once(':') {
        Some(("app", app)) => format!("app {app} is synced by another server; try again"),
        Some((_, pipeline)) => {
            format!("pipeline {pipeline} is scheduled by another server; try again")
        }
        None => format!("{unit} is held by another server; try again"),
    }
}

/// The database's locks on units, as the server loop needs them.
pub trait Shares: Send + Sync + 'static {
    /// How many servers share the database now (this one included).
    fn members(&self) -> BoxFuture<'_, anyhow::Result<usize>>;
    /// Takes `unit` if no server holds it; whether this server holds it now.
    fn try_claim<'a>(&'a self, unit: &'a str) -> BoxFuture<'a, anyhow::Result<bool>>;
    /// Gives `unit` up.
    fn release<'a>(&'a self, unit: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Those of `units` no server holds now, in their order.
    fn free_units<'a>(&'a self, units: &'a [String]) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;
    /// Records which units this server holds, for the list of servers (`GET /api/v1/servers`).
    fn record_units<'a>(&'a self, units: &'a [String]) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Takes up to `count` free slots of the first `size` of `pool`; how many it took.
    fn claim_pool_slots<'a>(
        &'a self,
        pool: &'a str,
        size: u32,
        count: u32,
    ) -> BoxFuture<'a, anyhow::Result<u32>>;
    /// Gives `count` of this server's slots of `pool` back.
    fn release_pool_slots<'a>(
        &'a self,
        pool: &'a str,
        count: u32,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Records the slots this server's ready tasks wait for, per pool; returns the pools
    /// another server's tasks wait for.
    fn pool_waits<'a>(
        &'a self,
        waiting: &'a BTreeMap<String, u32>,
    ) -> BoxFuture<'a, anyhow::Result<BTreeSet<String>>>;
}

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

use aqueduct_store::Store;

use super::Server;

/// How often the loop looks at its share of the work.
pub(super) const SHARE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl<S: Store> Server<S> {
    /// Whether this server carries out the work of `unit`: always without [`Shares`].
    pub(super) fn holds(&self, unit: &str) -> bool {
        self.config.shares.is_none() || self.owned.contains(unit)
    }

    pub(super) fn holds_pipeline(&self, pipeline: &str) -> bool {
        self.config.shares.is_none() || self.holds(&unit_of_pipeline(pipeline))
    }

    pub(super) fn holds_app(&self, app: &str) -> bool {
        self.config.shares.is_none() || self.holds(&unit_of_app(app))
    }

    /// Whether `unit` is an app or a pipeline of the folder this server knows (a command on an
    /// unknown one is answered here: not found).
    pub(super) fn knows(&self, unit: &str) -> bool {
        if let Some(app) = unit.strip_prefix("app:") {
            return self.apps.contains_key(app);
        }
        let Some(pipeline) = unit.strip_prefix("pipeline:") else {
            return false;
        };
        let mut folder = self.defs_by_file.values().flatten();
        folder.any(|def| def.pipeline.name == pipeline)
    }

    /// Every unit this server knows: each app, and each pipeline of the folder.
    fn units(&self) -> BTreeSet<String> {
        let folder = self.defs_by_file.values().flatten();
        let pipelines = folder.map(|def| unit_of_pipeline(&def.pipeline.name));
        let apps = self.apps.keys().map(|app| unit_of_app(app));
        pipelines.chain(apps).collect()
    }

    /// Whether no run of the unit is active here, so it can be handed over.
    fn idle(&self, unit: &str) -> bool {
        !self
            .scheduler
            .runs()
            .any(|run| unit_of_pipeline(&run.info.pipeline) == unit)
    }

    /// Compares this server's share with a fair one (units over live servers, rounded up):
    /// hands over idle units above it and claims free ones up to it. A unit whose holder died
    /// is free, so this is also how a dead server's work is taken over.
    pub(super) async fn rebalance(&mut self) -> anyhow::Result<()> {
        let Some(shares) = self.config.shares.clone() else {
            return Ok(());
        };
        self.follow_app_list().await?;
        let units = self.units();
        let members = shares.members().await?.max(1);
        let fair = units.len().div_ceil(members);
        let seed = self.share_seed.clone();
        // the units this server prefers least are handed over first
        let mut held: Vec<String> = self.owned.iter().cloned().collect();
        held.sort_by_key(|unit| std::cmp::Reverse(seed.hash_one(unit)));
        let mut keep = held.iter().filter(|unit| units.contains(*unit)).count();
        let mut handed = Vec::new();
        for unit in held {
            let gone = !units.contains(&unit);
            if (gone || keep > fair) && self.idle(&unit) {
                self.owned.remove(&unit);
                keep -= usize::from(!gone);
                handed.push(unit);
            }
        }
        if !handed.is_empty() {
            // out of the scheduler before another server can take them
            self.publish_pipelines().await?;
            for unit in &handed {
                shares.release(unit).await?;
                tracing::info!(%unit, "handed over to another server");
            }
        }
        let mut gained = Vec::new();
        if self.owned.len() < fair {
            let others: Vec<String> = units
                .difference(&self.owned.iter().cloned().collect())
                .cloned()
                .collect();
            let mut free = shares.free_units(&others).await?;
            free.sort_by_key(|unit| seed.hash_one(unit));
            for unit in free {
                if self.owned.len() + gained.len() >= fair {
                    break;
                }
                if shares.try_claim(&unit).await? {
                    gained.push(unit);
                }
            }
        }
        let changed = !handed.is_empty() || !gained.is_empty();
        if !gained.is_empty() {
            self.adopt(gained).await?;
        }
        self.share_pools(&*shares, members).await?;
        if changed {
            let count = self.owned.len();
            self.observe(super::ServerEvent::UnitsHeld { count });
            let mut held: Vec<String> = self.owned.iter().cloned().collect();
            held.sort();
            shares.record_units(&held).await?;
        }
        Ok(())
    }

    /// Starts scheduling `units`, just claimed: where each schedule stopped and which runs are
    /// active come from the store (attempts that were running under their previous holder are
    /// lost and retried per policy), apps come to the commit the store says they applied.
    async fn adopt(&mut self, units: Vec<String>) -> anyhow::Result<()> {
        for unit in &units {
            tracing::info!(%unit, "took over");
        }
        let gained: BTreeSet<String> = units.into_iter().collect();
        let ours = |pipeline: &str| gained.contains(&unit_of_pipeline(pipeline));
        let states = self.schedule_states(&ours).await?;
        self.step(aqueduct_core::scheduler::Input::ScheduleState(states))
            .await?;
        self.restore(&ours).await?;
        let apps: Vec<String> = self
            .apps
            .keys()
            .filter(|app| gained.contains(&unit_of_app(app)))
            .cloned()
            .collect();
        for app in &apps {
            self.follow_app(app).await?;
        }
        self.owned.extend(gained);
        self.publish_pipelines().await?;
        // an app's latest fetch may wait for a sync its previous holder (or nobody) did not do
        for app in &apps {
            self.auto_sync(app).await?;
        }
        self.publish_apps();
        Ok(())
    }
}
