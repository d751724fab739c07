//! A bounded soak: the real binary under mixed load (reads, replies, votes, webhooks) for
//! `SOAK_SECONDS` (10 by default, 60 in CI), with no 5xx and memory that stays flat.

use std::{
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use hyper::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, TestApp, TestDb, WEBHOOK_SECRET, dev_key_path, spawn_binary, token},
    writes,
};

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_without_errors_or_growth() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let backend = Backend::postgres().unwrap_or(Backend::Sqlite);
    let database = TestDb::create(backend).await;
    let key = dev_key_path().display().to_string();
    let (mut child, addr) = spawn_binary(
        &[
            ("DATABASE_URL", &database.url),
            ("SEED_DEMO", "true"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("DEV_SIGNING_KEY_FILE", &key),
        ],
        None,
    );
    let pid = child.id();
    let app = TestApp::remote(addr);
    let front = app.data("{ categories { nodes { threads(first: 10) { nodes { id status replies(first: 10) { nodes { id author { clerkId } } } } } } } }", json!({})).await;
    let mut threads = Vec::new();
    let mut replies = Vec::new();
    for category in front["categories"]["nodes"].as_array().unwrap() {
        for thread in category["threads"]["nodes"].as_array().unwrap() {
            if thread["status"] == "OPEN" {
                threads.push(thread["id"].as_str().unwrap().to_owned());
            }
            for reply in thread["replies"]["nodes"].as_array().unwrap() {
                replies.push((
                    reply["id"].as_str().unwrap().to_owned(),
                    reply["author"]["clerkId"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
    }
    assert!(!threads.is_empty() && !replies.is_empty());

    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let samples = Arc::new(Mutex::new(Vec::<u64>::new()));
    let workers = (0..8).map(|w| {
        let (app, threads, replies, stop, requests, failures) = (&app, &threads, &replies, stop.clone(), requests.clone(), failures.clone());
        async move {
            let user = format!("user_soak_{w}");
            let bearer = format!("Bearer {}", token(&user));
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let thread = &threads[i % threads.len()];
                let (status, body): (StatusCode, Value) = match i % 5 {
                    0 | 1 => {
                        let r = app.post_graphql(&[], &json!({ "query": "query($id: ID!) { thread(id: $id) { title replies(first: 50) { nodes { body score author { displayName } } } } }", "variables": { "id": thread } })).await;
                        (r.status, r.json())
                    }
                    2 => {
                        let r = app.post_graphql(&[("authorization", &bearer)], &json!({ "query": writes::ADD_REPLY, "variables": { "input": { "threadId": thread, "body": format!("soak {w} {i}") } } })).await;
                        (r.status, r.json())
                    }
                    3 => {
                        let (reply, author) = &replies[(i * 7 + w) % replies.len()];
                        if *author == user {
                            continue;
                        }
                        let value = if i.is_multiple_of(2) { "UP" } else { "DOWN" };
                        let r = app.post_graphql(&[("authorization", &bearer)], &json!({ "query": writes::CAST_VOTE, "variables": { "input": { "replyId": reply, "value": value } } })).await;
                        (r.status, r.json())
                    }
                    _ => {
                        let r = crate::webhook::deliver(app, &crate::webhook::user_event("user.updated", &user, i as i64, None)).await;
                        (r.status, r.json())
                    }
                };
                requests.fetch_add(1, Ordering::Relaxed);
                let failed = status.is_server_error() || (body.get("errors").is_some() && body.get("status").is_none());
                if failed {
                    failures.lock().unwrap().push(format!("{status}: {body}"));
                }
            }
        }
    });
    let sampler = {
        let (stop, samples) = (stop.clone(), samples.clone());
        async move {
            let end = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < end {
                tokio::time::sleep(Duration::from_millis(500)).await;
                samples.lock().unwrap().push(rss_kib(pid));
            }
            stop.store(true, Ordering::Relaxed);
        }
    };
    tokio::join!(join_all(workers), sampler);

    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.wait().unwrap();
    let failures = failures.lock().unwrap();
    let samples = samples.lock().unwrap();
    let third = samples.len() / 3;
    let middle = samples[third..2 * third].iter().max().copied().unwrap_or(0);
    let last = samples[2 * third..].iter().max().copied().unwrap_or(0);
    eprintln!(
        "soak ({backend:?}, {seconds} s): {} requests, {} failed; RSS {} → {} → {} KiB",
        requests.load(Ordering::Relaxed),
        failures.len(),
        samples.first().copied().unwrap_or(0),
        middle,
        last
    );
    assert!(
        failures.is_empty(),
        "{} failures, first: {}",
        failures.len(),
        failures[0]
    );
    assert!(
        last <= middle + 8 * 1024,
        "memory grew from {middle} KiB to {last} KiB"
    );
    assert!(status.success(), "clean exit after SIGTERM: {status}");
}
