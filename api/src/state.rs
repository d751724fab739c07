//! What every handler shares.

use std::{ops::Deref, sync::Arc};

use service::Db;

use crate::{
    auth::Auth, config::Config, graphql::Engine, metrics::Metrics, ratelimit::RateLimiter,
};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub graphql: Engine,
    pub metrics: Arc<Metrics>,
    pub auth: Auth,
    pub limiter: RateLimiter,
    /// Verifies Clerk's webhooks; `None` when no secret is configured.
    pub webhook: Option<svix::webhooks::Webhook>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
