//! GraphiQL in a real (headless) browser: the page renders from this binary alone, under
//! its Content-Security-Policy, and its schema introspection succeeds.

use std::process::Command;

use crate::helpers::{Backend, TestApp};

/// Chromium from `CHROMIUM` (or Debian's). Under CI its absence fails the test.
fn chromium() -> Option<String> {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but there is no Chromium at {path}"
    );
    eprintln!("skipped: no Chromium at {path} (set CHROMIUM)");
    None
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_renders_offline_and_loads_the_schema() {
    let Some(chromium) = chromium() else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let profile =
        std::env::temp_dir().join(format!("forum-chromium-{}", uuid::Uuid::new_v4().simple()));
    let url = format!("http://{}/graphql", app.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                // No connection leaves the machine: the page must not need any.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(&url)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL did not render: {dom}"
    );
    assert!(
        dom.contains("FrontPage"),
        "the default query is in the editor"
    );
    for failure in ["QUERY_TOO_COMPLEX", "errors", "Content Security Policy"] {
        assert!(!dom.contains(failure), "{failure} on the page: {dom}");
    }
    let metrics = app.get("/metrics").await.text();
    assert!(
        metric(&metrics, "forum_graphql_requests_total") >= 1.0,
        "the page introspected: {metrics}"
    );
    assert_eq!(
        metric(&metrics, "forum_graphql_errors_total"),
        0.0,
        "{metrics}"
    );
}
