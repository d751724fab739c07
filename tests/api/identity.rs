//! Session tokens: the matrix of what is accepted and what is refused, the JWKS path,
//! provisioning on first sight, and the local development identity.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use api::auth::keys::RsaKey;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hyper::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb, codes, test_config};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const ISSUER: &str = "https://clerk.forum.example";
const PARTY: &str = "https://app.forum.example";

/// A token signed RS256 by `key`, with Clerk's usual claims overridden by `claims`.
fn signed(key: &RsaKey, kid: Option<&str>, claims: Value) -> String {
    let mut all = json!({
        "sub": "user_alice", "iss": ISSUER, "azp": PARTY, "sid": "sess_1",
        "iat": now(), "nbf": now() - 1, "exp": now() + 60,
    });
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            all.as_object_mut().unwrap().remove(k);
        } else {
            all[k] = v.clone();
        }
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, &all, &key.encoding_key().unwrap()).unwrap()
}

async fn viewer(app: &TestApp, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let reply = app
        .post_graphql(
            headers,
            &json!({ "query": "{ viewer { clerkId displayName role } }" }),
        )
        .await;
    (reply.status, reply.json())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

backend_test! {
    async fn the_token_matrix(backend) {
        let key = RsaKey::generate().unwrap();
        let other = RsaKey::generate().unwrap();
        let pem = key.public_pem();
        let app = TestApp::spawn_with(backend, &[
            ("CLERK_JWT_KEY", &pem),
            ("CLERK_ISSUER", ISSUER),
            ("CLERK_AUTHORIZED_PARTIES", PARTY),
        ]).await;
        let unsigned = |header: Value, claims: Value| {
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
        };
        let hs256_with_public_pem = encode(
            &Header::new(Algorithm::HS256),
            &json!({ "sub": "user_alice", "iss": ISSUER, "azp": PARTY, "exp": now() + 60 }),
            &EncodingKey::from_secret(pem.as_bytes()),
        ).unwrap();
        let cases: Vec<(&str, String, Option<&str>)> = vec![
            ("valid", signed(&key, None, json!({})), None),
            ("expired a second ago, within the leeway", signed(&key, None, json!({ "exp": now() - 1 })), None),
            ("expired", signed(&key, None, json!({ "exp": now() - 60 })), Some("expired")),
            ("not yet valid", signed(&key, None, json!({ "nbf": now() + 60 })), Some("not valid yet")),
            ("signed by another key", signed(&other, None, json!({})), Some("signature")),
            ("alg none", unsigned(json!({ "alg": "none", "typ": "JWT" }), json!({ "sub": "user_alice", "exp": now() + 60 })), Some("malformed")),
            ("HS256 keyed with the public PEM", hs256_with_public_pem, Some("RS256")),
            ("another authorized party", signed(&key, None, json!({ "azp": "https://evil.example" })), Some("another party")),
            ("no authorized party", signed(&key, None, json!({ "azp": null })), Some("another party")),
            ("another issuer", signed(&key, None, json!({ "iss": "https://evil.example" })), Some("another issuer")),
            ("no issuer", signed(&key, None, json!({ "iss": null })), Some("required claim")),
            ("no expiry", signed(&key, None, json!({ "exp": null })), Some("required claim")),
            ("empty subject", signed(&key, None, json!({ "sub": "" })), Some("required claim")),
            ("a subject with a control character", signed(&key, None, json!({ "sub": "user_\u{0}x" })), Some("required claim")),
            ("garbage", "not.a.jwt".to_owned(), Some("malformed")),
            ("not even dots", "garbage".to_owned(), Some("malformed")),
        ];
        for (name, token, refused) in cases {
            let (status, body) = viewer(&app, &[("authorization", &bearer(&token))]).await;
            match refused {
                None => {
                    assert_eq!(status, StatusCode::OK, "{name}: {body}");
                    assert_eq!(body["data"]["viewer"]["clerkId"], "user_alice", "{name}");
                }
                Some(reason) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
                    assert_eq!(codes(&body), ["UNAUTHENTICATED"], "{name}");
                    let message = body["errors"][0]["message"].as_str().unwrap();
                    assert!(message.contains(reason), "{name}: {message}");
                }
            }
        }
        // The token may come in Clerk's cookie; none at all is anonymous.
        let cookie = format!("theme=dark; __session={}", signed(&key, None, json!({})));
        let (status, body) = viewer(&app, &[("cookie", &cookie)]).await;
        assert_eq!((status, &body["data"]["viewer"]["clerkId"]), (StatusCode::OK, &json!("user_alice")));
        let (status, body) = viewer(&app, &[]).await;
        assert_eq!((status, &body["data"]["viewer"]), (StatusCode::OK, &Value::Null));
        let (status, _) = viewer(&app, &[("authorization", "Basic dXNlcjpwdw==")]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // A first request provisions the user from the token; a NUL in its name is dropped
        // (Postgres cannot store it), not a failure on every request.
        let named = signed(&key, None, json!({ "sub": "user_named", "name": "Al\u{0}ice" }));
        let body = app.graphql_as(Some(&named), "{ viewer { displayName } }", json!({})).await;
        assert_eq!(body["data"]["viewer"]["displayName"], "Alice", "{body}");
    }
}

backend_test! {
    async fn a_new_user_can_post_at_once_and_a_deleted_one_cannot(backend) {
        let app = TestApp::spawn(backend).await;
        let key = api::auth::dev::load_or_create(&crate::helpers::dev_key_path()).unwrap();
        let named = api::auth::dev::mint(&key, "user_fresh", Some("Fresh Person"), std::time::Duration::from_secs(60)).unwrap();
        let (status, body) = viewer(&app, &[("authorization", &bearer(&named))]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["viewer"], json!({ "clerkId": "user_fresh", "displayName": "Fresh Person", "role": "MEMBER" }));
        // The same user again: the row exists, nothing is written.
        let before = app.statements();
        let (status, _) = viewer(&app, &[("authorization", &bearer(&named))]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.statements() - before, 1, "one lookup for the viewer; the `viewer` field answers from it");

        crate::webhook::deliver(&app, &crate::webhook::deleted("user_fresh", 1_800_000_000_000)).await;
        let (status, body) = viewer(&app, &[("authorization", &bearer(&named))]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("deleted"));
    }
}

/// A JWKS endpoint on loopback whose keys the test can change, counting its fetches.
struct JwksServer {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    failing: Arc<std::sync::atomic::AtomicBool>,
    /// Milliseconds each answer waits.
    delay: Arc<std::sync::atomic::AtomicU64>,
}

impl JwksServer {
    async fn start(keys: Value) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let delay = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (k, f, down, wait) = (
            keys.clone(),
            fetches.clone(),
            failing.clone(),
            delay.clone(),
        );
        let router = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (k, f, down, wait) = (k.clone(), f.clone(), down.clone(), wait.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let wait = Duration::from_millis(wait.load(Ordering::SeqCst));
                    tokio::time::sleep(wait).await;
                    if down.load(Ordering::SeqCst) {
                        return Err(axum::http::StatusCode::BAD_GATEWAY);
                    }
                    Ok(axum::Json(k.lock().unwrap().clone()))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            url,
            keys,
            fetches,
            failing,
            delay,
        }
    }
}

/// A key Clerk withdraws stops verifying once the cached set is older than its maximum
/// age, though no token names a new key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_key_stops_verifying_when_the_set_is_old() {
    let (old, other) = (RsaKey::generate().unwrap(), RsaKey::generate().unwrap());
    let jwks = JwksServer::start(json!({ "keys": [old.jwk("k-old")] })).await;
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("CLERK_ISSUER", &jwks.url),
            ("CLERK_JWKS_MIN_REFRESH", "0s"),
            ("CLERK_JWKS_MAX_AGE", "1s"),
        ],
    )
    .await;
    let token = bearer(&signed(
        &old,
        Some("k-old"),
        json!({ "iss": jwks.url, "azp": null }),
    ));
    let (status, body) = viewer(&app, &[("authorization", &token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A set without a usable key is Clerk failing: the old set keeps serving.
    *jwks.keys.lock().unwrap() = json!({ "keys": [] });
    let (status, _) = viewer(&app, &[("authorization", &token)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the cached set is young: no fetch yet"
    );
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = viewer(&app, &[("authorization", &token)]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an empty set withdraws nothing: {body}"
    );
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
    // A set without the key withdraws it.
    *jwks.keys.lock().unwrap() = json!({ "keys": [other.jwk("k-other")] });
    let (status, body) = viewer(&app, &[("authorization", &token)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "withdrawn: {body}");
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_keys_rotate_without_a_restart() {
    let (old, new) = (RsaKey::generate().unwrap(), RsaKey::generate().unwrap());
    let jwks = JwksServer::start(json!({ "keys": [old.jwk("k-old")] })).await;
    // CLERK_ISSUER alone: the JWKS is found at the issuer's well-known path.
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("CLERK_ISSUER", &jwks.url),
            ("CLERK_JWKS_MIN_REFRESH", "0s"),
        ],
    )
    .await;
    let claims = json!({ "iss": jwks.url, "azp": null });
    let (status, body) = viewer(
        &app,
        &[(
            "authorization",
            &bearer(&signed(&old, Some("k-old"), claims.clone())),
        )],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    *jwks.keys.lock().unwrap() = json!({ "keys": [new.jwk("k-new")] });
    let (status, body) = viewer(
        &app,
        &[(
            "authorization",
            &bearer(&signed(&new, Some("k-new"), claims.clone())),
        )],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the new key verifies after one refresh: {body}"
    );
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
    let (status, _) = viewer(
        &app,
        &[(
            "authorization",
            &bearer(&signed(&old, Some("k-old"), claims.clone())),
        )],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a key Clerk dropped is no longer trusted"
    );

    // While the endpoint fails, the cached key still verifies. A key the cache lacks
    // cannot be told from Clerk's then: the service fails (503), not the token.
    jwks.failing.store(true, Ordering::SeqCst);
    let (status, body) = viewer(
        &app,
        &[(
            "authorization",
            &bearer(&signed(&new, Some("k-unknown"), claims.clone())),
        )],
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(codes(&body), ["INTERNAL_SERVER_ERROR"]);
    let (status, body) = viewer(
        &app,
        &[(
            "authorization",
            &bearer(&signed(&new, Some("k-new"), claims)),
        )],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "stale keys are served when a refresh fails: {body}"
    );
}

/// A JWKS endpoint down when the first token arrives: every signed-in request would be
/// refused as a bad token if the outage passed for an unknown key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_outage_is_the_service_failing_not_the_token() {
    let key = RsaKey::generate().unwrap();
    let jwks = JwksServer::start(json!({ "keys": [key.jwk("k1")] })).await;
    jwks.failing.store(true, Ordering::SeqCst);
    let url = format!("{}/.well-known/jwks.json", jwks.url);
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("CLERK_JWKS_URL", &url), ("CLERK_JWKS_MIN_REFRESH", "0s")],
    )
    .await;
    let token = bearer(&signed(&key, Some("k1"), json!({ "azp": null })));
    let (status, body) = viewer(&app, &[("authorization", &token)]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(codes(&body), ["INTERNAL_SERVER_ERROR"]);
    jwks.failing.store(false, Ordering::SeqCst);
    let (status, body) = viewer(&app, &[("authorization", &token)]).await;
    assert_eq!(status, StatusCode::OK, "once the keys are back: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kids_cannot_hammer_the_jwks_endpoint() {
    let key = RsaKey::generate().unwrap();
    let jwks = JwksServer::start(json!({ "keys": [key.jwk("k1")] })).await;
    let url = format!("{}/.well-known/jwks.json", jwks.url);
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("CLERK_JWKS_URL", &url), ("CLERK_JWKS_MIN_REFRESH", "60s")],
    )
    .await;
    let (status, _) = viewer(
        &app,
        &[(
            "authorization",
            &bearer(&signed(&key, Some("k1"), json!({ "azp": null }))),
        )],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for i in 0..30 {
        let token = signed(&key, Some(&format!("forged-{i}")), json!({}));
        let (status, body) = viewer(&app, &[("authorization", &bearer(&token))]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("unknown key")
        );
    }
    let (status, _) = viewer(
        &app,
        &[("authorization", &bearer(&signed(&key, None, json!({}))))],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a JWKS token without kid names no key"
    );
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "one fetch, then the interval holds"
    );
}

/// A request cut off while its fetch is in flight (here by `REQUEST_TIMEOUT`; a client
/// that hangs up does the same) has still asked Clerk: the interval holds after it, and
/// the fetch, finished, serves the requests after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_fetches_count_against_the_interval() {
    let key = RsaKey::generate().unwrap();
    let jwks = JwksServer::start(json!({ "keys": [key.jwk("k1")] })).await;
    jwks.delay.store(1_000, Ordering::SeqCst);
    let url = format!("{}/.well-known/jwks.json", jwks.url);
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("CLERK_JWKS_URL", &url),
            ("CLERK_JWKS_MIN_REFRESH", "60s"),
            ("REQUEST_TIMEOUT", "200ms"),
        ],
    )
    .await;
    let before = jwks.fetches.load(Ordering::SeqCst);
    for i in 0..3 {
        let token = signed(&key, Some(&format!("forged-{i}")), json!({}));
        let (status, body) = viewer(&app, &[("authorization", &bearer(&token))]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), before + 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let token = signed(&key, Some("k1"), json!({ "azp": null }));
    let (status, body) = viewer(&app, &[("authorization", &bearer(&token))]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_identity_stays_on_loopback() {
    let database = TestDb::create(Backend::Sqlite).await;
    let config = test_config(&database.url, &[("LISTEN_ADDR", "0.0.0.0:0")]);
    let refused = api::App::build(config)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("not a loopback address"), "{refused}");

    // With Clerk configured the check does not apply (the app is not started here).
    let key = RsaKey::generate().unwrap();
    let clerk = test_config(
        &database.url,
        &[
            ("LISTEN_ADDR", "0.0.0.0:0"),
            ("CLERK_JWT_KEY", &key.public_pem()),
        ],
    );
    assert!(api::auth::Auth::new(&clerk.identity, clerk.listen_addr).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forum_token_mints_what_the_server_trusts() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forum"))
        .args([
            "token", "--user", "user_cli", "--name", "Cli User", "--ttl", "5m",
        ])
        .env("DEV_SIGNING_KEY_FILE", crate::helpers::dev_key_path())
        .env("DATABASE_URL", &app.database.as_ref().unwrap().url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let (status, body) = viewer(&app, &[("authorization", &bearer(token.trim()))]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["displayName"], "Cli User");
}
