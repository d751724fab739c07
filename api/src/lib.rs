//! The axum host of the forum: configuration, the GraphQL endpoint and GraphiQL, health,
//! readiness and metrics.

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
