//! No N+1: the statements a page runs do not depend on its length.

use entity::user;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
use serde_json::{Value, json};

use crate::{
    fixtures,
    helpers::{Backend, TestApp},
};

const FRONT_PAGE: &str = "query($n: Int!) {
  categories(first: $n) {
    nodes { slug name threadCount
      threads(first: 5) { nodes { id title replyCount lastActivityAt isPinned
        author { displayName imageUrl } } } }
  }
}";

const CATEGORY_PAGE: &str = "query($slug: String!, $n: Int!) {
  category(slug: $slug) { name threadCount
    threads(first: $n) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id title status isPinned replyCount lastActivityAt
        author { displayName role } } }
    }
  }
}";

const THREAD_PAGE: &str = "query($id: ID!, $n: Int!) {
  thread(id: $id) { title status replyCount
    category { slug name }
    author { displayName }
    replies(first: $n) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id body createdAt isDeleted score upvotes downvotes viewerVote
        author { displayName imageUrl } }
    }
  }
}";

backend_test! {
    async fn front_page_is_one_statement_at_any_size(backend) {
        let app = TestApp::spawn(backend).await;
        let authors = fixtures::users(&app.db, "author", 20).await;
        for i in 0..100 {
            let category = fixtures::category(&app.db, &format!("cat-{i:03}")).await;
            fixtures::bulk_threads(&app.db, &category, &authors[i % 20..], 6).await;
        }
        for n in [1, 100] {
            let (data, statements) = app.counted(FRONT_PAGE, json!({ "n": n })).await;
            let categories = data["categories"]["nodes"].as_array().unwrap();
            assert_eq!(categories.len(), n);
            for c in categories {
                let threads = c["threads"]["nodes"].as_array().unwrap();
                assert_eq!(threads.len(), 5);
                assert!(threads.iter().all(|t| t["author"]["displayName"].is_string()));
            }
            // The categories, their threads and the threads' authors: one statement on
            // Postgres; on SQLite (no LATERAL join) the categories, then the rest.
            let expected = if backend == Backend::Postgres { 1 } else { 2 };
            assert_eq!(statements, expected, "front page with {n} categories");
        }
    }
}

backend_test! {
    async fn category_page_is_one_statement_at_any_size(backend) {
        let app = TestApp::spawn(backend).await;
        let authors = fixtures::users(&app.db, "author", 100).await;
        let category = fixtures::category(&app.db, "busy").await;
        fixtures::bulk_threads(&app.db, &category, &authors, 120).await;
        for n in [1, 25, 100] {
            let (data, statements) =
                app.counted(CATEGORY_PAGE, json!({ "slug": "busy", "n": n })).await;
            let threads = &data["category"]["threads"];
            assert_eq!(threads["edges"].as_array().unwrap().len(), n);
            assert_eq!(threads["totalCount"], 120);
            // the category with its page of threads joined to their authors (counts are
            // columns).
            assert_eq!(statements, 1, "category page of {n} threads");
        }
    }
}

backend_test! {
    async fn thread_page_is_three_statements_at_any_size(backend) {
        let app = TestApp::spawn(backend).await;
        let authors = fixtures::users(&app.db, "author", 50).await;
        let refs: Vec<_> = authors.iter().collect();
        let category = fixtures::category(&app.db, "talk").await;
        let (thread, replies) = fixtures::thread(&app.db, &category, &refs, "long", 120).await;
        for (i, reply) in replies.iter().take(30).enumerate() {
            fixtures::vote(&app.db, reply, &authors[(i + 1) % 50], if i % 3 == 0 { -1 } else { 1 }).await;
        }
        let id = crate::read::thread_id(&thread);
        for n in [1, 50, 100] {
            let (data, statements) = app.counted(THREAD_PAGE, json!({ "id": id, "n": n })).await;
            let replies = &data["thread"]["replies"];
            assert_eq!(replies["nodes"].as_array().unwrap().len(), n);
            assert_eq!(replies["totalCount"], 120);
            // the thread with its page of replies joined to their authors (tallies are
            // columns of the reply rows); then (one level) its category and its author.
            assert_eq!(statements, 3, "thread page of {n} replies");
        }
    }
}

backend_test! {
    async fn a_vote_reads_nothing_it_already_knows(backend) {
        let app = TestApp::spawn(backend).await;
        let authors = fixtures::users(&app.db, "author", 2).await;
        let category = fixtures::category(&app.db, "talk").await;
        let (_, replies) = fixtures::thread(&app.db, &category, &[&authors[0]], "t", 1).await;
        let id = json!(api::graphql::NodeId::Reply(replies[0].id).encode().0);
        let voter = authors[1].id.as_str();
        // the viewer; the reply, locked; then on Postgres one statement that reads the old
        // vote, writes the new one and moves the tallies; on SQLite the old vote, then
        // unless it is the same vote, the vote written and the tallies moved. The
        // viewer's vote in the answer is the one just cast, not read again.
        let [new, same] = if backend == Backend::Postgres { [3, 3] } else { [5, 3] };
        for (value, expected) in [("UP", new), ("UP", same), ("DOWN", new)] {
            let before = app.statements();
            let data = crate::writes::ok(&app, voter, crate::writes::CAST_VOTE, json!({ "replyId": id, "value": value })).await;
            assert_eq!(data["castVote"]["reply"]["viewerVote"], value);
            assert_eq!(app.statements() - before, expected, "{value}");
        }
    }
}

backend_test! {
    async fn authors_come_with_their_page_as_far_as_they_are_asked(backend) {
        let app = TestApp::spawn(backend).await;
        let ann = fixtures::user(&app.db, "ann", user::Role::Moderator).await;
        let gone = fixtures::user(&app.db, "gone", user::Role::Member).await;
        let category = fixtures::category(&app.db, "talk").await;
        let (thread, _) = fixtures::thread(&app.db, &category, &[&ann, &gone], "t", 3).await;
        let mut tomb = gone.into_active_model();
        tomb.deleted_at = Set(Some(chrono::Utc::now()));
        tomb.update(&app.db).await.unwrap();
        let id = crate::read::thread_id(&thread);
        let page = |author: &str| {
            let fragment = if author.contains("...More") { "fragment More on User { role createdAt email }" } else { "" };
            format!("query($id: ID!) {{ thread(id: $id) {{ replies(first: 10) {{ nodes {{ author {author} }} }} }} }} {fragment}")
        };
        let card = "{ clerkId displayName firstName lastName imageUrl __typename }";
        let byline = json!({
            "clerkId": "ann", "displayName": "First ann Last", "firstName": "First ann",
            "lastName": "Last", "imageUrl": "https://img.example/ann.png", "__typename": "User",
        });
        // Only a byline's fields; then more of the row, asked for plainly and through a
        // fragment: the same statement (the thread with its page joined to the authors),
        // the same byline, and the other fields right.
        let more = ["{ clerkId displayName firstName lastName imageUrl __typename role createdAt email }",
                    "{ clerkId displayName firstName lastName imageUrl __typename ...More }"];
        for author in [card, more[0], more[1]] {
            let (data, statements) = app.counted(&page(author), json!({ "id": id })).await;
            assert_eq!(statements, 1, "{author}");
            let nodes = data["thread"]["replies"]["nodes"].as_array().unwrap().clone();
            let authors: Vec<&Value> = nodes.iter().map(|n| &n["author"]).collect();
            assert_eq!(authors[1], &Value::Null, "a deleted account shows as a ghost: {author}");
            for a in [authors[0], authors[2]] {
                let shown: serde_json::Map<String, Value> = byline.as_object().unwrap().keys()
                    .map(|k| (k.clone(), a[k].clone())).collect();
                assert_eq!(Value::Object(shown), byline, "{author}");
                if author != card {
                    assert_eq!(a["role"], "MODERATOR");
                    let created = chrono::DateTime::parse_from_rfc3339(a["createdAt"].as_str().unwrap()).unwrap();
                    assert_eq!(created, ann.created_at);
                    assert_eq!(a["email"], Value::Null, "emails are not shown to others");
                } else {
                    assert_eq!(a.as_object().unwrap().len(), 6);
                }
            }
        }
    }
}

backend_test! {
    /// Past a thousand parents at one level (async-graphql's default batch), Postgres
    /// still loads the level in one statement; SQLite takes one per 500 parents.
    async fn a_wide_level_is_one_statement_on_postgres(backend) {
        let app = TestApp::spawn(backend).await;
        let authors = fixtures::users(&app.db, "author", 10).await;
        for i in 0..11 {
            let category = fixtures::category(&app.db, &format!("wide-{i:02}")).await;
            fixtures::bulk_threads(&app.db, &category, &authors, 100).await;
        }
        let query = "query($n: Int!) { categories(first: $n) { nodes { threads(first: 100) { nodes { replies(first: 1) { nodes { body } } } } } } }";
        let mut counts = Vec::new();
        for n in [1, 11] {
            let (data, statements) = app.counted(query, json!({ "n": n })).await;
            let threads: Vec<&Value> = data["categories"]["nodes"].as_array().unwrap().iter()
                .flat_map(|c| c["threads"]["nodes"].as_array().unwrap()).collect();
            assert_eq!(threads.len(), n * 100);
            assert!(threads.iter().all(|t| t["replies"]["nodes"][0]["body"].is_string()));
            counts.push(statements);
        }
        if backend == Backend::Postgres {
            assert_eq!(counts[0], counts[1], "1 category, then 11 (1,100 threads): {counts:?}");
        } else {
            assert_eq!(counts[1], counts[0] + 2, "1,100 threads in 500s: {counts:?}");
        }
    }
}
