//! Hostile input and resource limits: each with its exact outcome, answered fast, and
//! the server unharmed afterwards.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    fixtures,
    helpers::{Backend, TestApp, codes, token},
};

/// POSTs raw bytes as a GraphQL request; returns (status, body, time taken).
async fn post(app: &TestApp, body: impl Into<hyper::body::Bytes>) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let reply = app
        .request(
            Method::POST,
            "/graphql",
            &[("content-type", "application/json")],
            body,
        )
        .await;
    let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, body, started.elapsed())
}

/// Announces a body of `length` bytes, sends a little of it, and returns the status line.
async fn raw_post(app: &TestApp, length: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&vec![b' '; 64 * 1024]).await;
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

fn query(text: String) -> Vec<u8> {
    serde_json::to_vec(&json!({ "query": text })).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_queries_are_refused_fast() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let nested = |depth: usize| {
        format!(
            "{{ categories {{ nodes {{ {}id{} }} }} }}",
            "threads { nodes { category { ".repeat(depth / 4),
            " } } }".repeat(depth / 4)
        )
    };
    let aliases: String = (0..1000).map(|i| format!("a{i}: __typename ")).collect();
    let roots: String = (0..25).map(|i| format!("r{i}: viewer {{ id }} ")).collect();
    let braces = format!("{}{}", "{a".repeat(10_000), "}".repeat(10_000));
    // Each fragment spreads the next eight times: 8^10 fields once spread, in a kilobyte.
    let bomb: String = (0..10)
        .map(|i| {
            format!(
                "fragment F{i} on Category {{ {} }} ",
                format!("...F{} ", i + 1).repeat(8)
            )
        })
        .collect();
    let bomb = format!("{bomb} fragment F10 on Category {{ id }}");
    let wide = "{ categories(first: 100) { nodes { threads(first: 100) { nodes { replies(first: 100) { nodes { id } } } } } } }";
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "a query nested 50 deep",
            query(nested(50)),
            StatusCode::OK,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "10,000 nested braces",
            query(braces),
            StatusCode::OK,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "1,000 aliases",
            query(format!("{{ {aliases} }}")),
            StatusCode::OK,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "25 root fields",
            query(format!("{{ {roots} }}")),
            StatusCode::OK,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "a million rows of connections",
            query(wide.to_owned()),
            StatusCode::OK,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "fragments spread a billion times under a field",
            query(format!("{{ categories {{ nodes {{ ...F0 }} }} }} {bomb}")),
            StatusCode::OK,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "the same in an operation that is not the one to run",
            serde_json::to_vec(&json!({
                "query": format!("query A {{ __typename }} query B {{ categories {{ nodes {{ ...F0 }} }} }} {bomb}"),
                "operationName": "A",
            }))
            .unwrap(),
            StatusCode::OK,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "100 KB of query text",
            query(format!("{{ __typename }} # {}", "x".repeat(100_000))),
            StatusCode::OK,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "a batch of 11",
            serde_json::to_vec(&vec![json!({ "query": "{ __typename }" }); 11]).unwrap(),
            StatusCode::BAD_REQUEST,
            "QUERY_TOO_COMPLEX",
        ),
        (
            "a huge integer",
            query("{ categories(first: 123456789012345678901234567890) { totalCount } }".into()),
            StatusCode::OK,
            "BAD_USER_INPUT",
        ),
        (
            "a string for an Int",
            query("{ categories(first: \"ten\") { totalCount } }".into()),
            StatusCode::OK,
            "BAD_USER_INPUT",
        ),
        (
            "an Int for an ID",
            query("{ thread(id: 12) { id } }".into()),
            StatusCode::OK,
            "BAD_USER_INPUT",
        ),
        (
            "an unknown enum value",
            query("{ categories { nodes { threads(orderBy: RANDOM) { totalCount } } } }".into()),
            StatusCode::OK,
            "BAD_USER_INPUT",
        ),
        (
            "invalid UTF-8",
            b"{\"query\": \"{ \xff\xfe }\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "JSON that is not a request",
            b"[1, 2, 3]".to_vec(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "deeply nested variables",
            format!(
                "{{\"query\": \"{{ __typename }}\", \"variables\": {{\"v\": {}1{}}}}}",
                "[".repeat(10_000),
                "]".repeat(10_000)
            )
            .into_bytes(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
    ];
    for (name, body, status, code) in cases {
        let (got_status, body, took) = post(&app, body).await;
        assert_eq!(got_status, status, "{name}: {body}");
        let got = codes(&body);
        assert!(
            !got.is_empty() && got.iter().all(|c| c == code),
            "{name}: {body}"
        );
        assert!(took < Duration::from_millis(500), "{name} took {took:?}");
        assert!(!body.to_string().contains("panicked"), "{name}: {body}");
    }
    // Five megabytes are refused by their declared size; the server answers without
    // waiting for them (a client that keeps sending is then cut off).
    let started = Instant::now();
    let status_line = raw_post(&app, 5 * 1024 * 1024).await;
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "5 MB body took {:?}",
        started.elapsed()
    );
    // And the server is none the worse.
    let data = app.data("{ __typename }", json!({})).await;
    assert_eq!(data["__typename"], "Query");
}

/// The grammar recurses once per bracket, thousands of levels before pest's stack guard
/// stops it with a syntax error: the nesting is refused before parsing, with its own code,
/// whatever the size limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_never_reaches_the_parser() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("GRAPHQL_MAX_QUERY_BYTES", "2000000"),
            ("MAX_BODY_BYTES", "2000000"),
        ],
    )
    .await;
    // Also after a comment that `\r` ends, and after a block string holding `\\"""`
    // (only `\"""` is an escape there): the parser reads on as code, and so must the check.
    let nestings = ["{a", "(a:", "[", "{a(b:["]
        .map(|open| format!("{}{}", open.repeat(100_000), "}".repeat(100_000)));
    let hidden = ["#\r", "{ a(s: \"\"\"\\\\\"\"\" \"\"\") "]
        .map(|before| format!("{before}{}", nestings[0]));
    for text in nestings.into_iter().chain(hidden) {
        let open = text[..12].to_owned();
        let (status, body, took) = post(&app, query(text)).await;
        assert_eq!(
            (status, codes(&body)),
            (StatusCode::OK, vec!["QUERY_TOO_COMPLEX".to_owned()]),
            "{open}"
        );
        assert!(took < Duration::from_millis(500), "{open} took {took:?}");
    }
    assert_eq!(
        app.data("{ __typename }", json!({})).await["__typename"],
        "Query"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_are_rate_limited_per_user_with_a_retry_hint() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("RATE_LIMIT_PER_MINUTE", "60"),
            ("RATE_LIMIT_BURST", "3"),
            ("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "2"),
        ],
    )
    .await;
    fixtures::user(&app.db, "ann", entity::user::Role::Member).await;
    fixtures::user(&app.db, "bob", entity::user::Role::Member).await;
    let category = fixtures::category(&app.db, "rl").await;
    let (thread, _) = fixtures::thread(
        &app.db,
        &category,
        &[&fixtures::user(&app.db, "cat", entity::user::Role::Member).await],
        "t",
        1,
    )
    .await;
    let thread_id = api::graphql::NodeId::Thread(thread.id).encode().0;
    let add = json!({ "query": crate::writes::ADD_REPLY, "variables": { "input": { "threadId": thread_id, "body": "hi" } } });
    let as_user = |user: &str| format!("Bearer {}", token(user));
    let ann = as_user("ann");
    for _ in 0..3 {
        let reply = app.post_graphql(&[("authorization", &ann)], &add).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    let limited = app.post_graphql(&[("authorization", &ann)], &add).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(codes(&limited.json()), ["RATE_LIMITED"]);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.json()["errors"][0]["extensions"]["retryAfter"], 1);
    // Reads are not limited; other users have their own budget.
    let read = app
        .post_graphql(
            &[("authorization", &ann)],
            &json!({ "query": "{ viewer { id } }" }),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let bob = app
        .post_graphql(&[("authorization", &as_user("bob"))], &add)
        .await;
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.text());
    // Anonymous mutations are counted per client address.
    let mut anonymous = Vec::new();
    for _ in 0..3 {
        anonymous.push(app.post_graphql(&[], &add).await.status);
    }
    assert_eq!(
        anonymous,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Each root field of a mutation is one mutation: four in one operation are more than
    // a burst of three, refused whole, never "retry later".
    let four = format!(
        "mutation {{ {} }}",
        (0..4)
            .map(|i| format!("m{i}: addReply(input: {{ threadId: \"{thread_id}\", body: \"x\" }}) {{ reply {{ id }} }}"))
            .collect::<String>()
    );
    let cy = as_user("cy");
    fixtures::user(&app.db, "cy", entity::user::Role::Member).await;
    let over = app
        .post_graphql(&[("authorization", &cy)], &json!({ "query": four }))
        .await;
    assert_eq!(
        (over.status, codes(&over.json())),
        (
            StatusCode::BAD_REQUEST,
            vec!["QUERY_TOO_COMPLEX".to_owned()]
        ),
        "{}",
        over.text()
    );
    assert_eq!(over.header("retry-after"), None);
    // Three fit, and use the burst up.
    let three = format!(
        "mutation {{ {} }}",
        (0..3)
            .map(|i| format!("m{i}: addReply(input: {{ threadId: \"{thread_id}\", body: \"x\" }}) {{ reply {{ id }} }}"))
            .collect::<String>()
    );
    let fits = app
        .post_graphql(&[("authorization", &cy)], &json!({ "query": three }))
        .await;
    assert_eq!(fits.status, StatusCode::OK, "{}", fits.text());
    let after = app.post_graphql(&[("authorization", &cy)], &add).await;
    assert_eq!(after.status, StatusCode::TOO_MANY_REQUESTS);
    // Webhooks are not rate limited.
    for v in 1..=5 {
        let reply = crate::webhook::deliver(
            &app,
            &crate::webhook::user_event("user.updated", "user_rl", v, None),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_webhooks_change_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let event = crate::webhook::user_event("user.created", "user_replay", 1, Some("admin"));
    let body = event.to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = svix::webhooks::Webhook::new(crate::helpers::WEBHOOK_SECRET)
        .unwrap()
        .sign("msg_replay", now, body.as_bytes())
        .unwrap();
    let headers = [
        ("content-type", "application/json"),
        ("svix-id", "msg_replay"),
        ("svix-timestamp", &now.to_string()),
        ("svix-signature", &signature),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, *v)).collect();
    let first = app
        .request(Method::POST, "/webhooks/clerk", &headers, body.clone())
        .await;
    assert_eq!(
        (first.status, first.json()),
        (StatusCode::OK, json!({ "status": "applied" }))
    );
    // The same delivery again (svix retries, or an attacker replays it): a no-op.
    let replay = app
        .request(Method::POST, "/webhooks/clerk", &headers, body.clone())
        .await;
    assert_eq!(
        (replay.status, replay.json()),
        (StatusCode::OK, json!({ "status": "stale" }))
    );
    // A forged promotion: the right headers, a body the signature is not for.
    let forged = body
        .replace("\"admin\"", "\"moderator\"")
        .replace("First1", "Mallory");
    let refused = app
        .request(Method::POST, "/webhooks/clerk", &headers, forged)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let row = <entity::user::Entity as sea_orm::EntityTrait>::find_by_id("user_replay")
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.role, row.first_name.as_deref()),
        (entity::user::Role::Admin, Some("First1"))
    );
}

backend_test! {
    async fn a_document_seen_before_still_has_its_variables_checked(backend) {
        let app = TestApp::spawn(backend).await;
        let category = fixtures::category(&app.db, "general").await;
        let (thread, _) = fixtures::thread(&app.db, &category, &[&fixtures::user(&app.db, "ann", entity::user::Role::Member).await], "t", 2).await;
        let id = crate::read::thread_id(&thread);
        let page = "query($id: ID!, $order: ReplyOrder!, $n: Int) { thread(id: $id) { replies(first: $n, orderBy: $order) { nodes { id } } } }";
        let wide = "query($n: Int) { categories(first: $n) { nodes { threads(first: $n) { nodes { replies(first: $n) { nodes { id } } } } } } }";
        // A variable with a default may fill a non-null position, where an explicit null
        // is refused.
        let defaulted = "query($id: ID = \"none\", $keep: Boolean = true) { thread(id: $id) { title @include(if: $keep) } }";
        // Its complexity grows with the list's length: 10,102 for one id, 20,203 for two.
        let listed = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Category { threads(first: 50) { nodes { replies(first: 100) { nodes { id } } } } } } }";
        let category_id = api::graphql::NodeId::Category(category.id).encode().0;
        // The answers a document gets the first time it is seen, with bad variables.
        let bad = [
            (page, json!({ "id": id, "order": "SIDEWAYS", "n": 1 })),
            (page, json!({ "id": 12, "order": "TOP", "n": 1 })),
            (page, json!({ "id": id, "order": "TOP", "n": "one" })),
            (page, json!({ "order": "TOP", "n": 1 })),
            (wide, json!({ "n": 100 })),
            (defaulted, json!({ "id": null })),
            (defaulted, json!({ "id": id, "keep": null })),
            (listed, json!({ "ids": [category_id, category_id] })),
        ];
        let mut first = Vec::new();
        for (query, variables) in &bad {
            let answer = app.graphql(query, variables.clone()).await;
            assert!(!codes(&answer).is_empty(), "{answer:#}");
            first.push(answer);
        }
        // Seen and validated with good variables…
        for (query, variables) in [(page, json!({ "id": id, "order": "TOP", "n": 1 })), (wide, json!({ "n": 1 })), (defaulted, json!({ "id": id })), (listed, json!({ "ids": [category_id] }))] {
            for _ in 0..2 {
                let answer = app.graphql(query, variables.clone()).await;
                assert!(answer.get("errors").is_none(), "{answer:#}");
            }
        }
        // The left-out `$keep` is its default, true.
        let answer = app.data(defaulted, json!({ "id": id })).await;
        assert!(answer["thread"]["title"].is_string(), "{answer:#}");
        // …the same bad variables get the same answers.
        for ((query, variables), expected) in bad.iter().zip(&first) {
            assert_eq!(&app.graphql(query, variables.clone()).await, expected, "{variables}");
        }
        assert_eq!(codes(&first[3]), ["BAD_USER_INPUT"], "a required variable left out: {:#}", first[3]);
        assert_eq!(codes(&first[4]), ["QUERY_TOO_COMPLEX"]);
        assert_eq!(codes(&first[7]), ["QUERY_TOO_COMPLEX"], "{:#}", first[7]);
    }
}

/// A client that sends a request's head a byte at a time is cut off once the request
/// timeout has passed, instead of holding its connection for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_head_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, &[("REQUEST_TIMEOUT", "500ms")]).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    let n = read.expect("the server ends the connection").unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    // A whole head in time is answered.
    let ok = app.get("/healthz").await;
    assert_eq!(ok.status, StatusCode::OK);
}
