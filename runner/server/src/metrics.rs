//! Prometheus metrics (`/metrics`), with prometheus-client: counts and
//! durations only, never a name a caller chose beyond a provider's.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A run's outcome, as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// passed, failed, error, interrupted, cancelled.
    pub outcome: String,
}

/// A provider, as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabel {
    /// The provider's name (`managed` for the server's own values).
    pub provider: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// Runs finished, by outcome.
    pub runs: Family<OutcomeLabel, Counter>,
    /// Runs waiting for a worker.
    pub queued: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Runs executing now.
    pub running: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Seconds from start to end of a run.
    pub run_seconds: Histogram,
    /// Secrets resolved for runs, by provider.
    pub resolutions: Family<ProviderLabel, Counter<u64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("reqflo");
        let runs = Family::<OutcomeLabel, Counter>::default();
        let queued = Gauge::default();
        let running = Gauge::default();
        let run_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 16));
        let resolutions = Family::<ProviderLabel, Counter>::default();
        registry.register("runs", "Runs finished, by outcome", runs.clone());
        registry.register("queue_depth", "Runs waiting for a worker", queued.clone());
        registry.register("runs_running", "Runs executing now", running.clone());
        registry.register(
            "run_duration_seconds",
            "Time from a run's start to its end",
            run_seconds.clone(),
        );
        registry.register(
            "secret_resolutions",
            "Secrets resolved for runs, by provider",
            resolutions.clone(),
        );
        Metrics {
            registry,
            runs,
            queued,
            running,
            run_seconds,
            resolutions,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
