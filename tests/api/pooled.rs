//! The pooled path: the app through a real PgBouncer in transaction mode, under
//! concurrency; and the start-up probe that refuses a pooler which would cross-wire
//! prepared statements.

use futures_util::future::join_all;
use serde_json::{Value, json};
use service::pooler::Endpoint;

use bench::pgbouncer::Pgbouncer;

use crate::{
    fixtures,
    helpers::{Backend, TestApp, TestDb, admin_url, test_config},
};

/// The PgBouncer binary from `PGBOUNCER` (or where `.ci/pgbouncer.sh` puts it), when
/// Postgres is available too. Under CI their absence fails the test instead of skipping.
pub fn pooled() -> Option<String> {
    Backend::postgres()?;
    let path = std::env::var("PGBOUNCER").unwrap_or_else(|_| "/opt/pgbouncer/bin/pgbouncer".into());
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but no PgBouncer at {path}: pooled tests must not be skipped"
    );
    eprintln!("skipped: no PgBouncer at {path} (set PGBOUNCER)");
    None
}

fn pgbouncer(bin: &str, pool_size: u32, max_prepared: u32) -> Pgbouncer {
    Pgbouncer::start(bin, &admin_url(), pool_size, max_prepared).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_tells_endpoints_apart() {
    let Some(bin) = pooled() else { return };
    let database = TestDb::create(Backend::Postgres).await;
    assert_eq!(
        service::pooler::probe(&database.url, std::time::Duration::from_secs(10))
            .await
            .unwrap(),
        Endpoint::Session
    );

    let tracking = pgbouncer(&bin, 2, 200);
    let verdict = service::pooler::probe(
        &tracking.url(&database.name),
        std::time::Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        verdict.unwrap(),
        Endpoint::TrackingPooler,
        "{}",
        tracking.log()
    );

    let untracked = pgbouncer(&bin, 2, 0);
    let url = untracked.url(&database.name);
    let verdict = service::pooler::probe(&url, std::time::Duration::from_secs(10)).await;
    assert_eq!(
        verdict.unwrap(),
        Endpoint::UntrackedPooler,
        "{}",
        untracked.log()
    );

    // The app refuses to start on it, and says what to change.
    let config = test_config(&url, &[("DIRECT_DATABASE_URL", &database.url)]);
    let refused = api::App::build(config)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("max_prepared_statements"), "{refused}");
}

const PAGES: [&str; 3] = [
    "query($slug: String!) { category(slug: $slug) { name threads(first: 25) { totalCount nodes { title replyCount author { clerkId } } } } }",
    "query($id: ID!) { thread(id: $id) { title replies(first: 50) { nodes { body score author { clerkId } } } } }",
    "{ categories(first: 20) { nodes { slug threads(first: 5) { nodes { title } } } } }",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_through_the_pooler_get_their_own_rows() {
    let Some(bin) = pooled() else { return };
    let database = TestDb::create(Backend::Postgres).await;
    // Fill the database through an app on the direct endpoint; it also gives the answers.
    let direct = TestApp::start(None, test_config(&database.url, &[])).await;
    let authors = fixtures::users(&direct.db, "pool", 12).await;
    let refs: Vec<_> = authors.iter().collect();
    let mut requests: Vec<(&str, Value)> = Vec::new();
    for c in 0..6 {
        let slug = format!("pool-{c}");
        let category = fixtures::category(&direct.db, &slug).await;
        fixtures::bulk_threads(&direct.db, &category, &authors[c..], 10 + c).await;
        let (thread, _) = fixtures::thread(
            &direct.db,
            &category,
            &refs[c..],
            &format!("long {c}"),
            5 + 7 * c,
        )
        .await;
        requests.push((PAGES[0], json!({ "slug": slug })));
        requests.push((
            PAGES[1],
            json!({ "id": api::graphql::NodeId::Thread(thread.id).encode().0 }),
        ));
    }
    requests.push((PAGES[2], json!({})));
    let mut expected = Vec::new();
    for (query, vars) in &requests {
        expected.push(direct.data(query, vars.clone()).await);
    }

    // Few server connections and many clients: transactions keep changing backends.
    let bouncer = pgbouncer(&bin, 3, 500);
    let config = test_config(
        &bouncer.url(&database.name),
        &[
            ("DIRECT_DATABASE_URL", &database.url),
            ("DATABASE_MAX_CONNECTIONS", "8"),
        ],
    );
    let pooled = TestApp::start(None, config).await;
    let clients = (0..16).map(|client| {
        let (pooled, requests, expected) = (&pooled, &requests, &expected);
        async move {
            for round in 0..20 {
                let i = (client * 7 + round * 3) % requests.len();
                let (query, vars) = &requests[i];
                let got = pooled.graphql(query, vars.clone()).await;
                assert!(
                    got.get("errors").is_none(),
                    "client {client} round {round}: {got:#}"
                );
                assert_eq!(
                    got["data"], expected[i],
                    "client {client} round {round}: another request's rows"
                );
            }
        }
    });
    join_all(clients).await;
    assert!(!bouncer.log().contains("ERROR"), "{}", bouncer.log());
}
