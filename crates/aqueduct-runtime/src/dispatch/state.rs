//! The dispatcher's bookkeeping behind its lock: queued attempts, leases, workers, trees. No
//! IO here but the lease logs' appends, which callers make outside the dispatcher's lock.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::tree::TreeCache;
use super::{Claim, LeaseError, QueueView, Work, WorkerView};

/// Workers not seen for this long leave the workers list.
const FORGET_WORKERS_AFTER: Duration = Duration::from_secs(300);

pub(super) struct State {
    /// Makes lease ids unique across starts: a lease of a previous start is never mistaken
    /// for one of this start.
    nonce: u64,
    next_id: u64,
    /// Every hand-out gets a lease of its own, even the same attempt handed out again.
    next_lease: u64,
    queued: BTreeMap<String, VecDeque<Queued>>,
    leases: HashMap<String, Lease>,
    /// Where each submitted attempt is, by ticket id.
    tickets: HashMap<u64, Place>,
    workers: BTreeMap<String, Seen>,
    pub(super) trees: TreeCache,
}

struct Queued {
    id: u64,
    work: Arc<Work>,
    since: Instant,
    log: Arc<Mutex<LeaseLog>>,
}

struct Lease {
    id: u64,
    work: Arc<Work>,
    worker: String,
    expires: Instant,
    cancel: bool,
    since: Instant,
    log: Arc<Mutex<LeaseLog>>,
}

enum Place {
    Queued(String),
    Leased(String),
}

struct Seen {
    queues: Vec<String>,
    labels: BTreeMap<String, String>,
    slots: u32,
    at: Instant,
    wall: jiff::Timestamp,
}

/// The server's log file of an attempt, as a lease appends to it.
pub(super) struct LeaseLog {
    path: PathBuf,
    /// Bytes of the current lease's log the file holds.
    pub(super) received: u64,
    /// Why a write failed, if one did.
    pub(super) error: Option<String>,
}

/// An attempt just leased to a worker.
pub(super) struct Picked {
    pub(super) lease: String,
    pub(super) work: Arc<Work>,
    pub(super) waited: Duration,
    pub(super) log: Arc<Mutex<LeaseLog>>,
}

impl State {
    pub(super) fn new() -> State {
        State {
            nonce: RandomState::new().hash_one(std::process::id()),
            next_id: 0,
            next_lease: 0,
            queued: BTreeMap::new(),
            leases: HashMap::new(),
            tickets: HashMap::new(),
            workers: BTreeMap::new(),
            trees: TreeCache::default(),
        }
    }

    pub(super) fn enqueue(&mut self, work: Arc<Work>, now: Instant) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let log = Arc::new(Mutex::new(LeaseLog {
            path: work.log_path.clone(),
            received: 0,
            error: None,
        }));
        let queue = work.queue.clone();
        self.tickets.insert(id, Place::Queued(queue.clone()));
        let item = Queued {
            id,
            work,
            since: now,
            log,
        };
        self.queued.entry(queue).or_default().push_back(item);
        id
    }

    /// Leases up to `claim.free` attempts of the claim's queues, oldest first.
    pub(super) fn pick(&mut self, claim: &Claim, now: Instant, lease_for: Duration) -> Vec<Picked> {
        self.workers.insert(
            claim.worker.clone(),
            Seen {
                queues: claim.queues.clone(),
                labels: claim.labels.clone(),
                slots: claim.slots,
                at: now,
                wall: jiff::Timestamp::now(),
            },
        );
        let mut picked = Vec::new();
        while picked.len() < claim.free as usize {
            let oldest = claim
                .queues
                .iter()
                .filter_map(|queue| Some((queue, self.queued.get(queue)?.front()?.since)))
                .min_by_key(|(_, since)| *since)
                .map(|(queue, _)| queue.clone());
            let Some(queue) = oldest else {
                break;
            };
            let Some(item) = self.queued.get_mut(&queue).and_then(VecDeque::pop_front) else {
                break;
            };
            self.next_lease += 1;
            let lease = format!("{:016x}{:08x}", self.nonce, self.next_lease);
            self.tickets.insert(item.id, Place::Leased(lease.clone()));
            item.log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .received = 0;
            picked.push(Picked {
                lease: lease.clone(),
                work: item.work.clone(),
                waited: now.saturating_duration_since(item.since),
                log: item.log.clone(),
            });
            self.leases.insert(
                lease,
                Lease {
                    id: item.id,
                    work: item.work,
                    worker: claim.worker.clone(),
                    expires: now + lease_for,
                    cancel: false,
                    since: item.since,
                    log: item.log,
                },
            );
        }
        self.queued.retain(|_, items| !items.is_empty());
        picked
    }

    /// Cancels a submitted attempt: a queued one is removed and returned (it ends now); a
    /// leased one is marked for its worker's next heartbeat.
    pub(super) fn cancel(&mut self, id: u64) -> Option<Arc<Work>> {
        match self.tickets.get(&id)? {
            Place::Leased(lease) => {
                if let Some(lease) = self.leases.get_mut(lease) {
                    lease.cancel = true;
                }
                None
            }
            Place::Queued(queue) => {
                let items = self.queued.get_mut(queue)?;
                let at = items.iter().position(|item| item.id == id)?;
                let item = items.remove(at)?;
                self.tickets.remove(&id);
                Some(item.work)
            }
        }
    }

    pub(super) fn renew(&mut self, lease: &str, until: Instant) -> Result<bool, LeaseError> {
        let held = self
            .leases
            .get_mut(lease)
            .ok_or_else(|| LeaseError::Lost(lease.to_owned()))?;
        held.expires = until;
        let cancel = held.cancel;
        if let Some(seen) = self.workers.get_mut(&held.worker) {
            seen.at = Instant::now();
            seen.wall = jiff::Timestamp::now();
        }
        Ok(cancel)
    }

    pub(super) fn log_of(&self, lease: &str) -> Result<Arc<Mutex<LeaseLog>>, LeaseError> {
        self.leases
            .get(lease)
            .map(|held| held.log.clone())
            .ok_or_else(|| LeaseError::Lost(lease.to_owned()))
    }

    /// Removes a lease; its attempt, for its end to be reported.
    pub(super) fn end_lease(&mut self, lease: &str) -> Option<Arc<Work>> {
        let held = self.leases.remove(lease)?;
        self.tickets.remove(&held.id);
        Some(held.work)
    }

    /// Removes a lease and queues its attempt again, first in line (`Ok`), or returns the
    /// attempt when it was cancelled meanwhile (`Err`). `None`: no such lease.
    pub(super) fn release(
        &mut self,
        lease: &str,
        now: Instant,
    ) -> Option<(String, Result<(), Arc<Work>>)> {
        let held = self.leases.remove(lease)?;
        if held.cancel {
            self.tickets.remove(&held.id);
            return Some((held.worker, Err(held.work)));
        }
        let queue = held.work.queue.clone();
        self.tickets.insert(held.id, Place::Queued(queue.clone()));
        let item = Queued {
            id: held.id,
            work: held.work,
            since: held.since.min(now),
            log: held.log,
        };
        self.queued.entry(queue).or_default().push_front(item);
        Some((held.worker, Ok(())))
    }

    /// Removes the leases not renewed by `now`.
    pub(super) fn expired(
        &mut self,
        now: Instant,
    ) -> Vec<(String, Arc<Work>, Arc<Mutex<LeaseLog>>)> {
        let ids: Vec<String> = self
            .leases
            .iter()
            .filter(|(_, held)| held.expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        ids.into_iter()
            .filter_map(|id| {
                let held = self.leases.remove(&id)?;
                self.tickets.remove(&held.id);
                Some((held.worker, held.work, held.log))
            })
            .collect()
    }

    pub(super) fn workers(&mut self, now: Instant) -> Vec<WorkerView> {
        self.workers
            .retain(|_, seen| now.saturating_duration_since(seen.at) < FORGET_WORKERS_AFTER);
        self.workers
            .iter()
            .map(|(name, seen)| WorkerView {
                name: name.clone(),
                queues: seen.queues.clone(),
                labels: seen.labels.clone(),
                slots: seen.slots,
                running: self.running_on(name),
                last_seen: seen.wall,
            })
            .collect()
    }

    fn running_on(&self, worker: &str) -> u32 {
        let count = self
            .leases
            .values()
            .filter(|held| held.worker == worker)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    pub(super) fn queues(&self, now: Instant, live: Duration) -> Vec<QueueView> {
        let mut views: BTreeMap<String, QueueView> = BTreeMap::new();
        fn view<'a>(views: &'a mut BTreeMap<String, QueueView>, queue: &str) -> &'a mut QueueView {
            views.entry(queue.to_owned()).or_insert_with(|| QueueView {
                queue: queue.to_owned(),
                depth: 0,
                oldest_wait: Duration::ZERO,
                running: 0,
                slots: 0,
            })
        }
        for (queue, items) in &self.queued {
            let entry = view(&mut views, queue);
            entry.depth = items.len() as u64;
            entry.oldest_wait = items
                .iter()
                .map(|item| now.saturating_duration_since(item.since))
                .max()
                .unwrap_or_default();
        }
        for held in self.leases.values() {
            view(&mut views, &held.work.queue).running += 1;
        }
        for seen in self.workers.values() {
            if now.saturating_duration_since(seen.at) <= live {
                for queue in &seen.queues {
                    view(&mut views, queue).slots += u64::from(seen.slots);
                }
            }
        }
        views.into_values().collect()
    }
}

impl LeaseLog {
    /// Appends the part of `bytes` (which start at `offset` of the lease's log) the file does
    /// not hold yet; answers how many bytes of the lease's log it holds.
    pub(super) fn append(&mut self, offset: u64, bytes: &[u8]) -> u64 {
        let end = offset + bytes.len() as u64;
        if offset > self.received || end <= self.received {
            return self.received;
        }
        let skip = usize::try_from(self.received - offset).unwrap_or(usize::MAX);
        if self.write(&bytes[skip..]) {
            self.received = end;
        }
        self.received
    }

    /// Appends to the file; false when the write failed (remembered in `error`).
    pub(super) fn write(&mut self, bytes: &[u8]) -> bool {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| file.write_all(bytes));
        match written {
            Ok(()) => true,
            Err(error) => {
                self.error = Some(format!("cannot write {}: {error}", self.path.display()));
                false
            }
        }
    }
}
