//! Pools shared by several active servers: a pool's slots are rows in the database that servers
//! claim with `FOR UPDATE SKIP LOCKED` (see [`super::Shares`]), and each server's scheduler admits
//! tasks within the slots it holds, so a pool never runs more than its size across servers.
//!
//! Every second, per pool, a server aims at a **target** number of slots:
//! - another server's tasks wait for the pool: what it uses, plus what its own tasks wait for
//!   up to its fair share (size over live servers, rounded up); slots above that are given back
//!   as its tasks end, and its scheduler admits nothing above the target meanwhile;
//! - nobody else waits and its pipelines use the pool: what its tasks use and wait for, and at
//!   least its fair share, kept in advance so a task starts without waiting for a claim;
//! - its pipelines do not use the pool: what it uses (nothing).
//!
//! It claims free slots up to the target and gives back idle ones above it. A server that dies
//! frees its slots with its connection (a slot of a server that is not live is free).

use std::collections::BTreeMap;

use aqueduct_core::scheduler::{Input, PoolDemand};
use aqueduct_store::Store;

use super::{Server, Shares};

/// How many slots of a pool a server should hold, from its demand, the pool's size, the live
/// servers and whether another server waits for the pool (the rules in the module doc).
pub(super) fn target(demand: PoolDemand, size: u32, members: u32, contended: bool) -> u32 {
    let fair = size.div_ceil(members.max(1));
    let wanted = demand.used + demand.waiting;
    let target = if contended {
        demand.used.max(wanted.min(fair))
    } else if demand.named {
        wanted.max(fair)
    } else {
        wanted
    };
    target.min(size).max(demand.used)
}

impl<S: Store> Server<S> {
    /// Brings the slots this server holds of each pool to their target, and its scheduler's
    /// pool sizes to what it may use.
    pub(super) async fn share_pools(
        &mut self,
        shares: &dyn Shares,
        members: usize,
    ) -> anyhow::Result<()> {
        let demand = self.scheduler.pool_demand();
        let waiting: BTreeMap<String, u32> = demand
            .iter()
            .filter(|(_, at)| at.waiting > 0)
            .map(|(pool, at)| (pool.clone(), at.waiting))
            .collect();
        let contended = shares.pool_waits(&waiting).await?;
        let members = u32::try_from(members).unwrap_or(u32::MAX);
        let mut sizes = BTreeMap::new();
        for (pool, at) in &demand {
            let size = self.config.limits.pool_size(pool);
            let target = target(*at, size, members, contended.contains(pool));
            let held = self.pool_held.get(pool).copied().unwrap_or(0);
            let held = if target > held {
                held + shares.claim_pool_slots(pool, size, target - held).await?
            } else if held > target {
                shares.release_pool_slots(pool, held - target).await?;
                target
            } else {
                held
            };
            // never above the target: a claim takes at most up to it, a release goes down to it
            self.pool_held.insert(pool.clone(), held);
            sizes.insert(pool.clone(), held);
        }
        // pools no pipeline of this server names any more
        let gone: Vec<String> = self
            .pool_held
            .keys()
            .filter(|pool| !demand.contains_key(*pool))
            .cloned()
            .collect();
        for pool in gone {
            if let Some(held) = self.pool_held.remove(&pool)
                && held > 0
            {
                shares.release_pool_slots(&pool, held).await?;
            }
        }
        if sizes != self.pool_sizes {
            self.pool_sizes = sizes.clone();
            self.scheduler.set_pool_sizes(sizes, 0);
            self.step(Input::Tick).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(used: u32, waiting: u32, named: bool) -> PoolDemand {
        PoolDemand {
            used,
            waiting,
            named,
        }
    }

    #[test]
    fn a_lone_server_holds_the_whole_pool_of_its_pipelines() {
        assert_eq!(target(demand(0, 0, true), 128, 1, false), 128);
        assert_eq!(
            target(demand(0, 0, false), 128, 1, false),
            0,
            "not its pool"
        );
    }

    #[test]
    fn servers_keep_their_fair_share_and_take_more_when_nobody_else_waits() {
        assert_eq!(target(demand(0, 0, true), 5, 2, false), 3);
        assert_eq!(target(demand(2, 2, true), 5, 2, false), 4);
        assert_eq!(
            target(demand(2, 9, true), 5, 2, false),
            5,
            "never above the size"
        );
    }

    #[test]
    fn when_another_waits_a_server_shrinks_to_its_fair_share_as_its_tasks_end() {
        assert_eq!(
            target(demand(4, 3, true), 5, 2, true),
            4,
            "running tasks keep theirs"
        );
        assert_eq!(
            target(demand(1, 3, true), 5, 2, true),
            3,
            "up to the fair share"
        );
        assert_eq!(
            target(demand(0, 0, true), 5, 2, true),
            0,
            "idle: all given back"
        );
    }
}
