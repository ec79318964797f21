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
}

impl Limits {
    /// `parallelism` tasks at once, and only the default pool.
    pub fn new(parallelism: usize) -> Limits {
        Limits {
            parallelism: parallelism.max(1),
            pools: BTreeMap::new(),
        }
    }

    fn pool_size(&self, pool: &str) -> u32 {
        self.pools.get(pool).copied().unwrap_or(DEFAULT_POOL_SLOTS)
    }
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
