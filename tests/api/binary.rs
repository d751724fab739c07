//! The `forum` binary as the README runs it: embedded database, demo data, GraphiQL at the
//! printed address, and a clean exit on SIGTERM.

use std::{process::Command, time::Duration};

use hyper::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_embedded_demo_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("forum-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // Nothing configured: no database URL, no Clerk key.
    let unset = [
        ("DATABASE_URL", ""),
        ("CLERK_JWT_KEY", ""),
        ("CLERK_JWKS_URL", ""),
        ("CLERK_ISSUER", ""),
    ];
    let (mut child, addr) = spawn_binary(&unset, Some(&dir));
    assert!(
        dir.join("forum.db").exists(),
        "the embedded database is a file in the working directory"
    );

    assert!(
        dir.join("forum-dev-key.pem").exists(),
        "the development signing key is made beside the embedded database"
    );
    let app = TestApp::remote(addr);
    let page = app.get("/graphql").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("graphiql.min.js"));
    let data = app
        .data(
            "{ categories { totalCount nodes { slug } } viewer { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["categories"]["totalCount"], 4,
        "demo categories: {data}"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn print_schema_prints_the_sdl() {
    let out = Command::new(env!("CARGO_BIN_EXE_forum"))
        .args(["print-schema", "--stdout"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), api::graphql::sdl());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    app.shutdown().await;
    assert!(tokio::net::TcpStream::connect(app.addr).await.is_err());
}
