//! The load driver: a fixed number of clients, each repeating a workload as fast as it
//! answers for a fixed time, with its own seeded generator, so a run is repeatable.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::rng::Rng;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// The requests of one measured slice.
#[derive(Default)]
pub struct Sample {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
}

impl Stats {
    /// The statistics of several slices of the same workload and target, as one.
    pub fn of(samples: Vec<Sample>) -> Self {
        let mut all = Vec::new();
        let mut stats = Stats::default();
        for sample in samples {
            all.extend(sample.latencies_us);
            stats.errors += sample.errors;
            stats.seconds += sample.seconds;
            if stats.first_error.is_none() {
                stats.first_error = sample.first_error;
            }
        }
        all.sort_unstable();
        let percentile = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .map_or(0.0, |us| *us as f64 / 1000.0)
        };
        stats.requests = all.len() as u64;
        stats.rps = stats.requests as f64 / stats.seconds.max(f64::EPSILON);
        stats.p50_ms = percentile(0.50);
        stats.p90_ms = percentile(0.90);
        stats.p99_ms = percentile(0.99);
        stats
    }
}

/// Runs `once` from `concurrency` tasks for `duration`.
pub async fn drive<F, Fut>(concurrency: usize, duration: Duration, seed: u64, once: F) -> Sample
where
    F: Fn(Rng) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (Rng, Result<(), String>)> + Send,
{
    let once = Arc::new(once);
    let end = Instant::now() + duration;
    let workers = (0..concurrency).map(|w| {
        let once = once.clone();
        tokio::spawn(async move {
            let mut rng = Rng::new(seed).fork(w as u64);
            let mut latencies = Vec::new();
            let (mut errors, mut first_error) = (0u64, None);
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let (next, result) = once(rng).await;
                rng = next;
                latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                if let Err(e) = result {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            (latencies, errors, first_error)
        })
    });
    let mut sample = Sample {
        seconds: duration.as_secs_f64(),
        ..Sample::default()
    };
    for worker in futures_util::future::join_all(workers).await {
        let Ok((latencies, errors, first_error)) = worker else {
            sample.errors += 1;
            continue;
        };
        sample.latencies_us.extend(latencies);
        sample.errors += errors;
        if sample.first_error.is_none() {
            sample.first_error = first_error;
        }
    }
    sample
}
