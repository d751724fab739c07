//! Counters and orderings stay exact under concurrent writes.

use std::time::Instant;

use api::graphql::NodeId;
use entity::user::Role;
use futures_util::future::join_all;
use serde_json::json;

use crate::{
    fixtures,
    helpers::{TestApp, codes},
    writes::{self, run},
};

backend_test! {
    async fn fifty_voters_flipping_at_once_leave_exact_tallies(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let author = fixtures::user(db, "author", Role::Member).await;
        let voters = fixtures::users(db, "voter", 50).await;
        let category = fixtures::category(db, "votes").await;
        let (_, posts) = fixtures::thread(db, &category, &[&author], "hot", 1).await;
        let reply_id = NodeId::Reply(posts[0].id).encode().0;
        let started = Instant::now();
        let tasks = voters.iter().enumerate().map(|(i, voter)| {
            let (app, reply_id) = (&app, &reply_id);
            async move {
                // Five changes each, ending on a value that depends on the voter.
                let mut last = None;
                for step in 0..5 {
                    let up = (i + step) % 2 == 0;
                    let retract = step == 2 && i % 7 == 0;
                    let (query, input) = if retract {
                        (writes::RETRACT_VOTE, json!({ "replyId": reply_id }))
                    } else {
                        (writes::CAST_VOTE, json!({ "replyId": reply_id, "value": if up { "UP" } else { "DOWN" } }))
                    };
                    let body = run(app, Some(&voter.id), query, input).await;
                    assert!(codes(&body).is_empty(), "{body:#}");
                    last = if retract { None } else { Some(if up { 1 } else { -1 }) };
                }
                last
            }
        });
        let finals: Vec<Option<i32>> = join_all(tasks).await;
        eprintln!("250 concurrent vote changes ({backend:?}) in {:?}", started.elapsed());
        let expected_score: i32 = finals.iter().flatten().sum();
        let data = app.data("query($id: ID!) { node(id: $id) { ... on Reply { score upvotes downvotes } } }", json!({ "id": reply_id })).await;
        assert_eq!(data["node"]["score"], expected_score);
        assert_eq!(data["node"]["upvotes"], finals.iter().filter(|v| **v == Some(1)).count());
        assert_eq!(data["node"]["downvotes"], finals.iter().filter(|v| **v == Some(-1)).count());
        fixtures::assert_counters_exact(db).await;
    }
}

backend_test! {
    async fn one_voter_changing_a_vote_from_many_requests_at_once_leaves_one_vote(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let author = fixtures::user(db, "author", Role::Member).await;
        let voter = fixtures::user(db, "voter", Role::Member).await;
        let category = fixtures::category(db, "votes").await;
        let (_, posts) = fixtures::thread(db, &category, &[&author], "hot", 1).await;
        let reply_id = NodeId::Reply(posts[0].id).encode().0;
        // Each request reads the voter's old vote and moves the tallies from it: only if
        // the reply's lock orders them does each see the one before.
        let tasks = (0..30).map(|i| {
            let (app, reply_id, voter) = (&app, &reply_id, &voter);
            async move {
                let (query, input) = match i % 3 {
                    0 => (writes::CAST_VOTE, json!({ "replyId": reply_id, "value": "UP" })),
                    1 => (writes::CAST_VOTE, json!({ "replyId": reply_id, "value": "DOWN" })),
                    _ => (writes::RETRACT_VOTE, json!({ "replyId": reply_id })),
                };
                let body = run(app, Some(&voter.id), query, input).await;
                assert!(codes(&body).is_empty(), "{body:#}");
            }
        });
        join_all(tasks).await;
        fixtures::assert_counters_exact(db).await;
        let data = app.data("query($id: ID!) { node(id: $id) { ... on Reply { upvotes downvotes } } }", json!({ "id": reply_id })).await;
        let votes = data["node"]["upvotes"].as_i64().unwrap() + data["node"]["downvotes"].as_i64().unwrap();
        assert!(votes <= 1, "{data}");
    }
}

backend_test! {
    async fn twenty_concurrent_replies_are_all_counted(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let users = fixtures::users(db, "replier", 20).await;
        let category = fixtures::category(db, "busy").await;
        let (thread, _) = fixtures::thread(db, &category, &[&users[0]], "busy", 1).await;
        let thread_id = NodeId::Thread(thread.id).encode().0;
        let tasks = users.iter().map(|user| {
            let (app, thread_id) = (&app, &thread_id);
            async move {
                let body = run(app, Some(&user.id), writes::ADD_REPLY, json!({ "threadId": thread_id, "body": "me too" })).await;
                assert!(codes(&body).is_empty(), "{body:#}");
                body["data"]["addReply"]["reply"]["createdAt"].as_str().unwrap().to_owned()
            }
        });
        let times = join_all(tasks).await;
        let data = app.data("query($id: ID!) { thread(id: $id) { replyCount lastActivityAt replies(last: 1) { nodes { createdAt } } } }", json!({ "id": thread_id })).await;
        assert_eq!(data["thread"]["replyCount"], 21);
        let newest = &data["thread"]["replies"]["nodes"][0]["createdAt"];
        assert_eq!(&data["thread"]["lastActivityAt"], newest);
        assert!(times.iter().any(|t| json!(t) == *newest));
        fixtures::assert_counters_exact(db).await;
    }
}

backend_test! {
    async fn no_reply_gets_in_after_a_lock_commits(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        fixtures::user(db, "mod", Role::Moderator).await;
        let users = fixtures::users(db, "racer", 8).await;
        let category = fixtures::category(db, "race").await;
        let (thread, _) = fixtures::thread(db, &category, &[&users[0]], "race", 1).await;
        let thread_id = NodeId::Thread(thread.id).encode().0;
        let locked_at = std::sync::Mutex::new(None::<Instant>);
        let racers = users.iter().map(|user| {
            let (app, thread_id, locked_at) = (&app, &thread_id, &locked_at);
            async move {
                // Keep replying until two attempts sent after the lock have been answered.
                let mut results = Vec::new();
                let mut after_lock = 0;
                while after_lock < 2 && results.len() < 500 {
                    let sent = Instant::now();
                    let body = run(app, Some(&user.id), writes::ADD_REPLY, json!({ "threadId": thread_id, "body": "racing" })).await;
                    let ok = codes(&body).is_empty();
                    if !ok {
                        assert_eq!(codes(&body), ["FORBIDDEN"], "{body:#}");
                    }
                    if locked_at.lock().unwrap().is_some_and(|at| sent > at) {
                        after_lock += 1;
                    }
                    results.push((sent, ok));
                }
                results
            }
        });
        let lock = async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let body = run(&app, Some("mod"), writes::LOCK, json!({ "threadId": thread_id })).await;
            assert!(codes(&body).is_empty(), "{body:#}");
            *locked_at.lock().unwrap() = Some(Instant::now());
        };
        let (results, ()) = tokio::join!(join_all(racers), lock);
        let locked_at = locked_at.lock().unwrap().expect("the lock ran");
        let results: Vec<(Instant, bool)> = results.into_iter().flatten().collect();
        let accepted = results.iter().filter(|(_, ok)| *ok).count();
        let late_accepted = results.iter().filter(|(sent, ok)| *ok && *sent > locked_at).count();
        assert_eq!(late_accepted, 0, "a reply sent after the lock committed got in");
        assert!(results.iter().any(|(sent, _)| *sent > locked_at), "some replies raced the lock");
        let data = app.data("query($id: ID!) { thread(id: $id) { replyCount status } }", json!({ "id": thread_id })).await;
        assert_eq!(data["thread"], json!({ "replyCount": 1 + accepted, "status": "LOCKED" }));
        fixtures::assert_counters_exact(db).await;
    }
}
