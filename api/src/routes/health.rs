//! Liveness, readiness and metrics.

use std::time::Duration;

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};

use crate::state::AppState;

/// The process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers (within a second); 503 while it does not.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let ping = tokio::time::timeout(Duration::from_secs(1), state.db.ping()).await;
    match ping {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer within 1s");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.db.pool_stats()),
    )
}
