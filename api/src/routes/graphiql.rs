//! GraphiQL, served entirely from this binary (no CDN), with headers that keep the page
//! from running anything it did not come with.

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::accept;

const PAGE: &str = include_str!("../../assets/graphiql.html");
const INIT: &[u8] = include_bytes!("../../assets/init.js");

macro_rules! bundle {
    ($name:literal) => {
        (
            include_bytes!(concat!(env!("OUT_DIR"), "/graphiql-assets/", $name)).as_slice(),
            include_bytes!(concat!(env!("OUT_DIR"), "/graphiql-assets/", $name, ".gz")).as_slice(),
        )
    };
}

/// The page's policy: scripts and styles only from here (GraphiQL injects style tags,
/// hence `unsafe-inline` for styles), requests only to here, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'none'";

pub fn page() -> Response {
    if cfg!(graphiql_missing) {
        let text = "GraphiQL was not embedded in this build (npm was unavailable when it was \
                    compiled). POST GraphQL requests to this URL.";
        return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
    }
    let mut response = axum::response::Html(PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub async fn asset(Path(name): Path<String>, request: HeaderMap) -> Response {
    let (content_type, plain, gzipped): (&str, &[u8], &[u8]) = match name.as_str() {
        "init.js" => ("text/javascript; charset=utf-8", INIT, &[]),
        "graphiql.min.js" => {
            let (p, g) = bundle!("graphiql.min.js");
            ("text/javascript; charset=utf-8", p, g)
        }
        "graphiql.min.css" => {
            let (p, g) = bundle!("graphiql.min.css");
            ("text/css; charset=utf-8", p, g)
        }
        "react.production.min.js" => {
            let (p, g) = bundle!("react.production.min.js");
            ("text/javascript; charset=utf-8", p, g)
        }
        "react-dom.production.min.js" => {
            let (p, g) = bundle!("react-dom.production.min.js");
            ("text/javascript; charset=utf-8", p, g)
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let accepts_gzip =
        accept::rating(&request, &header::ACCEPT_ENCODING, "gzip").is_some_and(|r| r.q > 0.0);
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if accepts_gzip && !gzipped.is_empty() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (headers, gzipped).into_response()
    } else {
        (headers, plain).into_response()
    }
}
