//! `POST /webhooks/clerk`: Clerk's user events, verified with svix over the raw body
//! before any parsing, applied idempotently, answered 2xx only once committed.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;
use service::sync::{self, ClerkEvent, Outcome};

use crate::state::AppState;

pub async fn clerk(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(webhook) = &state.webhook else {
        tracing::error!("CLERK_WEBHOOK_SECRET is not set: refusing Clerk webhooks");
        return reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "server misconfigured" }),
        );
    };
    if let Err(e) = webhook.verify(&body, &headers) {
        tracing::warn!(error = %e, "webhook refused");
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({ "error": format!("invalid signature: {e}") }),
        );
    }
    let event = match ClerkEvent::parse(&body) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "signed webhook body is not an event");
            return reply(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() }));
        }
    };
    // A deletion without an envelope timestamp is dated by svix's signed time of this
    // delivery (a tombstone is final, so the date orders nothing).
    let signed_ms = headers
        .get("svix-timestamp")
        .or_else(|| headers.get("webhook-timestamp"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(0, |s| s.saturating_mul(1000));
    match sync::apply(&state.db, &event, signed_ms).await {
        Ok(outcome) => {
            let status = match outcome {
                Outcome::Applied => "applied",
                Outcome::Stale => "stale",
                Outcome::Ignored => "ignored",
            };
            tracing::info!(kind = %event.kind, status, "webhook processed");
            reply(StatusCode::OK, json!({ "status": status }))
        }
        Err(e @ service::Error::Invalid { .. }) => {
            tracing::warn!(error = %e, kind = %event.kind, "signed webhook event not readable");
            reply(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() }))
        }
        Err(e) => {
            // Not applied: a 5xx makes svix deliver it again later.
            tracing::error!(error = %e, kind = %event.kind, "webhook not applied");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "temporarily unavailable" }),
            )
        }
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}
