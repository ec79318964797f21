//! Admission: which ready tasks may start now, within the global parallelism, each pipeline's
//! `maxActiveTasks` and named pools. Older runs (by logical date) go first.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::runs::translate;
use super::{Effect, Scheduler};
use crate::state::{RunState, TaskState};

/// Airflow's pool that tasks without a `pool` use.
pub const DEFAULT_POOL: &str = "default_pool";
/// Airflow's default size of `default_pool`, also used for pools the server does not define.
pub const DEFAULT_POOL_SLOTS: u32 = 128;

/// Server-wide limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most tasks running at once across all pipelines (Airflow's `parallelism`).
    pub parallelism: usize,
    /// Pool sizes by name.
    pub pools: BTreeMap<String, u32>,
    /// The size of a pool `pools` does not name ([`DEFAULT_POOL_SLOTS`], Airflow's; 0 while
    /// several servers share the pools and this one holds none of an unnamed pool's slots).
    pub unnamed_pool_size: u32,
}

impl Limits {
    /// `parallelism` tasks at once, and only the default pool.
    pub fn new(parallelism: usize) -> Limits {
        Limits {
            parallelism: parallelism.max(1),
            pools: BTreeMap::new(),
            unnamed_pool_size: DEFAULT_POOL_SLOTS,
        }
    }

    /// How many slots `pool` has.
    pub fn pool_size(&self, pool: &str) -> u32 {
        self.pools
            .get(pool)
            .copied()
            .unwrap_or(self.unnamed_pool_size)
    }
}

/// What a pool's tasks take and want on this scheduler ([`Scheduler::pool_demand`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolDemand {
    /// Slots its running tasks use.
    pub used: u32,
    /// Slots its ready tasks wait for (they may wait for another limit too).
    pub waiting: u32,
    /// Whether a task of a pipeline this scheduler knows names the pool (or leaves it to
    /// `default_pool`), not only the configuration.
    pub named: bool,
}

/// What is in use right now.
#[derive(Default)]
struct Usage {
    running: usize,
    per_pipeline: BTreeMap<String, usize>,
    per_pool: BTreeMap<String, u32>,
}

impl Scheduler {
    fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        for run in self.runs.values() {
            for (index, task) in run.machine.tasks().iter().enumerate() {
                if task.state != TaskState::Running {
                    continue;
                }
                let spec = &run.pipeline.tasks[index];
                usage.running += 1;
                *usage
                    .per_pipeline
                    .entry(run.info.pipeline.clone())
                    .or_default() += 1;
                let pool = spec.pool.as_deref().unwrap_or(DEFAULT_POOL).to_owned();
                *usage.per_pool.entry(pool).or_default() += spec.pool_slots;
            }
        }
        usage
    }

    /// Slots in use per pool, for every pool that is configured or named by a known pipeline's
    /// task (so the set of pools is stable and a pool that empties reads 0).
    pub fn pool_usage(&self) -> BTreeMap<String, u32> {
        let mut pools: BTreeMap<String, u32> = self
            .limits
            .pools
            .keys()
            .map(|name| (name.clone(), 0))
            .collect();
        pools.insert(DEFAULT_POOL.to_owned(), 0);
        for entry in self.pipelines.values() {
            for task in &entry.def.pipeline.tasks {
                let pool = task.pool.as_deref().unwrap_or(DEFAULT_POOL);
                pools.entry(pool.to_owned()).or_default();
            }
        }
        for (pool, used) in self.usage().per_pool {
            pools.insert(pool, used);
        }
        pools
    }

    /// For every pool [`Scheduler::pool_usage`] lists: the slots in use and the slots ready
    /// tasks wait for. Several servers sharing a pool's slots decide with it how many to hold.
    pub fn pool_demand(&self) -> BTreeMap<String, PoolDemand> {
        let mut demand: BTreeMap<String, PoolDemand> = self
            .pool_usage()
            .into_iter()
            .map(|(pool, used)| {
                let at = PoolDemand {
                    used,
                    ..PoolDemand::default()
                };
                (pool, at)
            })
            .collect();
        for entry in self.pipelines.values() {
            for task in &entry.def.pipeline.tasks {
                let pool = task.pool.as_deref().unwrap_or(DEFAULT_POOL);
                demand.entry(pool.to_owned()).or_default().named = true;
            }
        }
        for run in self.runs.values() {
            if run.machine.state() != RunState::Running {
                continue;
            }
            for task in run.machine.ready() {
                let spec = &run.pipeline.tasks[task];
                let pool = spec.pool.as_deref().unwrap_or(DEFAULT_POOL);
                let at = demand.entry(pool.to_owned()).or_default();
                at.waiting += spec.pool_slots;
                at.named = true;
            }
        }
        demand
    }

    /// Replaces the pools' sizes: `sizes` by name, `unnamed` for the others. Tasks already
    /// running keep their slots; a smaller pool admits nothing until its use drops below it.
    pub fn set_pool_sizes(&mut self, sizes: BTreeMap<String, u32>, unnamed: u32) {
        self.limits.pools = sizes;
        self.limits.unnamed_pool_size = unnamed;
    }

    /// Launches ready tasks of running runs while the limits allow.
    pub(super) fn admit(&mut self, _now: Timestamp, effects: &mut Vec<Effect>) {
        let mut usage = self.usage();
        let mut order: Vec<(Timestamp, super::RunKey)> = self
            .runs
            .values()
            .filter(|run| run.machine.state() == RunState::Running)
            .filter(|run| run.machine.ready().next().is_some())
            .map(|run| (run.info.logical_date, run.info.key()))
            .collect();
        order.sort();
        for (_, key) in order {
            if usage.running >= self.limits.parallelism {
                break;
            }
            let limits = &self.limits;
            let Some(run) = self.runs.get_mut(&key) else {
                continue;
            };
            let pipeline = run.pipeline.clone();
            let max_tasks = pipeline.schedule.max_active_tasks as usize;
            let produced = run.machine.launch_ready(|task| {
                let spec = &pipeline.tasks[task];
                let pool = spec.pool.as_deref().unwrap_or(DEFAULT_POOL);
                let used_by_pipeline = usage.per_pipeline.get(&pipeline.name).copied().unwrap_or(0);
                let used_in_pool = usage.per_pool.get(pool).copied().unwrap_or(0);
                let fits = usage.running < limits.parallelism
                    && used_by_pipeline < max_tasks
                    && used_in_pool + spec.pool_slots <= limits.pool_size(pool);
                if fits {
                    usage.running += 1;
                    *usage.per_pipeline.entry(pipeline.name.clone()).or_default() += 1;
                    *usage.per_pool.entry(pool.to_owned()).or_default() += spec.pool_slots;
                }
                fits
            });
            translate(&key, produced, effects);
        }
    }
}
