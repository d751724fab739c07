//! Clerk's signing keys from its JWKS endpoint: fetched with a timeout, cached, refreshed
//! when a token names a key the cache lacks (at most once per interval, so a flood of
//! made-up `kid`s cannot hammer Clerk), and kept when a refresh fails. A key the cache
//! lacks while the set cannot be fetched is `Unreachable`, not unknown: nobody can tell
//! then whether Clerk signed with it. A set older than its maximum age is fetched again
//! by the next request that needs it (the others meanwhile use the old set), so that a
//! key Clerk withdrew stops verifying even when no token names a new one; while Clerk
//! cannot be reached, or answers without a usable key, the old set keeps serving.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use jsonwebtoken::{DecodingKey, jwk::JwkSet};
use tokio::sync::OwnedMutexGuard;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY: usize = 1 << 20;

/// When the last fetch started and whether it succeeded.
type LastFetch = Option<(Instant, bool)>;

pub struct Jwks {
    url: String,
    client: HttpsClient,
    keys: RwLock<Arc<HashMap<String, Arc<DecodingKey>>>>,
    /// When the last fetch started and whether it succeeded; held across the fetch so
    /// refreshes never overlap.
    last_fetch: Arc<tokio::sync::Mutex<LastFetch>>,
    /// When the cached set was last fetched successfully.
    fetched_at: std::sync::Mutex<Option<Instant>>,
    min_interval: Duration,
    max_age: Duration,
}

impl Jwks {
    pub fn new(
        url: String,
        min_interval: Duration,
        max_age: Duration,
    ) -> Result<Self, rustls::Error> {
        Ok(Self {
            url,
            client: client()?,
            keys: RwLock::new(Arc::default()),
            last_fetch: Arc::default(),
            fetched_at: std::sync::Mutex::new(None),
            min_interval,
            max_age,
        })
    }

    /// The key named `kid` (`None`: not Clerk's), refreshing the set once if it is
    /// unknown.
    pub async fn key(self: &Arc<Self>, kid: &str) -> Result<Option<Arc<DecodingKey>>, Unreachable> {
        if let Some(key) = self.cached(kid) {
            // Old: one request fetches (a failed fetch keeps the set, and this key with
            // it); the others go on with the set they have rather than wait for Clerk.
            if self.stale()
                && let Ok(last) = self.last_fetch.clone().try_lock_owned()
            {
                self.refresh_in_task(last).await;
                return Ok(self.cached(kid));
            }
            return Ok(Some(key));
        }
        let current = self.refresh().await;
        match self.cached(kid) {
            Some(key) => Ok(Some(key)),
            None if current => Ok(None),
            None => Err(Unreachable),
        }
    }

    fn stale(&self) -> bool {
        self.fetched_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() >= self.max_age)
    }

    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let keys = self.keys.read().map(|k| k.clone()).unwrap_or_default();
        keys.get(kid).cloned()
    }

    /// Fetches the set unless the last fetch is too recent; whether the set is current
    /// (this fetch, or the last one within the interval, succeeded). It runs as a task of
    /// its own: a request cut off while it waits (a client hanging up) leaves the fetch
    /// to finish and be counted, so that neither a flood of cut-off requests makes one
    /// fetch each, nor does a cut-off fetch leave its result unknown to those after it.
    async fn refresh(self: &Arc<Self>) -> bool {
        let last = self.last_fetch.clone().lock_owned().await;
        self.refresh_in_task(last).await
    }

    /// Refreshes with `last`, the lock that keeps refreshes from overlapping, held; in a
    /// task, so that it is not cut off with the request that waits for it.
    async fn refresh_in_task(self: &Arc<Self>, last: OwnedMutexGuard<LastFetch>) -> bool {
        let this = self.clone();
        tokio::spawn(async move { this.refresh_with(last).await })
            .await
            .unwrap_or(false)
    }

    async fn refresh_with(&self, mut last: OwnedMutexGuard<LastFetch>) -> bool {
        if let Some((at, succeeded)) = *last
            && at.elapsed() < self.min_interval
        {
            return succeeded;
        }
        let started = Instant::now();
        let succeeded = match tokio::time::timeout(FETCH_TIMEOUT, self.fetch()).await {
            // A set without one usable key is Clerk failing, not Clerk withdrawing them all.
            Ok(Ok(keys)) if keys.is_empty() => {
                tracing::warn!("JWKS came without a usable key; keeping cached keys");
                false
            }
            Ok(Ok(keys)) => {
                tracing::info!(keys = keys.len(), "JWKS refreshed");
                if let Ok(mut current) = self.keys.write() {
                    *current = Arc::new(keys);
                }
                if let Ok(mut at) = self.fetched_at.lock() {
                    *at = Some(started);
                }
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "JWKS refresh failed; keeping cached keys");
                false
            }
            Err(_) => {
                tracing::warn!("JWKS refresh timed out; keeping cached keys");
                false
            }
        };
        *last = Some((started, succeeded));
        succeeded
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
        let uri: hyper::Uri = self.url.parse().map_err(|e| format!("bad JWKS URL: {e}"))?;
        let response = self.client.get(uri).await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("JWKS endpoint answered {}", response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, Arc::new(key)))
            })
            .collect())
    }
}

/// Clerk's key set could not be fetched.
#[derive(Debug)]
pub struct Unreachable;

fn client() -> Result<HttpsClient, rustls::Error> {
    // Name the crypto provider: two are linked in (ring via sqlx, aws-lc-rs via svix), so
    // rustls cannot pick a process default by itself. Mozilla's roots are compiled in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}
