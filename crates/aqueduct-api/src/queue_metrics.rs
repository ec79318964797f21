//! The remote workers' half of the Prometheus metrics, made for autoscalers (a Kubernetes HPA
//! on an external metric, or KEDA's Prometheus scaler): per queue, how many attempts wait for
//! a worker and for how long, how many run on workers, and how many slots the live workers
//! serving it have (saturation is `running / slots`); how long claimed attempts waited; and
//! how many workers are live. The label is the queue's name (bounded: queues are named in
//! pipeline files and checked like other names).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// 1 ms .. ~65 s: waits for a worker.
fn wait_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// One queue as the dispatcher sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSample {
    pub queue: String,
    pub depth: u64,
    pub oldest_wait: Duration,
    pub running: u64,
    pub slots: u64,
}

/// Every remote-worker metric; part of [`crate::Metrics`].
#[derive(Debug)]
pub struct QueueMetrics {
    depth: Family<QueueLabels, Gauge>,
    oldest_wait: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    running: Family<QueueLabels, Gauge>,
    slots: Family<QueueLabels, Gauge>,
    saturation: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    wait: HistogramFamily<QueueLabels>,
    workers: Gauge,
}

impl QueueMetrics {
    pub(crate) fn new() -> QueueMetrics {
        QueueMetrics {
            depth: Family::default(),
            oldest_wait: Family::default(),
            running: Family::default(),
            slots: Family::default(),
            saturation: Family::default(),
            wait: Family::new_with_constructor(wait_buckets),
            workers: Gauge::default(),
        }
    }

    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "queue_depth",
            "Task attempts waiting for a remote worker, by queue",
            self.depth.clone(),
        );
        registry.register(
            "queue_oldest_wait_seconds",
            "How long the oldest attempt waiting for a remote worker has waited, by queue",
            self.oldest_wait.clone(),
        );
        registry.register(
            "queue_running",
            "Task attempts running on remote workers, by queue",
            self.running.clone(),
        );
        registry.register(
            "queue_worker_slots",
            "Slots of the live remote workers serving a queue",
            self.slots.clone(),
        );
        registry.register(
            "queue_saturation",
            "Running attempts over worker slots, by queue (1 when attempts run or wait and no \
             worker serves the queue)",
            self.saturation.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "How long claimed attempts waited for a remote worker, by queue",
            self.wait.clone(),
        );
        registry.register(
            "workers",
            "Remote workers seen within their lease",
            self.workers.clone(),
        );
    }

    /// The dispatcher's queues now; a queue not among them is empty (its gauges go to 0).
    pub fn queues_sampled(&self, queues: &[QueueSample]) {
        for sample in queues {
            let labels = QueueLabels {
                queue: sample.queue.clone(),
            };
            self.depth.get_or_create(&labels).set(clamp(sample.depth));
            let oldest = sample.oldest_wait.as_secs_f64();
            self.oldest_wait.get_or_create(&labels).set(oldest);
            self.running
                .get_or_create(&labels)
                .set(clamp(sample.running));
            self.slots.get_or_create(&labels).set(clamp(sample.slots));
            let busy = (sample.running + sample.depth) as f64;
            let saturation = match sample.slots {
                0 if busy > 0.0 => 1.0,
                0 => 0.0,
                slots => sample.running as f64 / slots as f64,
            };
            self.saturation.get_or_create(&labels).set(saturation);
        }
    }

    /// Zeroes the gauges of a queue that is no longer sampled.
    pub fn queue_emptied(&self, queue: &str) {
        self.queues_sampled(&[QueueSample {
            queue: queue.to_owned(),
            depth: 0,
            oldest_wait: Duration::ZERO,
            running: 0,
            slots: 0,
        }]);
    }

    /// An attempt of `queue` was claimed after waiting `waited`.
    pub fn attempt_claimed(&self, queue: &str, waited: Duration) {
        let labels = QueueLabels {
            queue: queue.to_owned(),
        };
        self.wait
            .get_or_create(&labels)
            .observe(waited.as_secs_f64());
    }

    /// How many workers are live.
    pub fn workers_seen(&self, live: u64) {
        self.workers.set(clamp(live));
    }
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
