//! The HTTP host: health, readiness, GraphiQL, GET, CORS, limits, request ids.

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, codes};

backend_test! {
    async fn health_and_readiness(backend) {
        let app = TestApp::spawn(backend).await;
        let health = app.get("/healthz").await;
        assert_eq!((health.status, health.text().as_str()), (StatusCode::OK, "ok"));
        let ready = app.get("/readyz").await;
        assert_eq!((ready.status, ready.text().as_str()), (StatusCode::OK, "ready"));
        let metrics = app.get("/metrics").await;
        assert!(metrics.text().contains("forum_sql_statements_total"), "{}", metrics.text());
        assert!(app.get("/healthz").await.header("x-request-id").is_some_and(|id| id.len() >= 32));
        // A proxy's plain id is kept; one that could write into the log is replaced.
        let with_id = |id: &'static str| {
            let app = &app;
            async move { app.request(Method::GET, "/healthz", &[("x-request-id", id)], Vec::new()).await }
        };
        assert_eq!(with_id("req-42.a_b").await.header("x-request-id"), Some("req-42.a_b"));
        for forged in ["a b} ERROR forged{user=admin", "x\ty", &*"a".repeat(65).leak()] {
            let id = with_id(forged).await.header("x-request-id").map(str::to_owned);
            assert!(id.as_deref().is_some_and(|id| id != forged && id.len() >= 32), "{forged}: {id:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_is_served_from_the_binary() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let page = app.get("/graphql").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let html = page.text();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN: {html}"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "init.js",
    ] {
        assert!(
            html.contains(&format!("/graphql/assets/{asset}")),
            "{asset} referenced"
        );
        let reply = app.get(&format!("/graphql/assets/{asset}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        let least = if asset == "init.js" { 100 } else { 10_000 };
        assert!(
            reply.body.len() > least,
            "{asset} is embedded ({} bytes)",
            reply.body.len()
        );
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    let gz = app
        .request(
            Method::GET,
            "/graphql/assets/graphiql.min.js",
            &[("accept-encoding", "gzip, br")],
            "",
        )
        .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b]);
    assert_eq!(
        app.get("/graphql/assets/../../etc/passwd").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_queries_and_never_mutations() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ok = app.get("/graphql?query=%7B__typename%7D").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["data"]["__typename"], "Query");
    // It may depend on the viewer: no cache in front may keep it.
    assert_eq!(ok.header("cache-control"), Some("private, no-store"));
    let with_vars = app
        .get("/graphql?query=query(%24s%3AString!)%7Bcategory(slug%3A%24s)%7Bid%7D%7D&variables=%7B%22s%22%3A%22none%22%7D")
        .await;
    assert_eq!(
        with_vars.json()["data"]["category"],
        serde_json::Value::Null
    );
    let mutation = app.get("/graphql?query=mutation%7B__typename%7D").await;
    assert_eq!(mutation.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(mutation.header("allow"), Some("POST"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_cleanly() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("MAX_BODY_BYTES", "2048")]).await;
    let post = |headers: Vec<(&'static str, &'static str)>, body: Vec<u8>| {
        let app = &app;
        async move { app.request(Method::POST, "/graphql", &headers, body).await }
    };
    let json = vec![("content-type", "application/json")];
    let bad_json = post(json.clone(), b"{\"query\": ".to_vec()).await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(codes(&bad_json.json()), ["BAD_REQUEST"]);
    let not_utf8 = post(json.clone(), vec![b'{', 0xff, 0xfe, b'}']).await;
    assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST);
    // Only JSON: a type a browser may send cross-origin unasked (`text/plain`, with any
    // parameters) is refused, so another site cannot post with a visitor's cookie.
    for content_type in [
        "text/plain",
        "text/plain;x=+json",
        "application/jsonp",
        "application/x+json",
    ] {
        let wrong_type = post(
            vec![("content-type", content_type)],
            b"{\"query\": \"{ __typename }\"}".to_vec(),
        )
        .await;
        assert_eq!(
            wrong_type.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    let cased = post(
        vec![("content-type", "Application/JSON; charset=utf-8")],
        b"{\"query\": \"{ __typename }\"}".to_vec(),
    )
    .await;
    assert_eq!(cased.status, StatusCode::OK, "{}", cased.text());
    let big = format!(
        "{{\"query\": \"{{ __typename }}\", \"x\": \"{}\"}}",
        "a".repeat(4096)
    );
    let too_big = post(json.clone(), big.into_bytes()).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(codes(&too_big.json()), ["BAD_REQUEST"]);
    let twice = app
        .request(
            Method::GET,
            "/graphql?query=%7Ba%7D&query=%7Bb%7D",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    assert_eq!(codes(&twice.json()), ["BAD_REQUEST"]);
    // The router's own refusals have the same shape.
    let nowhere = app.request(Method::GET, "/nowhere", &[], Vec::new()).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(codes(&nowhere.json()), ["NOT_FOUND"]);
    let put = app.request(Method::PUT, "/graphql", &[], Vec::new()).await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(codes(&put.json()), ["BAD_REQUEST"]);
    assert!(put.headers.get("allow").is_some(), "{:?}", put.headers);
    let batch = post(
        json,
        br#"[{"query":"{ a: __typename }"},{"query":"{ b: __typename }"}]"#.to_vec(),
    )
    .await;
    assert_eq!(
        batch.json(),
        json!([{ "data": { "a": "Query" } }, { "data": { "b": "Query" } }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_configured_origins_only() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("CORS_ALLOWED_ORIGINS", "https://app.example")],
    )
    .await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.request(
                Method::OPTIONS,
                "/graphql",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "content-type, authorization",
                    ),
                ],
                "",
            )
            .await
        }
    };
    let allowed = preflight("https://app.example").await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let denied = preflight("https://evil.example").await;
    assert_eq!(denied.header("access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_queries_are_too_complex() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("GRAPHQL_MAX_DEPTH", "6")]).await;
    let deep =
        "{ categories { nodes { threads { nodes { replies { nodes { thread { title } } } } } } } }";
    let body = app.graphql(deep, json!({})).await;
    assert_eq!(codes(&body), ["QUERY_TOO_COMPLEX"]);
    let accept = app
        .post_graphql(
            &[("accept", "application/graphql-response+json")],
            &json!({ "query": "{ __typename }" }),
        )
        .await;
    assert_eq!(
        accept.header("content-type"),
        Some("application/graphql-response+json")
    );
}

/// The GraphQL media type only for a client that names it and does not rate plain JSON
/// higher; a client that names nothing, or `*/*`, gets `application/json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_type_follows_the_accept_header_s_qualities() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = json!({ "query": "{ nope }" });
    let cases = [
        (None, "application/json", StatusCode::OK),
        (Some("*/*"), "application/json", StatusCode::OK),
        (
            Some("application/graphql-response+json, application/json"),
            "application/graphql-response+json",
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("application/json, Application/GraphQL-Response+JSON;q=0.9"),
            "application/json",
            StatusCode::OK,
        ),
        (
            Some("application/graphql-response+json;q=0, */*"),
            "application/json",
            StatusCode::OK,
        ),
        (
            Some("application/json;q=0.5, application/graphql-response+json"),
            "application/graphql-response+json",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (accept, content_type, status) in cases {
        let headers: Vec<_> = accept.map(|a| ("accept", a)).into_iter().collect();
        let reply = app.post_graphql(&headers, &body).await;
        assert_eq!(
            (reply.header("content-type"), reply.status),
            (Some(content_type), status),
            "{accept:?}"
        );
    }
}

/// GraphQL over HTTP: under `application/graphql-response+json` a request that never ran
/// (no `data`) is a 400, and one that ran is a 200 whatever its field errors; plain JSON
/// answers 200 to both. Either way a request error carries no `data`, as the spec asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_have_no_data_and_their_own_status_under_graphql_response_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let graphql_response = [("accept", "application/graphql-response+json")];
    let cases = [
        ("{ nope }", json!({}), "GRAPHQL_VALIDATION_FAILED"),
        ("{ categories {", json!({}), "GRAPHQL_VALIDATION_FAILED"),
        (
            "query($n: Int!) { categories(first: $n) { totalCount } }",
            json!({ "n": "x" }),
            "BAD_USER_INPUT",
        ),
    ];
    for (query, variables, code) in cases {
        let body = json!({ "query": query, "variables": variables });
        for (accept, status) in [
            (&graphql_response[..], StatusCode::BAD_REQUEST),
            (&[][..], StatusCode::OK),
        ] {
            let reply = app.post_graphql(accept, &body).await;
            let json = reply.json();
            assert_eq!(reply.status, status, "{query} with {accept:?}: {json}");
            assert!(json.get("data").is_none(), "{query}: {json}");
            let got = codes(&json);
            assert!(
                !got.is_empty() && got.iter().all(|c| c == code),
                "{query}: {json}"
            );
        }
    }
    // A field error: the request ran, so 200 with `data` under either media type.
    let failed_field =
        json!({ "query": "{ thread(id: \"garbage\") { id } categories { totalCount } }" });
    for accept in [&graphql_response[..], &[][..]] {
        let reply = app.post_graphql(accept, &failed_field).await;
        let json = reply.json();
        assert_eq!(reply.status, StatusCode::OK, "{json}");
        assert!(
            json["data"]["categories"]["totalCount"].is_number(),
            "{json}"
        );
        assert_eq!(codes(&json), ["BAD_USER_INPUT"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_database_is_away() {
    if Backend::postgres().is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    let name = app.database.as_ref().unwrap().name.clone();
    crate::helpers::drop_database(&name).await;
    let ready = app.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.text().as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    );
    assert_eq!(
        app.get("/healthz").await.status,
        StatusCode::OK,
        "the process still answers"
    );
    let body = app
        .graphql("{ categories { totalCount } }", json!({}))
        .await;
    assert_eq!(codes(&body), ["INTERNAL_SERVER_ERROR"]);
    assert!(
        !body.to_string().contains("does not exist"),
        "no internals leak: {body}"
    );
}
