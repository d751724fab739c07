//! Clerk's webhook: the signature matrix, the event semantics, and convergence under
//! duplicated, shuffled, concurrent delivery.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::Datelike;
use entity::user;
use futures_util::future::join_all;
use hyper::{Method, StatusCode};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use svix::webhooks::Webhook;

use crate::helpers::{Backend, Reply, TestApp, WEBHOOK_SECRET, codes};

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

type Headers = Vec<(&'static str, String)>;

/// Signed svix headers for `body`, as Clerk sends them.
fn signed(secret: &str, id: &str, timestamp: i64, body: &str) -> Headers {
    let signature = Webhook::new(secret)
        .unwrap()
        .sign(id, timestamp, body.as_bytes())
        .unwrap();
    vec![
        ("svix-id", id.to_owned()),
        ("svix-timestamp", timestamp.to_string()),
        ("svix-signature", signature),
    ]
}

async fn post(app: &TestApp, headers: &[(&'static str, String)], body: &str) -> Reply {
    let mut all: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    all.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
    app.request(Method::POST, "/webhooks/clerk", &all, body.to_owned())
        .await
}

/// Delivers `event` with a valid signature; returns the reply.
pub async fn deliver(app: &TestApp, event: &Value) -> Reply {
    let body = event.to_string();
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    post(app, &signed(WEBHOOK_SECRET, &id, now_secs(), &body), &body).await
}

/// A `user.created` / `user.updated` event for version `v` of user `id`.
pub fn user_event(kind: &str, id: &str, v: i64, role: Option<&str>) -> Value {
    json!({
        "object": "event",
        "type": kind,
        "timestamp": 1_800_000_000_000i64 + v * 1000 + 7,
        "data": {
            "object": "user",
            "id": id,
            "username": format!("{id}_v{v}"),
            "first_name": format!("First{v}"),
            "last_name": format!("Last{v}"),
            "image_url": format!("https://img.example/{id}/{v}.png"),
            "primary_email_address_id": format!("idn_{v}"),
            "email_addresses": [
                { "id": "idn_other", "email_address": format!("other{v}@example.com") },
                { "id": format!("idn_{v}"), "email_address": format!("{id}.v{v}@example.com") },
            ],
            "public_metadata": role.map_or(json!({}), |r| json!({ "role": r })),
            "created_at": 1_700_000_000_000i64,
            "updated_at": 1_800_000_000_000i64 + v * 1000,
        }
    })
}

pub fn deleted(id: &str, timestamp: i64) -> Value {
    json!({
        "object": "event",
        "type": "user.deleted",
        "timestamp": timestamp,
        "data": { "object": "user", "id": id, "deleted": true },
    })
}

async fn row(app: &TestApp, id: &str) -> Option<user::Model> {
    user::Entity::find_by_id(id).one(&app.db).await.unwrap()
}

backend_test! {
    async fn the_signature_matrix(backend) {
        let app = TestApp::spawn(backend).await;
        let body = user_event("user.created", "user_sig", 1, None).to_string();
        let now = now_secs();
        let good = signed(WEBHOOK_SECRET, "msg_1", now, &body);
        let without = |name: &str| -> Headers {
            good.iter().filter(|(k, _)| *k != name).cloned().collect()
        };
        let mut bad_signature = good.clone();
        bad_signature[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned();
        let tampered = body.replace("First1", "Mallory");
        let cases: Vec<(&str, Headers, &str, StatusCode)> = vec![
            ("bad signature", bad_signature, &body, StatusCode::UNAUTHORIZED),
            ("wrong secret", signed("whsec_c29tZSBvdGhlciBzZWNyZXQgYnl0ZXM=", "msg_1", now, &body), &body, StatusCode::UNAUTHORIZED),
            ("tampered body", good.clone(), &tampered, StatusCode::UNAUTHORIZED),
            ("old timestamp", signed(WEBHOOK_SECRET, "msg_1", now - 600, &body), &body, StatusCode::UNAUTHORIZED),
            ("future timestamp", signed(WEBHOOK_SECRET, "msg_1", now + 600, &body), &body, StatusCode::UNAUTHORIZED),
            ("no svix-id", without("svix-id"), &body, StatusCode::UNAUTHORIZED),
            ("no svix-timestamp", without("svix-timestamp"), &body, StatusCode::UNAUTHORIZED),
            ("no svix-signature", without("svix-signature"), &body, StatusCode::UNAUTHORIZED),
            ("no headers", vec![], &body, StatusCode::UNAUTHORIZED),
        ];
        for (name, headers, body, status) in cases {
            let reply = post(&app, &headers, body).await;
            assert_eq!(reply.status, status, "{name}: {}", reply.text());
            assert!(reply.json()["error"].as_str().unwrap().contains("invalid signature"), "{name}");
        }
        assert_eq!(row(&app, "user_sig").await, None, "nothing refused was applied");

        let reply = post(&app, &good, &body).await;
        assert_eq!((reply.status, reply.json()), (StatusCode::OK, json!({ "status": "applied" })));
        assert_eq!(row(&app, "user_sig").await.unwrap().first_name.as_deref(), Some("First1"));
        // Replaying the same delivery changes nothing.
        let reply = post(&app, &good, &body).await;
        assert_eq!((reply.status, reply.json()), (StatusCode::OK, json!({ "status": "stale" })));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_webhooks_are_refused() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CLERK_WEBHOOK_SECRET", "")]).await;
    let reply = deliver(&app, &user_event("user.created", "user_x", 1, None)).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json(), json!({ "error": "server misconfigured" }));
    assert_eq!(row(&app, "user_x").await, None);
}

backend_test! {
    async fn events_converge_and_deletes_are_final(backend) {
        let app = TestApp::spawn(backend).await;
        let status = |reply: Reply| (reply.status, reply.json()["status"].as_str().unwrap_or("").to_owned());
        let applied = (StatusCode::OK, "applied".to_owned());
        let stale = (StatusCode::OK, "stale".to_owned());

        assert_eq!(status(deliver(&app, &user_event("user.created", "user_a", 1, None)).await), applied);
        assert_eq!(status(deliver(&app, &user_event("user.updated", "user_a", 3, Some("moderator"))).await), applied);
        assert_eq!(status(deliver(&app, &user_event("user.updated", "user_a", 2, Some("admin"))).await), stale);
        let a = row(&app, "user_a").await.unwrap();
        assert_eq!(a.first_name.as_deref(), Some("First3"));
        assert_eq!(a.email.as_deref(), Some("user_a.v3@example.com"), "the primary address, not the first");
        assert_eq!(a.role, user::Role::Moderator);

        // A delete that arrives first leaves a tombstone the late create cannot lift.
        assert_eq!(status(deliver(&app, &deleted("user_b", 1_800_000_009_000)).await), applied);
        assert_eq!(status(deliver(&app, &user_event("user.created", "user_b", 1, None)).await), stale);
        assert_eq!(status(deliver(&app, &user_event("user.updated", "user_b", 99, None)).await), stale);
        let b = row(&app, "user_b").await.unwrap();
        assert!(b.deleted_at.is_some() && b.first_name.is_none() && b.email.is_none());

        // Deleting erases personal data and keeps the id and the deletion time.
        assert_eq!(status(deliver(&app, &deleted("user_a", 1_800_000_009_000)).await), applied);
        assert_eq!(status(deliver(&app, &deleted("user_a", 1_800_000_010_000)).await), stale);
        let a = row(&app, "user_a").await.unwrap();
        assert_eq!((a.email, a.username, a.first_name, a.last_name, a.image_url), (None, None, None, None, None));
        assert_eq!((a.role, a.role_override), (user::Role::Member, None));
        assert_eq!(a.deleted_at.map(|t| t.timestamp_millis()), Some(1_800_000_009_000));

        // What Postgres cannot store is dropped, not a failure svix would retry forever:
        // NUL in text, times before year 1 (the creation time falls back to now).
        let mut odd = user_event("user.created", "user_c", 1, None);
        odd["data"]["first_name"] = json!("Fi\u{0}rst");
        odd["data"]["created_at"] = json!(-250_000_000_000_000i64);
        assert_eq!(status(deliver(&app, &odd).await), applied);
        let c = row(&app, "user_c").await.unwrap();
        assert_eq!(c.first_name.as_deref(), Some("First"));
        assert!(c.created_at.year() >= 2026, "{}", c.created_at);
        let far = deleted("user_c", -250_000_000_000_000);
        assert_eq!(status(deliver(&app, &far).await), applied);
        let deleted_at = row(&app, "user_c").await.unwrap().deleted_at.unwrap();
        assert!(deleted_at.year() >= 2026, "{deleted_at}");

        // Other event types are acknowledged and ignored; a signed non-event is refused.
        let session = json!({ "type": "session.created", "data": { "id": "sess_1" }, "timestamp": 1 });
        assert_eq!(status(deliver(&app, &session).await), (StatusCode::OK, "ignored".to_owned()));
        let no_id = json!({ "type": "user.updated", "data": { "first_name": "x" } });
        assert_eq!(deliver(&app, &no_id).await.status, StatusCode::BAD_REQUEST);
        let reply = {
            let body = "{\"type\": ";
            post(&app, &signed(WEBHOOK_SECRET, "msg_bad", now_secs(), body), body).await
        };
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
}

backend_test! {
    async fn fields_clerk_leaves_out_change_nothing_they_do_not_name(backend) {
        let app = TestApp::spawn(backend).await;
        let status = |reply: Reply| (reply.status, reply.json()["status"].as_str().unwrap_or("").to_owned());
        let applied = (StatusCode::OK, "applied".to_owned());
        // Clerk's times in the past (2025), so that a delivery's own clock is later.
        let in_2025 = |kind: &str, v: i64| {
            let mut event = user_event(kind, "user_d", v, None);
            event["data"]["updated_at"] = json!(1_750_000_000_000i64 + v * 1000);
            event["timestamp"] = json!(1_750_000_000_000i64 + v * 1000 + 7);
            event
        };
        assert_eq!(status(deliver(&app, &in_2025("user.created", 1)).await), applied);
        assert_eq!(status(deliver(&app, &in_2025("user.updated", 5)).await), applied);
        // An older update without Clerk's `updated_at` (nor an envelope timestamp) is not
        // dated by its delivery, which would make it the newest.
        let mut undated = in_2025("user.updated", 3);
        undated["data"].as_object_mut().unwrap().remove("updated_at");
        undated.as_object_mut().unwrap().remove("timestamp");
        assert_eq!(status(deliver(&app, &undated).await), (StatusCode::OK, "stale".to_owned()));
        let d = row(&app, "user_d").await.unwrap();
        assert_eq!(d.first_name.as_deref(), Some("First5"));
        assert_eq!(d.created_at.timestamp_millis(), 1_700_000_000_000);
        // An update without `created_at` keeps the account's creation time.
        let mut uncreated = in_2025("user.updated", 6);
        uncreated["data"].as_object_mut().unwrap().remove("created_at");
        assert_eq!(status(deliver(&app, &uncreated).await), applied);
        let d = row(&app, "user_d").await.unwrap();
        assert_eq!((d.first_name.as_deref(), d.created_at.timestamp_millis()), (Some("First6"), 1_700_000_000_000));
        // So does the deletion.
        assert_eq!(status(deliver(&app, &deleted("user_d", 1_800_000_009_000)).await), applied);
        assert_eq!(row(&app, "user_d").await.unwrap().created_at.timestamp_millis(), 1_700_000_000_000);
        // `null` lists are empty lists: the user is mirrored, without an email.
        let mut no_emails = user_event("user.created", "user_e", 1, None);
        no_emails["data"]["email_addresses"] = Value::Null;
        assert_eq!(status(deliver(&app, &no_emails).await), applied);
        assert_eq!(row(&app, "user_e").await.unwrap().email, None);
        // An event of another type is ignored whatever its envelope's timestamp holds.
        let odd = json!({ "type": "session.created", "data": { "id": "sess_1" }, "timestamp": "1" });
        assert_eq!(status(deliver(&app, &odd).await), (StatusCode::OK, "ignored".to_owned()));
    }
}

backend_test! {
    async fn an_operator_role_survives_webhooks(backend) {
        let app = TestApp::spawn(backend).await;
        service::user::set_role_override(&app.db, "user_boot", Some(user::Role::Admin)).await.unwrap();
        deliver(&app, &user_event("user.created", "user_boot", 1, None)).await;
        let token = crate::helpers::token("user_boot");
        let body = app.graphql_as(Some(&token), "{ viewer { role firstName email } }", json!({})).await;
        assert_eq!(body["data"]["viewer"], json!({ "role": "ADMIN", "firstName": "First1", "email": "user_boot.v1@example.com" }));
        service::user::set_role_override(&app.db, "user_boot", None).await.unwrap();
        let body = app.graphql_as(Some(&token), "{ viewer { role } }", json!({})).await;
        assert_eq!(body["data"]["viewer"]["role"], "MEMBER");
        assert!(codes(&body).is_empty());
    }
}

/// A small deterministic generator (no dependency, same order every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

backend_test! {
    async fn concurrent_shuffled_duplicated_deliveries_converge(backend) {
        let app = TestApp::spawn(backend).await;
        let mut rng = Lcg(2026);
        let mut history: Vec<Value> = Vec::new();
        let mut expected: Vec<(String, Option<i64>)> = Vec::new();
        for u in 0..25 {
            let id = format!("user_{u:02}");
            let versions = 3 + (u % 5) as i64;
            for v in 1..=versions {
                let kind = if v == 1 { "user.created" } else { "user.updated" };
                let role = ["admin", "moderator", "member"][(u + v as usize) % 3];
                history.push(user_event(kind, &id, v, Some(role)));
            }
            if u % 4 == 0 {
                history.push(deleted(&id, 1_800_000_000_000 + (versions + 1) * 1000));
                expected.push((id, None));
            } else {
                expected.push((id, Some(versions)));
            }
        }
        // 500 deliveries: every event at least once, the rest duplicates, all shuffled.
        let mut deliveries = history.clone();
        while deliveries.len() < 500 {
            deliveries.push(history[rng.below(history.len())].clone());
        }
        for i in (1..deliveries.len()).rev() {
            deliveries.swap(i, rng.below(i + 1));
        }
        let started = Instant::now();
        let senders = (0..16).map(|s| {
            let (app, deliveries) = (&app, &deliveries);
            async move {
                for event in deliveries.iter().skip(s).step_by(16) {
                    let reply = deliver(app, event).await;
                    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
                }
            }
        });
        join_all(senders).await;
        let elapsed = started.elapsed();
        eprintln!(
            "sync throughput ({backend:?}): {} events in {elapsed:?} = {:.0} events/s",
            deliveries.len(),
            deliveries.len() as f64 / elapsed.as_secs_f64()
        );
        for (id, version) in expected {
            let row = row(&app, &id).await.unwrap();
            match version {
                None => {
                    assert!(row.deleted_at.is_some(), "{id} is deleted");
                    assert_eq!((row.first_name, row.email), (None, None), "{id} is erased");
                }
                Some(v) => {
                    let u: usize = id[5..].parse().unwrap();
                    let role = match ["admin", "moderator", "member"][(u + v as usize) % 3] {
                        "admin" => user::Role::Admin,
                        "moderator" => user::Role::Moderator,
                        _ => user::Role::Member,
                    };
                    assert_eq!(row.deleted_at, None, "{id}");
                    assert_eq!(row.source_version, Some(1_800_000_000_000 + v * 1000), "{id}");
                    assert_eq!(row.first_name, Some(format!("First{v}")), "{id}");
                    assert_eq!(row.username, Some(format!("{id}_v{v}")), "{id}");
                    assert_eq!(row.email, Some(format!("{id}.v{v}@example.com")), "{id}");
                    assert_eq!(row.image_url, Some(format!("https://img.example/{id}/{v}.png")), "{id}");
                    assert_eq!(row.role, role, "{id}");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_asks_svix_to_retry() {
    if Backend::postgres().is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let name = app.database.as_ref().unwrap().name.clone();
    crate::helpers::drop_database(&name).await;
    let reply = deliver(&app, &user_event("user.created", "user_retry", 1, None)).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text()
    );
    assert_eq!(reply.json(), json!({ "error": "temporarily unavailable" }));
}
