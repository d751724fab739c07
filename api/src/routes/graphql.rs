//! `POST /graphql` runs any operation; `GET /graphql` runs queries from the URL, or
//! serves GraphiQL when there is none.

use std::{
    net::{IpAddr, SocketAddr},
    pin::pin,
    sync::Arc,
    time::Duration,
};

use async_graphql::{BatchRequest, BatchResponse, Request, Variables};
use axum::{
    Extension,
    body::Bytes,
    extract::{
        ConnectInfo, Query, State,
        rejection::{BytesRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use service::{
    db::with_statement_timeout,
    deadline::{self, Deadline},
};
use tokio::time::Instant;

use crate::{
    app::Arrived,
    auth::ViewerError,
    graphql::json,
    metrics::count_statements,
    ratelimit::{Client, Refused},
    routes::{accept, graphiql},
    state::AppState,
};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// How long after its deadline a request whose `COMMIT` was in flight may still end.
const LATE_COMMIT_GRACE: Duration = Duration::from_millis(1500);
const STOPPED: &str =
    "the request took too long and was stopped before any of its mutations was committed";
const TOO_SLOW_TO_ARRIVE: &str = "the request took longer than REQUEST_TIMEOUT to arrive; \
    nothing of it ran";
const STOPPED_AFTER_A_COMMIT: &str = "the request took too long and was stopped after it had \
    sent a change to the database, which may have been saved: read it back before trying again";

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    arrived: Option<Extension<Arrived>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return bad_request(e.status(), &format!("cannot read the request body: {e}")),
    };
    // Exactly JSON, whatever its parameters: a browser sends a cross-origin POST without
    // asking first only for a few simple types (`text/plain` among them, with any
    // parameters), so accepting those would let another site post as a cookie's owner.
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return bad_request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as Content-Type: application/json",
        );
    }
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return bad_request(StatusCode::BAD_REQUEST, &format!("malformed request: {e}")),
    };
    let arrived = arrived.map_or_else(Instant::now, |a| a.0.0);
    run(&state, peer.ip(), arrived, &headers, request, true).await
}

#[derive(Deserialize)]
pub struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    arrived: Option<Extension<Arrived>>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(params)) => params,
        Err(e) => return bad_request(e.status(), &format!("malformed query string: {e}")),
    };
    let Some(query) = params.query else {
        return graphiql::page();
    };
    let variables = match params
        .variables
        .as_deref()
        .map(serde_json::from_str::<Variables>)
    {
        None => Variables::default(),
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            return bad_request(
                StatusCode::BAD_REQUEST,
                &format!("malformed variables: {e}"),
            );
        }
    };
    let mut request = Request::new(query).variables(variables);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    // GET must be safe: a mutation is refused before anything runs.
    let arrived = arrived.map_or_else(Instant::now, |a| a.0.0);
    let mut response = run(
        &state,
        peer.ip(),
        arrived,
        &headers,
        BatchRequest::Single(request),
        false,
    )
    .await;
    // An answer to GET could be stored by a shared cache in front and served to the next
    // visitor; it depends on the viewer's token or cookie, so nothing may keep it.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

async fn run(
    state: &AppState,
    client: IpAddr,
    arrived: Instant,
    headers: &HeaderMap,
    request: BatchRequest,
    allow_mutations: bool,
) -> Response {
    let deadline_at = arrived + state.config.request_timeout;
    if Instant::now() >= deadline_at {
        // The body took the whole time to come: nothing runs, and it is the client's
        // delay (408, as the backstop answers it), not the service's.
        return error(StatusCode::REQUEST_TIMEOUT, "TIMEOUT", TOO_SLOW_TO_ARRIVE);
    }
    let prepared = match state.graphql.prepare(request) {
        Ok(prepared) => prepared,
        Err(refused) => {
            return error(
                StatusCode::BAD_REQUEST,
                "QUERY_TOO_COMPLEX",
                &refused.message,
            );
        }
    };
    if prepared.mutations > 0 && !allow_mutations {
        let mut response = bad_request(
            StatusCode::METHOD_NOT_ALLOWED,
            "only queries run over GET; send mutations with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    // Boxed once here: the request's future is kilobytes (the pool's acquire is inlined
    // into every query's future), and each wrapper below would otherwise copy it again.
    let work = Box::pin(async {
        let identity = match state.auth.viewer(&state.db, headers).await {
            Ok(identity) => identity,
            Err(ViewerError::Unauthenticated(message)) => {
                let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &message);
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                return Err(response);
            }
            Err(ViewerError::Unavailable(e)) => {
                tracing::error!(error = %e, "cannot resolve the viewer");
                return Err(unavailable());
            }
        };
        if prepared.mutations > 0 {
            let who = match identity.viewer.user_id() {
                Some(id) => Client::User(id.to_owned()),
                None => Client::ip(client_ip(
                    client,
                    headers,
                    state.config.rate_limit.trust_forwarded_for,
                )),
            };
            match state.limiter.take(who, prepared.mutations) {
                Ok(()) => {}
                Err(Refused::Wait(wait)) => return Err(rate_limited(wait)),
                Err(Refused::OverBurst(burst)) => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "QUERY_TOO_COMPLEX",
                        &format!(
                            "the request makes {} mutations; at most {burst} fit in one",
                            prepared.mutations
                        ),
                    ));
                }
            }
        }
        let run = state.graphql.run(prepared, &state.db, &identity);
        Ok(with_statement_timeout(state.config.statement_timeout, run).await)
    });
    let deadline = Arc::new(Deadline::default());
    let mut work = pin!(deadline::scope(deadline.clone(), count_statements(work)));
    let timed = match tokio::time::timeout_at(deadline_at, work.as_mut()).await {
        Ok(done) => Ok(done),
        Err(_) if deadline.pass() => Err(STOPPED),
        // A COMMIT was sent: only the work's own answer can say what was written. Its
        // transactions can no longer commit, nor its mutations begin, so what is left is
        // short; it must end before the router's backstop, 2 s after REQUEST_TIMEOUT
        // from the same arrival.
        Err(_) => tokio::time::timeout_at(deadline_at + LATE_COMMIT_GRACE, work)
            .await
            .map_err(|_| STOPPED_AFTER_A_COMMIT),
    };
    let (response, statements) = match timed {
        Ok((Ok(response), statements)) => (response, statements),
        Ok((Err(refused), _)) => return refused,
        Err(message) => {
            tracing::warn!("GraphQL request timed out");
            return error(StatusCode::SERVICE_UNAVAILABLE, "TIMEOUT", message);
        }
    };
    let errors = match &response {
        BatchResponse::Single(r) => r.errors.len(),
        BatchResponse::Batch(rs) => rs.iter().map(|r| r.errors.len()).sum(),
    };
    state.metrics.graphql_request(errors);
    tracing::debug!(statements, errors, "graphql executed");
    json_response(headers, &response)
}

/// The client's address: the connection's, or with `trust_forwarded_for` the last hop of
/// `X-Forwarded-For`, the one the proxy in front of this service added. The entries before
/// it are whatever the client sent, and would let it pick its own bucket.
fn client_ip(peer: IpAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    if !trust_forwarded_for {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|hop| {
            // A proxy may write the port too (`203.0.113.5:4711`, `[2001:db8::1]:4711`).
            let hop = hop.trim();
            hop.parse()
                .ok()
                .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        })
        .unwrap_or(peer)
}

fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "INTERNAL_SERVER_ERROR",
        "the service is temporarily unavailable, try again",
    )
}

/// Too many mutations: 429 with the wait in `Retry-After` and `extensions.retryAfter`.
fn rate_limited(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let body = serde_json::json!({
        "errors": [{
            "message": format!("too many changes in a short time; retry in {seconds} s"),
            "extensions": { "code": "RATE_LIMITED", "retryAfter": seconds }
        }]
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn json_response(request: &HeaderMap, body: &BatchResponse) -> Response {
    // Only a client that names the GraphQL media type gets it (and not when it rates plain
    // JSON higher): one that sends nothing or `*/*` predates it and expects
    // `application/json`, as GraphQL over HTTP says.
    let json_q = accept::rating(request, &header::ACCEPT, "application/json").map_or(0.0, |r| r.q);
    let wants_graphql_response = accept::rating(request, &header::ACCEPT, GRAPHQL_RESPONSE)
        .is_some_and(|r| r.exact && r.q > 0.0 && r.q >= json_q);
    let content_type = if wants_graphql_response {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    };
    // GraphQL over HTTP: under its own media type a request that never executed (no
    // `data`) is a 4xx; plain JSON keeps 200 for every well-formed request.
    let status = match body {
        BatchResponse::Single(r) if wants_graphql_response && json::is_request_error(r) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    };
    match json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not serialize a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A request that is not GraphQL at all, answered in GraphQL's error shape.
fn bad_request(status: StatusCode, message: &str) -> Response {
    error(status, "BAD_REQUEST", message)
}

/// A request refused before the schema ran, answered in GraphQL's error shape.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_s_own_hop_names_the_client() {
        let peer = IpAddr::from([10, 0, 0, 1]);
        let forwarded = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
            }
            headers
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let spoofed = forwarded(&["1.1.1.1, 2.2.2.2"]);
        assert_eq!(client_ip(peer, &spoofed, false), peer);
        assert_eq!(client_ip(peer, &spoofed, true), ip("2.2.2.2"));
        assert_eq!(
            client_ip(peer, &forwarded(&["9.9.9.9", "1.1.1.1, 3.3.3.3"]), true),
            ip("3.3.3.3")
        );
        assert_eq!(
            client_ip(peer, &forwarded(&["2001:db8::1"]), true),
            ip("2001:db8::1")
        );
        // With the port a proxy may add.
        for hop in ["2.2.2.2:4711", "[2001:db8::1]:4711"] {
            let expected = hop.parse::<std::net::SocketAddr>().unwrap().ip();
            assert_eq!(client_ip(peer, &forwarded(&[hop]), true), expected);
        }
        assert_eq!(client_ip(peer, &forwarded(&["nonsense"]), true), peer);
        assert_eq!(client_ip(peer, &HeaderMap::new(), true), peer);
    }
}
