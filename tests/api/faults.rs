//! Database faults (Postgres only): timeouts that fail fast and write nothing, a shutdown
//! that finishes what is in flight, and a pooler killed and restarted under load without
//! losing an acknowledged write.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use api::graphql::NodeId;
use bench::pgbouncer::Pgbouncer;
use entity::user::Role;
use futures_util::future::join_all;
use hyper::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

use crate::{
    fixtures,
    helpers::{Backend, TestApp, TestDb, admin_url, codes, test_config, token},
    writes,
};

/// Holds `thread`'s row lock from outside the app until dropped (rolled back).
async fn lock_thread(database: &TestDb, thread: uuid::Uuid) -> PgConnection {
    let mut conn = PgConnection::connect(&database.url).await.unwrap();
    conn.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT 1 FROM threads WHERE id = $1 FOR UPDATE")
        .bind(thread)
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn replies(app: &TestApp) -> u64 {
    entity::reply::Entity::find().count(&app.db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_write_fails_fast_and_writes_nothing() {
    if Backend::postgres().is_none() {
        return;
    }
    for (env, status, code) in [
        // The statement gives up first: the transaction rolls back, and the field says
        // why.
        (
            [
                ("DATABASE_STATEMENT_TIMEOUT", "300ms"),
                ("REQUEST_TIMEOUT", "10s"),
            ],
            StatusCode::OK,
            "TIMEOUT",
        ),
        // The request gives up first: its work is dropped, the transaction with it.
        (
            [
                ("DATABASE_STATEMENT_TIMEOUT", "0"),
                ("REQUEST_TIMEOUT", "400ms"),
            ],
            StatusCode::SERVICE_UNAVAILABLE,
            "TIMEOUT",
        ),
    ] {
        let app = TestApp::spawn_with(Backend::Postgres, &env).await;
        let ann = fixtures::user(&app.db, "ann", Role::Member).await;
        let category = fixtures::category(&app.db, "slow").await;
        let (thread, _) = fixtures::thread(&app.db, &category, &[&ann], "t", 1).await;
        let before = replies(&app).await;
        let lock = lock_thread(app.database.as_ref().unwrap(), thread.id).await;
        let started = Instant::now();
        let input = json!({ "threadId": NodeId::Thread(thread.id).encode().0, "body": "blocked" });
        let token = token("ann");
        let reply = app
            .post_graphql(
                &[("authorization", &format!("Bearer {token}"))],
                &json!({ "query": writes::ADD_REPLY, "variables": { "input": input } }),
            )
            .await;
        let took = started.elapsed();
        assert_eq!(
            (reply.status, codes(&reply.json())),
            (status, vec![code.to_owned()]),
            "{env:?}: {}",
            reply.text()
        );
        assert!(took < Duration::from_secs(2), "{env:?}: took {took:?}");
        drop(lock);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(replies(&app).await, before, "{env:?}: nothing written");
        fixtures::assert_counters_exact(&app.db).await;
    }
}

/// A category named `insert:s` takes s seconds to insert, one named `commit:s` as long
/// to commit (a deferred trigger runs inside COMMIT).
async fn slow_categories(app: &TestApp) {
    let mut conn = PgConnection::connect(&app.database.as_ref().unwrap().url)
        .await
        .unwrap();
    conn.execute(
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF split_part(NEW.name, ':', 1) = TG_ARGV[0] THEN \
             PERFORM pg_sleep(split_part(NEW.name, ':', 2)::float); \
           END IF; RETURN NULL; END $$; \
         CREATE TRIGGER slow_insert AFTER INSERT ON categories \
           FOR EACH ROW EXECUTE FUNCTION slow('insert'); \
         CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON categories \
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow('commit')",
    )
    .await
    .unwrap();
}

/// The deadline counts from the request's arrival, as the router's backstop does: a body
/// that took long to come leaves the grace for a commit in flight inside the backstop, so
/// the answer says that the change may have been saved (a bare 408 used to).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_keeps_the_grace_inside_the_backstop() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if Backend::postgres().is_none() {
        return;
    }
    let app = TestApp::spawn_with(Backend::Postgres, &[("REQUEST_TIMEOUT", "1s")]).await;
    fixtures::user(&app.db, "admin", Role::Admin).await;
    slow_categories(&app).await;
    // Sends a category's creation, its body `delay` after its head; the whole answer.
    let send = async |slug: &str, name: &str, delay: u64| {
        let input = json!({ "input": { "slug": slug, "name": name } });
        let body = json!({ "query": writes::CREATE_CATEGORY, "variables": input }).to_string();
        let head = format!(
            "POST /graphql HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             content-type: application/json\r\nauthorization: Bearer {}\r\n\
             content-length: {}\r\n\r\n",
            token("admin"),
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        stream.write_all(body.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(6), stream.read_to_end(&mut answer))
            .await
            .expect("answered")
            .unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    };
    // A body that comes after the deadline: nothing runs, and the delay is the client's.
    let answer = send("too-late", "fast", 1_200).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("to arrive"), "{answer}");
    let answer = send("slow-body", "commit:2.5", 800).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("may have been saved"), "{answer}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let saved = entity::category::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(saved, 1, "it was saved");
}

/// A `COMMIT` in flight when `REQUEST_TIMEOUT` passes may land, so the request waits for
/// it and answers what it did, where a 503 would have said that nothing was written; a
/// mutation after it in the same operation is not begun. One that cannot end within the
/// grace is a 503 that says its change may have been saved, and it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_in_flight_at_the_deadline_is_answered_by_its_own_result() {
    if Backend::postgres().is_none() {
        return;
    }
    let app = TestApp::spawn_with(Backend::Postgres, &[("REQUEST_TIMEOUT", "300ms")]).await;
    fixtures::user(&app.db, "admin", Role::Admin).await;
    slow_categories(&app).await;
    let token = format!("Bearer {}", token("admin"));
    let headers = [("authorization", token.as_str())];
    let exists = |slug: &'static str| {
        let db = app.db.clone();
        async move {
            use sea_orm::{ColumnTrait, QueryFilter};
            entity::category::Entity::find()
                .filter(entity::category::Column::Slug.eq(slug))
                .count(&db)
                .await
                .unwrap()
                == 1
        }
    };

    let input = json!({ "input": { "slug": "late", "name": "commit:0.8" } });
    let reply = app
        .post_graphql(
            &headers,
            &json!({ "query": writes::CREATE_CATEGORY, "variables": input }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json()["data"]["createCategory"]["category"]["slug"],
        "late"
    );
    assert!(exists("late").await);

    let two = "mutation($a: CreateCategoryInput!, $b: CreateCategoryInput!) { \
               a: createCategory(input: $a) { category { slug } } \
               b: createCategory(input: $b) { category { slug } } }";
    // The second mutation begins after the deadline (the first's COMMIT took past it),
    // or begins before and would commit after it: either way it is not committed.
    for (first, second) in [
        (("first", "commit:0.8"), ("second", "fast")),
        (("third", "fast"), ("fourth", "insert:0.6")),
    ] {
        let inputs = json!({
            "a": { "slug": first.0, "name": first.1 },
            "b": { "slug": second.0, "name": second.1 },
        });
        let reply = app
            .post_graphql(&headers, &json!({ "query": two, "variables": inputs }))
            .await;
        let body = reply.json();
        assert_eq!(
            (reply.status, codes(&body)),
            (StatusCode::OK, vec!["TIMEOUT".to_owned()]),
            "{body}"
        );
        assert_eq!(body["errors"][0]["path"], json!(["b"]), "{body}");
        assert!(exists(first.0).await && !exists(second.0).await);
    }

    let input = json!({ "input": { "slug": "later", "name": "commit:2.5" } });
    let reply = app
        .post_graphql(
            &headers,
            &json!({ "query": writes::CREATE_CATEGORY, "variables": input }),
        )
        .await;
    let body = reply.json();
    assert_eq!(
        (reply.status, codes(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, vec!["TIMEOUT".to_owned()]),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("may have been saved"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(exists("later").await, "it was saved");
}

/// SQLite: a writer that waits out the busy timeout (5 s) behind another process's write
/// lock is told so, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_waits_out_sqlite_s_lock_is_a_timeout() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ann = fixtures::user(&app.db, "ann", Role::Member).await;
    let category = fixtures::category(&app.db, "busy").await;
    let (thread, _) = fixtures::thread(&app.db, &category, &[&ann], "t", 1).await;
    let before = replies(&app).await;
    let url = &app.database.as_ref().unwrap().url;
    let mut other = sqlx::SqliteConnection::connect(url).await.unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    let input = json!({ "threadId": NodeId::Thread(thread.id).encode().0, "body": "blocked" });
    let body = app
        .graphql_as(
            Some(&token("ann")),
            writes::ADD_REPLY,
            json!({ "input": input }),
        )
        .await;
    assert_eq!(codes(&body), ["TIMEOUT"], "{body}");
    other.execute("ROLLBACK").await.unwrap();
    assert_eq!(replies(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    if Backend::postgres().is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let ann = fixtures::user(&app.db, "ann", Role::Member).await;
    let category = fixtures::category(&app.db, "bye").await;
    let (thread, _) = fixtures::thread(&app.db, &category, &[&ann], "t", 1).await;
    let lock = lock_thread(app.database.as_ref().unwrap(), thread.id).await;
    let input = json!({ "threadId": NodeId::Thread(thread.id).encode().0, "body": "last words" });
    let token = format!("Bearer {}", token("ann"));
    let body = json!({ "query": writes::ADD_REPLY, "variables": { "input": input } });
    let headers = [("authorization", token.as_str())];
    let in_flight = app.post_graphql(&headers, &body);
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(lock);
    };
    let stopped = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.shutdown().await;
    };
    let (reply, (), ()) = tokio::join!(in_flight, release, stopped);
    assert_eq!(reply.status, StatusCode::OK);
    assert!(codes(&reply.json()).is_empty(), "{}", reply.text());
    assert_eq!(
        reply.json()["data"]["addReply"]["reply"]["body"],
        "last words"
    );
}

/// Records an acknowledged write.
type Record = Box<dyn FnOnce(&mut Acked) + Send>;

#[derive(Default)]
struct Acked {
    replies: Vec<String>,
    votes: Vec<(String, String, &'static str)>,
    webhooks: HashMap<String, i64>,
    failures: usize,
    slow_failures: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooler_crash_under_load_loses_no_acknowledged_write() {
    let Some(bin) = crate::pooled::pooled() else {
        return;
    };
    let database = TestDb::create(Backend::Postgres).await;
    let mut bouncer = Pgbouncer::start(&bin, &admin_url(), 5, 200).unwrap();
    let port = bouncer.port;
    let config = test_config(
        &bouncer.url(&database.name),
        &[
            ("DIRECT_DATABASE_URL", &database.url),
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ],
    );
    let app = TestApp::start(None, config).await;
    let users = fixtures::users(&app.db, "load", 16).await;
    let category = fixtures::category(&app.db, "faults").await;
    let mut threads = Vec::new();
    for t in 0..8 {
        let refs: Vec<_> = users.iter().collect();
        threads.push(fixtures::thread(&app.db, &category, &refs, &format!("t{t}"), 20).await);
    }
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let outage = Arc::new(AtomicBool::new(false));
    let readiness_during_outage = Arc::new(Mutex::new(Vec::new()));

    let workers = (0..8).map(|w| {
        let (app, acked, stop, threads, users) = (&app, acked.clone(), stop.clone(), &threads, &users);
        async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (thread, posts) = &threads[(w + i) % threads.len()];
                let voter = &users[w];
                let token = format!("Bearer {}", token(&voter.id));
                let started = Instant::now();
                let (ok, record): (bool, Record) = match i % 4 {
                    0 => {
                        let id = NodeId::Thread(thread.id).encode().0;
                        let r = app.post_graphql(&[], &json!({ "query": "query($id: ID!) { thread(id: $id) { replies(first: 20) { nodes { id author { clerkId } } } } }", "variables": { "id": id } })).await;
                        (r.status == StatusCode::OK && codes(&r.json()).is_empty(), Box::new(|_| {}))
                    }
                    1 => {
                        let input = json!({ "threadId": NodeId::Thread(thread.id).encode().0, "body": format!("w{w} #{i}") });
                        let r = app.post_graphql(&[("authorization", &token)], &json!({ "query": writes::ADD_REPLY, "variables": { "input": input } })).await;
                        let body = if r.status == StatusCode::OK { r.json() } else { json!({}) };
                        let ok = r.status == StatusCode::OK && codes(&body).is_empty();
                        let id = body["data"]["addReply"]["reply"]["id"].as_str().unwrap_or("").to_owned();
                        (ok, Box::new(move |a: &mut Acked| a.replies.push(id)))
                    }
                    2 => {
                        // Each (voter, reply) pair is voted once, so an acknowledgement is final.
                        let post = &posts[(i / 4) % posts.len()];
                        if post.author_id == voter.id {
                            continue;
                        }
                        let value = if i % 8 < 4 { "UP" } else { "DOWN" };
                        let reply_id = NodeId::Reply(post.id).encode().0;
                        let input = json!({ "replyId": reply_id, "value": value });
                        let r = app.post_graphql(&[("authorization", &token)], &json!({ "query": writes::CAST_VOTE, "variables": { "input": input } })).await;
                        let ok = r.status == StatusCode::OK && codes(&r.json()).is_empty();
                        let key = (post.id.to_string(), voter.id.clone());
                        (ok, Box::new(move |a: &mut Acked| {
                            a.votes.retain(|v| (v.0.as_str(), v.1.as_str()) != (key.0.as_str(), key.1.as_str()));
                            a.votes.push((key.0, key.1, value));
                        }))
                    }
                    _ => {
                        let user = format!("user_hook_{w}");
                        let version = i as i64;
                        let r = crate::webhook::deliver(app, &crate::webhook::user_event("user.updated", &user, version, None)).await;
                        (r.status == StatusCode::OK, Box::new(move |a: &mut Acked| {
                            let v = a.webhooks.entry(user).or_insert(0);
                            *v = (*v).max(1_800_000_000_000 + version * 1000);
                        }))
                    }
                };
                let mut acked = acked.lock().unwrap();
                if ok {
                    record(&mut acked);
                } else {
                    acked.failures += 1;
                    if started.elapsed() > Duration::from_secs(3) {
                        acked.slow_failures += 1;
                    }
                }
            }
        }
    });
    let chaos = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        bouncer.kill();
        outage.store(true, Ordering::Relaxed);
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let status = app.get("/readyz").await.status;
            readiness_during_outage.lock().unwrap().push(status);
        }
        bouncer = Pgbouncer::start_on(&bin, &admin_url(), 5, 200, port).unwrap();
        outage.store(false, Ordering::Relaxed);
        // Until the app is ready again, then some more load.
        let back = Instant::now();
        while app.get("/readyz").await.status != StatusCode::OK {
            assert!(
                back.elapsed() < Duration::from_secs(15),
                "the service did not recover"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::Relaxed);
    };
    let (_, ()) = tokio::join!(join_all(workers), chaos);

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let during = readiness_during_outage.lock().unwrap().clone();
    assert!(
        during.iter().all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "readyz during the outage: {during:?}"
    );
    assert!(acked.failures > 0, "the outage was felt");
    assert_eq!(acked.slow_failures, 0, "failures were fast");
    eprintln!(
        "pooler crash: {} replies, {} votes, {} webhook users acknowledged; {} requests failed during the outage",
        acked.replies.len(),
        acked.votes.len(),
        acked.webhooks.len(),
        acked.failures
    );
    // Every acknowledged write is in the database.
    let mut direct = PgConnection::connect(&database.url).await.unwrap();
    let mut lost = 0;
    for id in &acked.replies {
        let NodeId::Reply(uuid) = NodeId::decode(id).unwrap() else {
            panic!("{id}")
        };
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM thread_replies WHERE id = $1")
            .bind(uuid)
            .fetch_optional(&mut direct)
            .await
            .unwrap();
        lost += usize::from(found.is_none());
    }
    for (reply, voter, value) in &acked.votes {
        let stored: Option<i16> = sqlx::query_scalar(
            "SELECT value FROM reply_votes WHERE reply_id = $1::uuid AND voter_id = $2",
        )
        .bind(reply)
        .bind(voter)
        .fetch_optional(&mut direct)
        .await
        .unwrap();
        lost += usize::from(stored != Some(if *value == "UP" { 1 } else { -1 }));
    }
    for (user, version) in &acked.webhooks {
        let stored: Option<i64> =
            sqlx::query_scalar("SELECT source_version FROM \"user\" WHERE id = $1")
                .bind(user)
                .fetch_optional(&mut direct)
                .await
                .unwrap()
                .flatten();
        lost += usize::from(stored.is_none_or(|s| s < *version));
    }
    assert_eq!(lost, 0, "acknowledged writes lost");
    assert!(!acked.replies.is_empty() && !acked.votes.is_empty());
    fixtures::assert_counters_exact(&app.db).await;
    drop(bouncer);
}
