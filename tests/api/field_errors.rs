//! A field that fails is null, and a null in a non-null position nulls its parent, up to
//! the nearest nullable position or `data` (the spec's rule; async-graphql alone drops the
//! failed key instead).

use serde_json::{Value, json};

use crate::{
    fixtures,
    helpers::{TestApp, codes, token},
    read::thread_id,
};

backend_test! {
    async fn failed_fields_are_null_where_the_spec_puts_them(backend) {
        let app = TestApp::spawn(backend).await;
        let ann = fixtures::user(&app.db, "ann", entity::user::Role::Member).await;
        let category = fixtures::category(&app.db, "general").await;
        let (thread, _) = fixtures::thread(&app.db, &category, &[&ann], "t", 1).await;
        let id = thread_id(&thread);
        let cases: [(&str, Value, Value); 8] = [
            // A nullable root field: null in place.
            ("{ thread(id: \"garbage\") { id } }", json!({}), json!({ "thread": null })),
            // The same in a named operation, run without its name.
            ("query Named { thread(id: \"garbage\") { id } }", json!({}), json!({ "thread": null })),
            // Beside a field that succeeds, under an alias.
            (
                "{ t: thread(id: \"garbage\") { id } categories { totalCount } }",
                json!({}),
                json!({ "t": null, "categories": { "totalCount": 1 } }),
            ),
            // Through a fragment, and an interface's inline fragment.
            (
                "query { ...F } fragment F on Query { n: node(id: \"garbage\") { id ... on Thread { title } } }",
                json!({}),
                json!({ "n": null }),
            ),
            // A non-null connection fails: its nullable parent is null.
            (
                "{ category(slug: \"general\") { name threads(first: 101) { totalCount } } }",
                json!({}),
                json!({ "category": null }),
            ),
            (
                "query($id: ID!) { thread(id: $id) { title replies(first: 101) { totalCount } } }",
                json!({ "id": id }),
                json!({ "thread": null }),
            ),
            // Non-null all the way up: `data` itself.
            (
                "{ categories { nodes { slug threads(first: 101) { totalCount } } } }",
                json!({}),
                Value::Null,
            ),
            // The same field twice, under two keys: only the failed one is null.
            (
                "query($id: ID!) { thread(id: $id) { title } x: thread(id: \"garbage\") { title } }",
                json!({ "id": id }),
                json!({ "thread": { "title": "t" }, "x": null }),
            ),
        ];
        for (query, variables, data) in cases {
            // Twice: the second run takes the path of a document validated before.
            for _ in 0..2 {
                let body = app.graphql(query, variables.clone()).await;
                assert_eq!(codes(&body), ["BAD_USER_INPUT"], "{query}: {body}");
                assert_eq!(body["data"], data, "{query}: {body}");
                assert!(body.get("data").is_some(), "a request that ran has data: {body}");
            }
        }
    }
}

backend_test! {
    /// Root mutations run in order, and every one is non-null: when one fails, `data` is
    /// null and the ones after it do not run (the spec's serial execution stops there).
    async fn mutations_after_a_failed_one_do_not_run(backend) {
        let app = TestApp::spawn(backend).await;
        let ann = fixtures::user(&app.db, "ann", entity::user::Role::Member).await;
        let category = fixtures::category(&app.db, "general").await;
        let (thread, _) = fixtures::thread(&app.db, &category, &[&ann], "t", 1).await;
        let id = thread_id(&thread);
        let two = "mutation($ok: ID!) { \
            a: addReply(input: { threadId: \"garbage\", body: \"first\" }) { reply { id } } \
            b: addReply(input: { threadId: $ok, body: \"second\" }) { reply { id } } }";
        let body = app.graphql_as(Some(&token("ann")), two, json!({ "ok": id })).await;
        assert_eq!(codes(&body), ["BAD_USER_INPUT", "NOT_RUN"], "{body}");
        assert_eq!(body["data"], Value::Null, "{body}");
        let replies = app.data("query($id: ID!) { thread(id: $id) { replyCount } }", json!({ "id": id })).await;
        assert_eq!(replies["thread"]["replyCount"], 1, "the second reply was not written");
        // In the other order the first commits, then the second fails.
        let swapped = two.replace("\"garbage\"", "$ok").replacen("threadId: $ok, body: \"second\"", "threadId: \"garbage\", body: \"second\"", 1);
        let body = app.graphql_as(Some(&token("ann")), &swapped, json!({ "ok": id })).await;
        assert_eq!(codes(&body), ["BAD_USER_INPUT"], "{body}");
        let replies = app.data("query($id: ID!) { thread(id: $id) { replyCount } }", json!({ "id": id })).await;
        assert_eq!(replies["thread"]["replyCount"], 2);
        // A failure inside a payload, with nothing nullable between it and the root, nulls
        // `data` as well: the first reply is written, the second is not.
        let nested = "mutation($ok: ID!) { \
            a: addReply(input: { threadId: $ok, body: \"third\" }) { reply { thread { replies(first: 101) { totalCount } } } } \
            b: addReply(input: { threadId: $ok, body: \"fourth\" }) { reply { id } } }";
        let body = app.graphql_as(Some(&token("ann")), nested, json!({ "ok": id })).await;
        assert_eq!(codes(&body), ["BAD_USER_INPUT", "NOT_RUN"], "{body}");
        assert_eq!(body["data"], Value::Null, "{body}");
        let replies = app.data("query($id: ID!) { thread(id: $id) { replyCount } }", json!({ "id": id })).await;
        assert_eq!(replies["thread"]["replyCount"], 3, "the fourth reply was not written");
        // Under a nullable position (the author), the null stops there and the next runs.
        let nullable = "mutation($ok: ID!) { \
            a: addReply(input: { threadId: $ok, body: \"fifth\" }) { reply { author { threads(first: 101) { totalCount } } } } \
            b: addReply(input: { threadId: $ok, body: \"sixth\" }) { reply { body } } }";
        let body = app.graphql_as(Some(&token("ann")), nullable, json!({ "ok": id })).await;
        assert_eq!(codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert_eq!(body["data"]["a"], json!({ "reply": { "author": null } }), "{body}");
        assert_eq!(body["data"]["b"], json!({ "reply": { "body": "sixth" } }), "{body}");
    }
}
