//! Mutation rate limits: a token bucket per signed-in user, or per client IP for anonymous
//! requests. In memory, per instance: a cap on bursts from one client, not a quota.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::config::RateLimitConfig;

/// Buckets kept before full (idle) ones are dropped.
const MAX_BUCKETS: usize = 50_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    User(String),
    Ip(IpAddr),
}

impl Client {
    /// An anonymous client by its address; over IPv6 by its /64, which one subscriber is
    /// given whole (one bucket per address would give it 2^64).
    pub fn ip(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V6(v6) => Self::Ip(IpAddr::V6((u128::from(v6) & !(u64::MAX as u128)).into())),
            v4 => Self::Ip(v4),
        }
    }
}

/// Why a request's mutations were refused.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// There will be tokens enough after this wait.
    Wait(Duration),
    /// More mutations than a burst allows (this many), in one request: never.
    OverBurst(u32),
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<Client, Bucket>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// (refill per second, capacity) for a client; `None` when unlimited.
    fn rate(&self, client: &Client) -> Option<(f64, f64)> {
        let per_minute = match client {
            Client::User(_) => self.config.per_minute,
            Client::Ip(_) => self.config.anonymous_per_minute,
        };
        (per_minute > 0).then(|| {
            let burst = self.config.burst.clamp(1, per_minute);
            (f64::from(per_minute) / 60.0, f64::from(burst))
        })
    }

    /// Takes `cost` tokens, or says how long to wait until they are there.
    pub fn take(&self, client: Client, cost: u32) -> Result<(), Refused> {
        let Some((refill, capacity)) = self.rate(&client) else {
            return Ok(());
        };
        let cost = f64::from(cost);
        if cost > capacity {
            // No wait would do: the bucket never holds that many.
            return Err(Refused::OverBurst(capacity as u32));
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        // Read under the lock, so that a bucket's times only move forward.
        let now = Instant::now();
        if buckets.len() >= MAX_BUCKETS {
            // Full buckets say nothing: they go first. If that leaves more than half (many
            // clients mid-burst), the least recently seen go too, down to half, so the scan
            // comes once per MAX_BUCKETS / 2 new clients and the map stays bounded.
            buckets.retain(|c, b| {
                let full = self.rate(c).is_none_or(|(refill, capacity)| {
                    b.tokens + now.duration_since(b.updated).as_secs_f64() * refill >= capacity
                });
                !full
            });
            if buckets.len() > MAX_BUCKETS / 2 {
                let mut seen: Vec<Instant> = buckets.values().map(|b| b.updated).collect();
                let drop = seen.len() - MAX_BUCKETS / 2;
                let (_, cut, _) = seen.select_nth_unstable(drop);
                let cut = *cut;
                buckets.retain(|_, b| b.updated >= cut);
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            Ok(())
        } else {
            Err(Refused::Wait(Duration::from_secs_f64(
                (cost - bucket.tokens) / refill,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            per_minute,
            burst,
            anonymous_per_minute: 6,
            trust_forwarded_for: false,
        })
    }

    #[test]
    fn a_burst_then_a_wait() {
        let limiter = limiter(60, 3);
        let ann = || Client::User("ann".into());
        for _ in 0..3 {
            assert_eq!(limiter.take(ann(), 1), Ok(()));
        }
        let Err(Refused::Wait(wait)) = limiter.take(ann(), 1) else {
            panic!("a wait");
        };
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // More than a burst in one request never fits, however long it waits.
        assert_eq!(
            limiter.take(Client::User("cy".into()), 4),
            Err(Refused::OverBurst(3))
        );
        // Another client has its own bucket.
        assert_eq!(limiter.take(Client::User("bob".into()), 1), Ok(()));
        // Anonymous clients share their IP's (smaller) bucket.
        let ip = || Client::Ip(IpAddr::from([127, 0, 0, 1]));
        assert_eq!(limiter.take(ip(), 3), Ok(()));
        assert!(limiter.take(ip(), 1).is_err());
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let ip = |s: &str| Client::ip(s.parse().unwrap());
        assert_eq!(ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff::9"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_eq!(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
        assert_ne!(ip("192.0.2.1"), ip("192.0.2.2"));
    }

    #[test]
    fn buckets_stay_bounded_when_none_is_full() {
        let limiter = limiter(60, 3);
        // Every client mid-burst: none is full, so none could be dropped as idle.
        for i in 0..(MAX_BUCKETS + 10) {
            assert_eq!(limiter.take(Client::User(i.to_string()), 1), Ok(()));
            assert!(limiter.buckets.lock().unwrap().len() <= MAX_BUCKETS);
        }
        let left = limiter.buckets.lock().unwrap().len();
        assert!(left <= MAX_BUCKETS / 2 + 11, "{left}");
        // The most recent are kept.
        let last = Client::User((MAX_BUCKETS + 9).to_string());
        assert!(limiter.buckets.lock().unwrap().contains_key(&last));
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = limiter(0, 0);
        for _ in 0..1000 {
            assert_eq!(limiter.take(Client::User("ann".into()), 1), Ok(()));
        }
    }
}
