//! The notification half of the Prometheus metrics: delivery attempts by sink kind and
//! result, their latency, and the outbox's backlog (sinks waiting, breakers open). Labels are
//! the sink kind (`webhook`, `slack`, `email`) and a fixed result; never a URL (it may carry a token).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    kind: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered,
    /// Failed; it will be retried.
    Failed,
    /// Failed for the last allowed time: dead-lettered.
    Dead,
}

impl DeliveryResult {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::Failed => "failed",
            DeliveryResult::Dead => "dead",
        }
    }
}

/// Every notification metric; part of [`crate::Metrics`].
#[derive(Debug)]
pub struct NotifyMetrics {
    deliveries: Family<DeliveryLabels, Counter>,
    delivery_duration: Family<KindLabels, Histogram, fn() -> Histogram>,
    sinks_pending: Gauge,
    breakers_open: Gauge,
}

/// 1 ms .. ~16 s: one HTTP delivery (the sender gives up on one after 10 s).
fn delivery_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl NotifyMetrics {
    pub(crate) fn new() -> NotifyMetrics {
        NotifyMetrics {
            deliveries: Family::default(),
            delivery_duration: Family::new_with_constructor(delivery_buckets),
            sinks_pending: Gauge::default(),
            breakers_open: Gauge::default(),
        }
    }

    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "notification_deliveries",
            "Delivery attempts of notifications, by sink kind (webhook, slack, email) and result \
             (delivered, failed and retried, dead-lettered)",
            self.deliveries.clone(),
        );
        registry.register(
            "notification_delivery_duration_seconds",
            "Time a sink took to answer one delivery attempt",
            self.delivery_duration.clone(),
        );
        registry.register(
            "notification_sinks_pending",
            "Sinks with notifications not delivered yet",
            self.sinks_pending.clone(),
        );
        registry.register(
            "notification_breakers_open",
            "Sinks behind an open circuit breaker (failing, not called until a probe is due)",
            self.breakers_open.clone(),
        );
    }

    /// One delivery attempt to a sink of `kind` ended after `elapsed`.
    pub fn delivery_finished(&self, kind: &str, result: DeliveryResult, elapsed: Duration) {
        let labels = DeliveryLabels {
            kind: kind.to_owned(),
            result: result.as_str(),
        };
        self.deliveries.get_or_create(&labels).inc();
        let kind = KindLabels {
            kind: kind.to_owned(),
        };
        self.delivery_duration
            .get_or_create(&kind)
            .observe(elapsed.as_secs_f64());
    }

    /// After a round of the sender: how many sinks wait and how many are behind a breaker.
    pub fn outbox_changed(&self, sinks_pending: u64, breakers_open: u64) {
        self.sinks_pending
            .set(i64::try_from(sinks_pending).unwrap_or(i64::MAX));
        self.breakers_open
            .set(i64::try_from(breakers_open).unwrap_or(i64::MAX));
    }
}
