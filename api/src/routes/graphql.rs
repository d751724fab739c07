//! `POST /graphql` runs any operation; `GET /graphql` runs queries from the URL, or
//! serves GraphiQL when there is none.

use crate::{auth::ViewerError, metrics::count_statements, routes::graphiql, state::AppState};
use async_graphql::{
    BatchRequest, BatchResponse, Request, Variables,
    parser::{parse_query, types::OperationType},
};
use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
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
    run(&state, &headers, request).await
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
    headers: HeaderMap,
    Query(params): Query<GetParams>,
) -> Response {
    let Some(query) = params.query else {
        return graphiql::page();
    };
    // GET must be safe: a mutation is refused before anything runs.
    if let Ok(document) = parse_query(&query) {
        let is_mutation = document.operations.iter().any(|(name, op)| {
            let selected = match (&params.operation_name, name) {
                (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
                (None, _) => true,
                (Some(_), None) => false,
            };
            selected && op.node.ty != OperationType::Query
        });
        if is_mutation {
            let mut response = bad_request(
                StatusCode::METHOD_NOT_ALLOWED,
                "only queries run over GET; send mutations with POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
    }
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
    run(&state, &headers, BatchRequest::Single(request)).await
}

async fn run(state: &AppState, headers: &HeaderMap, request: BatchRequest) -> Response {
    let (viewer, statements) = count_statements(state.auth.viewer(&state.db, headers)).await;
    let viewer = match viewer {
        Ok(viewer) => viewer,
        Err(ViewerError::Unauthenticated(message)) => {
            let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &message);
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            return response;
        }
        Err(ViewerError::Unavailable(e)) => {
            tracing::error!(error = %e, "cannot resolve the viewer");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL_SERVER_ERROR",
                "the service is temporarily unavailable, try again",
            );
        }
    };
    let work = state.graphql.execute(&state.db, &viewer, request);
    let (response, executed) = count_statements(work).await;
    let statements = statements + executed;
    let errors = match &response {
        BatchResponse::Single(r) => r.errors.len(),
        BatchResponse::Batch(rs) => rs.iter().map(|r| r.errors.len()).sum(),
    };
    state.metrics.graphql_request(errors);
    tracing::debug!(statements, errors, "graphql executed");
    json(headers, &response)
}

fn json(request: &HeaderMap, body: &BatchResponse) -> Response {
    let wants_graphql_response = request
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(GRAPHQL_RESPONSE));
    let content_type = if wants_graphql_response {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    };
    match serde_json::to_vec(body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
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
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, axum::Json(body)).into_response()
}
