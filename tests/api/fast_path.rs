//! Categories, threads, replies, users and their connections are built without
//! async-graphql's per-field futures where their values are in memory, and through its
//! resolver field by field where they load (`api/src/graphql/fast.rs`). An inline
//! fragment in an object's selection sends it down async-graphql's own path
//! (`@include` would not: async-graphql strips it before execution): both must answer
//! the same values and the same errors.

use chrono::Utc;
use entity::{reply, thread, user::Role};
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use serde_json::{Value, json};

use crate::{
    fixtures,
    helpers::{TestApp, token},
    read::thread_id,
};

const USER: &str =
    "__typename id clerkId displayName firstName lastName imageUrl role createdAt email";
const THREAD: &str = "__typename id title status isPinned createdAt editedAt lastActivityAt replyCount author { USER } \
    viewerCanReply viewerCanModerate viewerCanEdit viewerCanDelete category { slug }";
const REPLY: &str = "__typename id body createdAt editedAt isDeleted score upvotes downvotes \
    viewerCanEdit viewerCanDelete viewerCanVote author { USER } thread { title }";
const CATEGORY: &str = "__typename id slug name createdAt threadCount";
const PAGE_INFO: &str = "__typename hasNextPage hasPreviousPage startCursor endCursor";

/// Every field of threads, replies, users, categories and their connections, in both
/// places where a page reads its authors with its rows, with fields that load beside
/// fields in memory, then pages whose rows are all in memory (a connection builds those
/// `nodes` in place); `slow` puts an inline fragment into every object.
fn queries(slow: bool) -> [String; 3] {
    let mark = |fields: &str, field: &str, ty: &str| {
        if slow {
            fields.replacen(field, &format!("... on {ty} {{ {field} }}"), 1)
        } else {
            fields.to_owned()
        }
    };
    let user = mark(USER, "clerkId", "User");
    let thread = mark(THREAD, "title", "Thread").replace("USER", &user);
    let reply = mark(REPLY, "score", "Reply").replace("USER", &user);
    let category = mark(CATEGORY, "slug", "Category");
    let page_info = mark(PAGE_INFO, "hasNextPage", "PageInfo");
    let connection = |ty: &str| mark("__typename totalCount", "totalCount", ty);
    let (categories, threads, replies, open) = (
        connection("CategoryConnection"),
        connection("ThreadConnection"),
        connection("ReplyConnection"),
        connection("ThreadConnection"),
    );
    [
        format!(
            "{{ categories(first: 5) {{ {categories} pageInfo {{ {page_info} }} edges {{ cursor node {{ slug }} }} \
             nodes {{ {category} threads(first: 5) {{ {threads} pageInfo {{ {page_info} }} nodes {{ {thread} }} }} \
             open: threads(first: 1, status: OPEN) {{ {open} }} }} }} }}"
        ),
        format!(
            "query($id: ID!) {{ thread(id: $id) {{ {thread} \
             replies(first: 10) {{ {replies} pageInfo {{ {page_info} }} nodes {{ {reply} }} }} }} }}"
        ),
        format!(
            "query($id: ID!) {{ categories(first: 5) {{ nodes {{ {category} }} }} \
             listed: categories(first: 5) {{ nodes {{ threads(first: 5) {{ nodes {{ {} }} }} }} }} \
             thread(id: $id) {{ replies(first: 10) {{ nodes {{ {} }} }} }} }}",
            thread.replace(" category { slug }", ""),
            reply.replace(" thread { title }", ""),
        ),
    ]
}

backend_test! {
    async fn the_direct_path_answers_as_async_graphql_does(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let alice = fixtures::user(db, "alice", Role::Member).await;
        let admin = fixtures::user(db, "boss", Role::Admin).await;
        let gone = fixtures::user(db, "gone", Role::Member).await;
        let mut tombstone = gone.clone().into_active_model();
        tombstone.deleted_at = Set(Some(Utc::now()));
        tombstone.update(db).await.unwrap();
        let general = fixtures::category(db, "general").await;
        let (opened, replies) =
            fixtures::thread(db, &general, &[&alice, &admin, &gone], "Hello there", 6).await;
        let (other, _) = fixtures::thread(db, &general, &[&gone], "Orphaned", 2).await;
        fixtures::pin(db, &other).await;
        fixtures::vote(db, &replies[0], &admin, 1).await;
        let mut edited: thread::ActiveModel = opened.clone().into();
        edited.edited_at = Set(Some(Utc::now()));
        edited.update(db).await.unwrap();
        let mut deleted: reply::ActiveModel = replies[1].clone().into();
        deleted.deleted_at = Set(Some(Utc::now()));
        deleted.update(db).await.unwrap();

        let variables = json!({ "id": thread_id(&opened) });
        for viewer in [None, Some(token("alice")), Some(token("boss"))] {
            let mut answers = Vec::new();
            for (fast, slow) in queries(false).iter().zip(queries(true).iter()) {
                let direct = text(&app, viewer.as_deref(), fast, &variables).await;
                let resolved = text(&app, viewer.as_deref(), slow, &variables).await;
                // Equal as values. Not byte for byte: async-graphql orders an object's keys
                // by when its fields finished, so two sibling fields that load (a thread's
                // `author` and `replies`) may swap; the direct path keeps selection order.
                let (direct, resolved): (Value, Value) = (
                    serde_json::from_str(&direct).unwrap(),
                    serde_json::from_str(&resolved).unwrap(),
                );
                assert_eq!(direct, resolved, "viewer {viewer:?}");
                assert!(direct.get("errors").is_none(), "{direct:#}");
                answers.push(direct);
            }
            assert_eq!(answers[0]["data"]["categories"]["nodes"][0]["threads"]["nodes"][0]["author"], Value::Null);
            let replies = &answers[1]["data"]["thread"]["replies"]["nodes"];
            assert_eq!(replies[1]["body"], Value::Null, "a deleted reply shows no body");
            assert_eq!(replies[2]["author"], Value::Null, "a deleted author shows as null");
            let own_email = &replies[0]["author"]["email"];
            let expected = if viewer.is_some() { json!("alice@example.com") } else { Value::Null };
            assert_eq!(*own_email, expected, "alice's email to {viewer:?}");
        }

        // The direct path answers in selection order.
        let listed = text(&app, None, &queries(false)[0], &json!({})).await;
        let thread = listed.find(r#"{"__typename":"Thread""#).unwrap();
        let keys = THREAD.split_whitespace().take(9).map(|k| format!("\"{k}\":"));
        let positions: Vec<usize> = keys.map(|k| listed[thread..].find(&k).unwrap()).collect();
        assert!(positions.is_sorted(), "{listed}");

        // A field that fails beside fields in memory: the same data and errors both ways
        // (the failing field first, so that its location is the same in both texts).
        let failing = |slug: &str| {
            format!("{{ categories(first: 2) {{ nodes {{ threads(first: 2, after: \"nope\") {{ totalCount }} {slug} }} }} }}")
        };
        let direct = text(&app, None, &failing("slug"), &json!({})).await;
        let resolved = text(&app, None, &failing("... on Category { slug }"), &json!({})).await;
        let (direct, resolved) = (errors_sorted(&direct), errors_sorted(&resolved));
        assert_eq!(direct, resolved);
        let errors = direct["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "one category, one error: {direct:#}");
        assert_eq!(errors[0]["path"], json!(["categories", "nodes", 0, "threads"]), "{direct:#}");
        assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{direct:#}");
        // `threads` is non-null, and so is every position above it: `data` is null.
        assert_eq!(direct["data"], Value::Null, "{direct:#}");

        // A key asked twice: async-graphql merges the two selections (both authors' fields
        // in one object); the direct path must hand such an object over, not keep one.
        let twice = "{ categories { nodes { threads { nodes { id title title \
            author { displayName } author { imageUrl } } } } } }";
        let direct = text(&app, None, twice, &json!({})).await;
        let resolved = text(&app, None, &twice.replace("id title", "... on Thread { id } title"), &json!({})).await;
        let (direct, resolved): (Value, Value) =
            (serde_json::from_str(&direct).unwrap(), serde_json::from_str(&resolved).unwrap());
        assert_eq!(direct, resolved);
        let first = &direct["data"]["categories"]["nodes"][0]["threads"]["nodes"][1];
        assert_eq!(first["author"].as_object().map(|a| a.len()), Some(2), "{direct:#}");

        // A selection that `@skip` empties is null, as async-graphql answers it.
        let skipped = |fields: &str| {
            format!("{{ categories {{ nodes {{ threads {{ nodes {{ author {{ {fields} }} }} }} }} }} }}")
        };
        let direct = text(&app, None, &skipped("displayName @skip(if: true)"), &json!({})).await;
        let resolved =
            text(&app, None, &skipped("... on User { displayName @skip(if: true) }"), &json!({})).await;
        assert_eq!(direct, resolved);
        assert!(direct.contains(r#""author":null"#), "{direct}");

        // A connection asked for twice in one object, directly or through a fragment:
        // async-graphql merges the two answers row by row, which needs rows as values.
        let variables = json!({ "id": thread_id(&opened) });
        for twice in [
            "{ categories { nodes { id } } categories { nodes { name } } }",
            "{ categories { nodes { id } } ... on Query { categories { nodes { name } } } }",
            "query($id: ID!) { thread(id: $id) { replies { nodes { id } } replies { nodes { body } } } }",
        ] {
            let direct = text(&app, None, twice, &variables).await;
            let resolved = text(&app, None, &twice.replacen("{ id }", "{ ... on Node { id } }", 1), &variables).await;
            let (direct, resolved): (Value, Value) =
                (serde_json::from_str(&direct).unwrap(), serde_json::from_str(&resolved).unwrap());
            assert_eq!(direct, resolved, "{twice}");
            let data = direct["data"].as_object().unwrap();
            let list = &data.values().next().unwrap();
            let nodes = list.get("nodes").or_else(|| list["replies"].get("nodes")).unwrap();
            let row = nodes[0].as_object().unwrap();
            assert_eq!(row.len(), 2, "both selections in each row: {direct:#}");
        }

        // One document whose selection a variable changes between requests (each request
        // runs on a copy of the cached document, and the direct path keeps keys by
        // their strings).
        let include = "query($x: Boolean!) { categories { nodes { threads { nodes { id title @include(if: $x) } } } } }";
        for x in [true, false, true] {
            let direct = text(&app, None, include, &json!({ "x": x })).await;
            let slow = include.replace("{ id title", "{ ... on Thread { id } title");
            let resolved = text(&app, None, &slow, &json!({ "x": x })).await;
            assert_eq!(direct, resolved);
            assert_eq!(direct.contains(r#""title":"#), x, "{direct}");
        }

        // The rows of a list, written as JSON while walked: emptied by `@skip`, and none.
        for (fields, expected) in [("id @skip(if: true)", "[null,null]"), ("id", "[]")] {
            let status = if fields == "id" { "LOCKED" } else { "OPEN" };
            let list = |fields: &str| {
                format!("{{ categories {{ nodes {{ threads(status: {status}) {{ nodes {{ {fields} }} }} }} }} }}")
            };
            let direct = text(&app, None, &list(fields), &json!({})).await;
            let resolved = text(&app, None, &list(&format!("... on Thread {{ {fields} }}")), &json!({})).await;
            assert_eq!(direct, resolved);
            assert!(direct.contains(&format!(r#"{{"nodes":{expected}}}"#)), "{direct}");
        }
    }
}

/// The response with its errors in path order (both paths report them as they happen).
fn errors_sorted(text: &str) -> Value {
    let mut response: Value = serde_json::from_str(text).unwrap();
    if let Some(errors) = response["errors"].as_array_mut() {
        errors.sort_by_key(|e| e["path"].to_string());
    }
    response
}

async fn text(app: &TestApp, token: Option<&str>, query: &str, variables: &Value) -> String {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let body = json!({ "query": query, "variables": variables });
    app.post_graphql(&headers, &body).await.text()
}
