//! The write side: a full walk through the mutations, the validation table, and the
//! statements each mutation runs.

use api::graphql::NodeId;
use entity::user::Role;
use serde_json::{Value, json};

use crate::{
    fixtures,
    helpers::{Backend, TestApp, error, token},
};

/// Runs a mutation as `user` (or anonymously) and returns the whole response.
pub async fn run(app: &TestApp, user: Option<&str>, query: &str, input: Value) -> Value {
    let token = user.map(token);
    app.graphql_as(token.as_deref(), query, json!({ "input": input }))
        .await
}

/// Runs a mutation that must succeed; returns its data.
pub async fn ok(app: &TestApp, user: &str, query: &str, input: Value) -> Value {
    let body = run(app, Some(user), query, input).await;
    assert!(body.get("errors").is_none(), "{query}: {body:#}");
    body["data"].clone()
}

pub const CREATE_CATEGORY: &str = "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { category { id slug name threadCount } } }";
pub const CREATE_THREAD: &str = "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id title status replyCount lastActivityAt author { clerkId } replies(first: 5) { nodes { id body } } } } }";
pub const ADD_REPLY: &str = "mutation($input: AddReplyInput!) { addReply(input: $input) { reply { id body createdAt author { clerkId } thread { replyCount lastActivityAt } } } }";
pub const EDIT_REPLY: &str =
    "mutation($input: EditReplyInput!) { editReply(input: $input) { reply { id body editedAt } } }";
pub const DELETE_REPLY: &str = "mutation($input: DeleteReplyInput!) { deleteReply(input: $input) { reply { id body isDeleted score } } }";
pub const EDIT_THREAD: &str = "mutation($input: EditThreadInput!) { editThread(input: $input) { thread { id title editedAt } } }";
pub const DELETE_THREAD: &str =
    "mutation($input: DeleteThreadInput!) { deleteThread(input: $input) { deletedThreadId } }";
pub const CAST_VOTE: &str = "mutation($input: CastVoteInput!) { castVote(input: $input) { reply { id score upvotes downvotes viewerVote } } }";
pub const RETRACT_VOTE: &str = "mutation($input: RetractVoteInput!) { retractVote(input: $input) { reply { id score upvotes downvotes viewerVote } } }";
pub const LOCK: &str =
    "mutation($input: LockThreadInput!) { lockThread(input: $input) { thread { id status } } }";
pub const UNLOCK: &str =
    "mutation($input: UnlockThreadInput!) { unlockThread(input: $input) { thread { id status } } }";
pub const PIN: &str =
    "mutation($input: PinThreadInput!) { pinThread(input: $input) { thread { id isPinned } } }";
pub const UNPIN: &str =
    "mutation($input: UnpinThreadInput!) { unpinThread(input: $input) { thread { id isPinned } } }";

backend_test! {
    async fn a_thread_from_start_to_finish(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        fixtures::user(db, "admin", Role::Admin).await;
        fixtures::user(db, "mod", Role::Moderator).await;
        fixtures::user(db, "ann", Role::Member).await;
        fixtures::user(db, "bob", Role::Member).await;

        let category = ok(&app, "admin", CREATE_CATEGORY, json!({ "slug": "rust-lang", "name": "  Rust  " })).await;
        let category = &category["createCategory"]["category"];
        assert_eq!((category["slug"].clone(), category["name"].clone()), (json!("rust-lang"), json!("Rust")));

        let created = ok(&app, "ann", CREATE_THREAD, json!({ "categoryId": category["id"], "title": " Borrowing ", "body": "How does it work?" })).await;
        let thread = &created["createThread"]["thread"];
        assert_eq!(thread["title"], "Borrowing");
        assert_eq!(thread["replyCount"], 1);
        assert_eq!(thread["replies"]["nodes"][0]["body"], "How does it work?");
        let thread_id = thread["id"].clone();
        let opening = thread["replies"]["nodes"][0]["id"].clone();

        let reply = ok(&app, "bob", ADD_REPLY, json!({ "threadId": thread_id, "body": "Like lending a book." })).await;
        let reply = &reply["addReply"]["reply"];
        assert_eq!(reply["thread"]["replyCount"], 2);
        assert_eq!(reply["thread"]["lastActivityAt"], reply["createdAt"]);
        let bobs = reply["id"].clone();

        let edited = ok(&app, "bob", EDIT_REPLY, json!({ "replyId": bobs, "body": "Like lending a book you get back." })).await;
        assert!(edited["editReply"]["reply"]["editedAt"].is_string());
        // Saved unchanged (trailing space aside), it is no new edit.
        let same = ok(&app, "bob", EDIT_REPLY, json!({ "replyId": bobs, "body": "Like lending a book you get back.\n" })).await;
        assert_eq!(same["editReply"]["reply"], edited["editReply"]["reply"]);
        // A body keeps its first line's indentation (a code block), not its blank lines.
        let code = ok(&app, "bob", EDIT_REPLY, json!({ "replyId": bobs, "body": "\n    let x = 1;\n  x + 1\n" })).await;
        assert_eq!(code["editReply"]["reply"]["body"], "    let x = 1;\n  x + 1");

        let up = ok(&app, "ann", CAST_VOTE, json!({ "replyId": bobs, "value": "UP" })).await;
        assert_eq!(up["castVote"]["reply"], json!({ "id": bobs, "score": 1, "upvotes": 1, "downvotes": 0, "viewerVote": "UP" }));
        let again = ok(&app, "ann", CAST_VOTE, json!({ "replyId": bobs, "value": "UP" })).await;
        assert_eq!(again["castVote"]["reply"]["score"], 1, "the same vote twice counts once");
        let down = ok(&app, "mod", CAST_VOTE, json!({ "replyId": bobs, "value": "DOWN" })).await;
        assert_eq!(down["castVote"]["reply"], json!({ "id": bobs, "score": 0, "upvotes": 1, "downvotes": 1, "viewerVote": "DOWN" }));
        let flip = ok(&app, "ann", CAST_VOTE, json!({ "replyId": bobs, "value": "DOWN" })).await;
        assert_eq!(flip["castVote"]["reply"], json!({ "id": bobs, "score": -2, "upvotes": 0, "downvotes": 2, "viewerVote": "DOWN" }));
        let back = ok(&app, "mod", RETRACT_VOTE, json!({ "replyId": bobs })).await;
        assert_eq!(back["retractVote"]["reply"], json!({ "id": bobs, "score": -1, "upvotes": 0, "downvotes": 1, "viewerVote": null }));
        fixtures::assert_counters_exact(db).await;

        let deleted = ok(&app, "bob", DELETE_REPLY, json!({ "replyId": bobs })).await;
        assert_eq!(deleted["deleteReply"]["reply"], json!({ "id": bobs, "body": null, "isDeleted": true, "score": -1 }));
        // A retried delete gets the same answer and changes nothing; someone else's is refused.
        let deleted_at = fixtures::reply_deleted_at(db, &bobs).await;
        assert!(deleted_at.is_some());
        let again = ok(&app, "bob", DELETE_REPLY, json!({ "replyId": bobs })).await;
        assert_eq!(again, deleted);
        assert_eq!(fixtures::reply_deleted_at(db, &bobs).await, deleted_at);
        let refused = run(&app, Some("ann"), DELETE_REPLY, json!({ "replyId": bobs })).await;
        assert_eq!(error(&refused).0, "FORBIDDEN");
        let can = app.graphql_as(Some(&token("bob")), "query($r: ID!) { node(id: $r) { ... on Reply { viewerCanDelete viewerCanEdit } } }", json!({ "r": bobs })).await;
        assert_eq!(can["data"]["node"], json!({ "viewerCanDelete": false, "viewerCanEdit": false }), "nothing is left to delete");

        let retitled = ok(&app, "mod", EDIT_THREAD, json!({ "threadId": thread_id, "title": "Borrowing, explained" })).await;
        assert_eq!(retitled["editThread"]["thread"]["title"], "Borrowing, explained");
        let same = ok(&app, "mod", EDIT_THREAD, json!({ "threadId": thread_id, "title": " Borrowing, explained " })).await;
        assert_eq!(same["editThread"]["thread"], retitled["editThread"]["thread"]);

        let locked = ok(&app, "mod", LOCK, json!({ "threadId": thread_id })).await;
        assert_eq!(locked["lockThread"]["thread"]["status"], "LOCKED");
        let refused = run(&app, Some("ann"), ADD_REPLY, json!({ "threadId": thread_id, "body": "one more" })).await;
        assert_eq!(error(&refused).0, "FORBIDDEN");
        assert!(refused["errors"][0]["message"].as_str().unwrap().contains("locked"));
        ok(&app, "admin", UNLOCK, json!({ "threadId": thread_id })).await;
        ok(&app, "ann", ADD_REPLY, json!({ "threadId": thread_id, "body": "one more" })).await;
        let pinned = ok(&app, "mod", PIN, json!({ "threadId": thread_id })).await;
        assert_eq!(pinned["pinThread"]["thread"]["isPinned"], true);
        ok(&app, "mod", UNPIN, json!({ "threadId": thread_id })).await;
        fixtures::assert_counters_exact(db).await;

        // Others replied: the author may no longer delete; a moderator may.
        let refused = run(&app, Some("ann"), DELETE_THREAD, json!({ "threadId": thread_id })).await;
        assert_eq!(error(&refused).0, "FORBIDDEN");
        let gone = ok(&app, "mod", DELETE_THREAD, json!({ "threadId": thread_id })).await;
        assert_eq!(gone["deleteThread"]["deletedThreadId"], thread_id);
        let data = app.data("query($id: ID!, $r: ID!) { thread(id: $id) { id } node(id: $r) { id } categories { nodes { threadCount } } }", json!({ "id": thread_id, "r": opening })).await;
        assert_eq!(data, json!({ "thread": null, "node": null, "categories": { "nodes": [{ "threadCount": 0 }] } }));
        fixtures::assert_counters_exact(db).await;
    }
}

backend_test! {
    async fn bad_input_is_refused_and_nothing_is_written(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        fixtures::user(db, "admin", Role::Admin).await;
        let ann = fixtures::user(db, "ann", Role::Member).await;
        let category = fixtures::category(db, "taken").await;
        let (thread, posts) = fixtures::thread(db, &category, &[&ann], "t", 1).await;
        let category_id = NodeId::Category(category.id).encode().0;
        let thread_id = NodeId::Thread(thread.id).encode().0;
        let reply_id = NodeId::Reply(posts[0].id).encode().0;
        let missing_thread = NodeId::Thread(uuid::Uuid::now_v7()).encode().0;
        let missing_category = NodeId::Category(uuid::Uuid::now_v7()).encode().0;
        let long_body = "x".repeat(20_001);
        let long_title = "t".repeat(201);

        let cases: Vec<(&str, &str, Value, &str, Option<&str>)> = vec![
            ("admin", CREATE_CATEGORY, json!({ "slug": "Bad Slug", "name": "n" }), "BAD_USER_INPUT", Some("slug")),
            ("admin", CREATE_CATEGORY, json!({ "slug": "a", "name": "n" }), "BAD_USER_INPUT", Some("slug")),
            ("admin", CREATE_CATEGORY, json!({ "slug": "ok-slug", "name": "   " }), "BAD_USER_INPUT", Some("name")),
            ("admin", CREATE_CATEGORY, json!({ "slug": "ok-slug", "name": "n".repeat(81) }), "BAD_USER_INPUT", Some("name")),
            ("admin", CREATE_CATEGORY, json!({ "slug": "taken", "name": "Again" }), "CONFLICT", Some("slug")),
            ("ann", CREATE_THREAD, json!({ "categoryId": "nope", "title": "Title", "body": "b" }), "BAD_USER_INPUT", Some("categoryId")),
            ("ann", CREATE_THREAD, json!({ "categoryId": thread_id, "title": "Title", "body": "b" }), "BAD_USER_INPUT", Some("categoryId")),
            ("ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "  ab  ", "body": "b" }), "BAD_USER_INPUT", Some("title")),
            ("ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": long_title, "body": "b" }), "BAD_USER_INPUT", Some("title")),
            ("ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "Title", "body": " \n\t " }), "BAD_USER_INPUT", Some("body")),
            ("ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "Title", "body": long_body }), "BAD_USER_INPUT", Some("body")),
            ("ann", CREATE_THREAD, json!({ "categoryId": missing_category, "title": "Title", "body": "b" }), "NOT_FOUND", None),
            ("ann", ADD_REPLY, json!({ "threadId": reply_id, "body": "b" }), "BAD_USER_INPUT", Some("threadId")),
            ("ann", ADD_REPLY, json!({ "threadId": thread_id, "body": "" }), "BAD_USER_INPUT", Some("body")),
            ("ann", ADD_REPLY, json!({ "threadId": missing_thread, "body": "b" }), "NOT_FOUND", None),
            ("ann", EDIT_REPLY, json!({ "replyId": thread_id, "body": "b" }), "BAD_USER_INPUT", Some("replyId")),
            ("ann", EDIT_REPLY, json!({ "replyId": reply_id, "body": long_body }), "BAD_USER_INPUT", Some("body")),
            ("ann", EDIT_THREAD, json!({ "threadId": thread_id, "title": "x" }), "BAD_USER_INPUT", Some("title")),
            ("admin", CAST_VOTE, json!({ "replyId": reply_id, "value": "SIDEWAYS" }), "BAD_USER_INPUT", Some("value")),
            ("admin", CAST_VOTE, json!({ "replyId": "", "value": "UP" }), "BAD_USER_INPUT", Some("replyId")),
            ("admin", LOCK, json!({ "threadId": missing_thread }), "NOT_FOUND", None),
            ("admin", CREATE_CATEGORY, json!({ "slug": "fine" }), "BAD_USER_INPUT", Some("name")),
            // NUL: Postgres cannot store it (an internal error there, stored on SQLite).
            ("admin", CREATE_CATEGORY, json!({ "slug": "nul", "name": "a\u{0}b" }), "BAD_USER_INPUT", Some("name")),
            ("ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "Title\u{0}", "body": "b" }), "BAD_USER_INPUT", Some("title")),
            ("ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "Title", "body": "\u{0}b" }), "BAD_USER_INPUT", Some("body")),
            ("ann", ADD_REPLY, json!({ "threadId": thread_id, "body": "hi\u{0}" }), "BAD_USER_INPUT", Some("body")),
            ("ann", EDIT_REPLY, json!({ "replyId": reply_id, "body": "hi\u{0}" }), "BAD_USER_INPUT", Some("body")),
            ("ann", EDIT_THREAD, json!({ "threadId": thread_id, "title": "Title\u{0}" }), "BAD_USER_INPUT", Some("title")),
            // Other control characters: none in a line, only line breaks and tabs in a body.
            ("admin", CREATE_CATEGORY, json!({ "slug": "esc", "name": "red\u{1b}[31m" }), "BAD_USER_INPUT", Some("name")),
            ("ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "\u{7}\u{7}\u{7}", "body": "b" }), "BAD_USER_INPUT", Some("title")),
            ("ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "two\nlines", "body": "b" }), "BAD_USER_INPUT", Some("title")),
            ("ann", EDIT_REPLY, json!({ "replyId": reply_id, "body": "bell\u{7}" }), "BAD_USER_INPUT", Some("body")),
            // Characters that take no room are not content.
            ("ann", ADD_REPLY, json!({ "threadId": thread_id, "body": "\u{200b}\u{200b}" }), "BAD_USER_INPUT", Some("body")),
            ("ann", EDIT_THREAD, json!({ "threadId": thread_id, "title": "ab\u{200b}" }), "BAD_USER_INPUT", Some("title")),
        ];
        let before = counts(&app).await;
        for (user, query, input, code, field) in cases {
            let body = run(&app, Some(user), query, input.clone()).await;
            let (got_code, got_field) = error(&body);
            assert_eq!((got_code.as_str(), got_field.as_deref()), (code, field), "{query} {input}: {body:#}");
        }
        assert_eq!(counts(&app).await, before, "nothing was written");
        // At the limits, the same inputs are accepted.
        ok(&app, "ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "  abc ", "body": "x".repeat(20_000) })).await;
        let kept = ok(&app, "ann", ADD_REPLY, json!({ "threadId": thread_id, "body": "\tone\r\n\ttwo\n" })).await;
        // Trailing space goes; the first line's indentation stays (a body may open with code).
        assert_eq!(kept["addReply"]["reply"]["body"], "\tone\r\n\ttwo");
        // The longest body, written into the query text as GraphiQL users do: four bytes a
        // character, it must fit the query size limit.
        let inline = format!(
            "mutation {{ addReply(input: {{ threadId: \"{thread_id}\", body: \"{}\" }}) {{ reply {{ id }} }} }}",
            "\u{1F600}".repeat(20_000)
        );
        let body = run(&app, Some("ann"), &inline, json!({})).await;
        let start: String = body.to_string().chars().take(300).collect();
        assert!(body.get("errors").is_none(), "{start}");
    }
}

/// Rows per table, to prove nothing was written.
async fn counts(app: &TestApp) -> Vec<u64> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    vec![
        entity::category::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        entity::thread::Entity::find().count(&app.db).await.unwrap(),
        entity::reply::Entity::find().count(&app.db).await.unwrap(),
        entity::vote::Entity::find().count(&app.db).await.unwrap(),
    ]
}

backend_test! {
    async fn statements_per_mutation(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        fixtures::user(db, "admin", Role::Admin).await;
        fixtures::user(db, "ann", Role::Member).await;
        // Payloads ask for ids only, so the counts are the mutations' own, plus one
        // statement at the edge to look up the signed-in user. Each mutation is also one
        // transaction, whose BEGIN and COMMIT the driver's statement hook does not see.
        let mut measured = Vec::new();
        let mut measure = async |name: &'static str, user: &str, query: &str, input: Value| -> Value {
            let before = app.statements();
            let data = ok(&app, user, query, input).await;
            measured.push((name, app.statements() - before));
            data
        };
        let c = measure("createCategory", "admin", "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { category { id } } }", json!({ "slug": "stmts", "name": "n" })).await;
        let category_id = c["createCategory"]["category"]["id"].clone();
        let t = measure("createThread", "ann", "mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }", json!({ "categoryId": category_id, "title": "Title", "body": "b" })).await;
        let thread_id = t["createThread"]["thread"]["id"].clone();
        let r = measure("addReply", "admin", "mutation($input: AddReplyInput!) { addReply(input: $input) { reply { id } } }", json!({ "threadId": thread_id, "body": "b" })).await;
        let reply_id = r["addReply"]["reply"]["id"].clone();
        measure("editReply", "admin", "mutation($input: EditReplyInput!) { editReply(input: $input) { reply { id } } }", json!({ "replyId": reply_id, "body": "c" })).await;
        measure("castVote (new)", "ann", "mutation($input: CastVoteInput!) { castVote(input: $input) { reply { id score } } }", json!({ "replyId": reply_id, "value": "UP" })).await;
        measure("castVote (flip)", "ann", "mutation($input: CastVoteInput!) { castVote(input: $input) { reply { id score } } }", json!({ "replyId": reply_id, "value": "DOWN" })).await;
        measure("castVote (same)", "ann", "mutation($input: CastVoteInput!) { castVote(input: $input) { reply { id score } } }", json!({ "replyId": reply_id, "value": "DOWN" })).await;
        measure("retractVote", "ann", "mutation($input: RetractVoteInput!) { retractVote(input: $input) { reply { id score } } }", json!({ "replyId": reply_id })).await;
        measure("deleteReply", "admin", "mutation($input: DeleteReplyInput!) { deleteReply(input: $input) { reply { id } } }", json!({ "replyId": reply_id })).await;
        measure("editThread", "ann", "mutation($input: EditThreadInput!) { editThread(input: $input) { thread { id } } }", json!({ "threadId": thread_id, "title": "New title" })).await;
        measure("lockThread", "admin", "mutation($input: LockThreadInput!) { lockThread(input: $input) { thread { id } } }", json!({ "threadId": thread_id })).await;
        measure("pinThread", "admin", "mutation($input: PinThreadInput!) { pinThread(input: $input) { thread { id } } }", json!({ "threadId": thread_id })).await;
        measure("deleteThread", "admin", "mutation($input: DeleteThreadInput!) { deleteThread(input: $input) { deletedThreadId } }", json!({ "threadId": thread_id })).await;
        eprintln!("statements per mutation ({backend:?}): {measured:?}");
        // A vote is one statement after the reply's lock on Postgres (`service::vote`).
        let [vote, same_vote] = if backend == Backend::Postgres { [3, 3] } else { [5, 3] };
        let expected = [
            ("createCategory", 2),
            // The category's newest thread is read after its lock, to date the new one.
            ("createThread", 5),
            ("addReply", 4),
            ("editReply", 3),
            ("castVote (new)", vote),
            ("castVote (flip)", vote),
            ("castVote (same)", same_vote),
            ("retractVote", vote),
            ("deleteReply", 3),
            ("editThread", 3),
            ("lockThread", 3),
            ("pinThread", 3),
            ("deleteThread", 4),
        ];
        assert_eq!(measured, expected);
    }
}

backend_test! {
    /// A reply comes after the thread's latest, in time and in order, even when the clock
    /// that wrote that one was ahead of this one (another instance's, or before a step
    /// back): a reader paging on from the last reply it saw must not miss the new one.
    async fn a_reply_follows_the_latest_whatever_the_clock(backend) {
        use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
        let app = TestApp::spawn(backend).await;
        let ann = fixtures::user(&app.db, "ann", Role::Member).await;
        let category = fixtures::category(&app.db, "general").await;
        let (thread, replies) = fixtures::thread(&app.db, &category, &[&ann], "t", 2).await;
        // The latest reply was written an hour ahead of this clock.
        let ahead = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        let ahead = clock_micros(ahead);
        let mut latest = replies[1].clone().into_active_model();
        latest.created_at = Set(ahead);
        latest.update(&app.db).await.unwrap();
        let mut active = thread.clone().into_active_model();
        active.last_activity_at = Set(ahead);
        active.update(&app.db).await.unwrap();
        let id = crate::read::thread_id(&thread);
        let page = "query($id: ID!, $after: String) { thread(id: $id) { lastActivityAt \
            replies(first: 10, after: $after) { nodes { body createdAt } pageInfo { endCursor } } } }";
        let seen = app.data(page, json!({ "id": id })).await;
        let cursor = seen["thread"]["replies"]["pageInfo"]["endCursor"].clone();
        assert_eq!(seen["thread"]["replies"]["nodes"].as_array().map(Vec::len), Some(2));
        let added = ok(&app, "ann", ADD_REPLY, json!({ "threadId": id, "body": "later" })).await;
        let at = added["addReply"]["reply"]["createdAt"].as_str().unwrap().to_owned();
        let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
        assert!(parse(&at) > ahead, "{at} is not after {ahead}");
        let next = app.data(page, json!({ "id": id, "after": cursor })).await;
        assert_eq!(
            next["thread"]["replies"]["nodes"],
            json!([{ "body": "later", "createdAt": at }]),
            "{next}"
        );
        assert_eq!(next["thread"]["lastActivityAt"], json!(at));
        // An edit of the reply written ahead is not dated before it.
        let reply = NodeId::Reply(replies[1].id).encode().0;
        let edited = ok(&app, "ann", EDIT_REPLY, json!({ "replyId": reply, "body": "edited" })).await;
        let edited_at = edited["editReply"]["reply"]["editedAt"].as_str().unwrap();
        assert!(parse(edited_at) >= ahead, "{edited_at} is before {ahead}");
        // Nor is a second edit dated before the first, made by a clock further ahead.
        let further = ahead + chrono::TimeDelta::hours(1);
        let mut stamped = replies[1].clone().into_active_model();
        stamped.edited_at = Set(Some(further));
        stamped.update(&app.db).await.unwrap();
        let again = ok(&app, "ann", EDIT_REPLY, json!({ "replyId": reply, "body": "again" })).await;
        let again_at = again["editReply"]["reply"]["editedAt"].as_str().unwrap();
        assert!(parse(again_at) >= further, "{again_at} is before {further}");
        fixtures::assert_counters_exact(&app.db).await;
    }
}

backend_test! {
    /// A thread comes after its category's newest, as a reply after its thread's latest,
    /// whatever the clock that wrote that one: paging on through the oldest first, a
    /// reader meets the new one.
    async fn a_thread_follows_the_category_s_newest_whatever_the_clock(backend) {
        use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
        let app = TestApp::spawn(backend).await;
        let ann = fixtures::user(&app.db, "ann", Role::Member).await;
        let category = fixtures::category(&app.db, "general").await;
        let (thread, _) = fixtures::thread(&app.db, &category, &[&ann], "ahead", 1).await;
        let ahead = clock_micros(chrono::Utc::now() + chrono::TimeDelta::hours(1));
        let mut active = thread.into_active_model();
        active.created_at = Set(ahead);
        active.update(&app.db).await.unwrap();
        let page = "query($after: String) { category(slug: \"general\") { \
            threads(first: 10, orderBy: OLDEST, after: $after) { nodes { title } pageInfo { endCursor } } } }";
        let seen = app.data(page, json!({})).await;
        assert_eq!(seen["category"]["threads"]["nodes"], json!([{ "title": "ahead" }]));
        let cursor = seen["category"]["threads"]["pageInfo"]["endCursor"].clone();
        let category_id = NodeId::Category(category.id).encode().0;
        ok(&app, "ann", CREATE_THREAD, json!({ "categoryId": category_id, "title": "later", "body": "b" })).await;
        let next = app.data(page, json!({ "after": cursor })).await;
        assert_eq!(next["category"]["threads"]["nodes"], json!([{ "title": "later" }]), "{next}");
    }
}

/// `t` as the service keeps times: in whole microseconds.
fn clock_micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap()
}

backend_test! {
    /// A deleted reply keeps its votes, and takes no new ones; a voter may still take
    /// theirs back.
    async fn a_vote_on_a_reply_deleted_since_can_be_taken_back(backend) {
        let app = TestApp::spawn(backend).await;
        let ann = fixtures::user(&app.db, "ann", Role::Member).await;
        let bob = fixtures::user(&app.db, "bob", Role::Member).await;
        let category = fixtures::category(&app.db, "general").await;
        let (_, posts) = fixtures::thread(&app.db, &category, &[&ann, &bob], "t", 2).await;
        let bobs = NodeId::Reply(posts[1].id).encode().0;
        ok(&app, "ann", CAST_VOTE, json!({ "replyId": bobs, "value": "UP" })).await;
        ok(&app, "bob", DELETE_REPLY, json!({ "replyId": bobs })).await;
        let again = run(&app, Some("ann"), CAST_VOTE, json!({ "replyId": bobs, "value": "DOWN" })).await;
        assert_eq!(error(&again).0, "FORBIDDEN", "{again}");
        let back = ok(&app, "ann", RETRACT_VOTE, json!({ "replyId": bobs })).await;
        assert_eq!(
            back["retractVote"]["reply"],
            json!({ "id": bobs, "score": 0, "upvotes": 0, "downvotes": 0, "viewerVote": null })
        );
        let own = run(&app, Some("bob"), RETRACT_VOTE, json!({ "replyId": bobs })).await;
        assert_eq!(error(&own).0, "FORBIDDEN", "{own}");
        fixtures::assert_counters_exact(&app.db).await;
    }
}
