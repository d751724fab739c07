//! The axum host of the forum: configuration, the GraphQL endpoint and GraphiQL, health,
//! readiness and metrics.
// The direct path boxes resolver futures of mutually recursive types (a thread's replies,
// a reply's thread); proving them `Send` needs more than the default 128 steps.
#![recursion_limit = "256"]

pub mod app;
pub mod auth;
pub mod config;
pub mod database;
pub mod graphql;
pub mod metrics;
pub mod ratelimit;
mod routes;
pub mod secret;
pub mod state;
pub mod telemetry;

pub use app::{App, StartError, shutdown_signal};
pub use config::Config;
