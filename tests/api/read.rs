//! The read side of the contract: listings and their orders, cursors, nodes, users, and
//! what bad input gets.

use api::graphql::NodeId;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use entity::{reply, thread, user::Role};
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use serde_json::{Value, json};

use crate::{
    fixtures,
    helpers::{Backend, TestApp, TestDb, codes, error, test_config},
};

pub fn thread_id(thread: &thread::Model) -> String {
    NodeId::Thread(thread.id).encode().0
}

fn titles(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

const THREADS: &str = "query($slug: String!, $order: ThreadOrder!, $first: Int, $after: String, $last: Int, $before: String, $status: ThreadStatus) {
  category(slug: $slug) {
    threads(orderBy: $order, first: $first, after: $after, last: $last, before: $before, status: $status) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { title isPinned }
    }
  }
}";

backend_test! {
    async fn threads_list_pinned_first_in_each_order(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let ann = fixtures::user(db, "ann", Role::Member).await;
        let category = fixtures::category(db, "general").await;
        let (first, _) = fixtures::thread(db, &category, &[&ann], "first", 1).await;
        let (second, _) = fixtures::thread(db, &category, &[&ann], "second", 1).await;
        let (_third, _) = fixtures::thread(db, &category, &[&ann], "third", 1).await;
        fixtures::pin(db, &second).await;
        fixtures::touch(db, &first).await;
        for (order, expected) in [
            ("LATEST_ACTIVITY", ["second", "first", "third"]),
            ("NEWEST", ["second", "third", "first"]),
            ("OLDEST", ["second", "first", "third"]),
        ] {
            let data = app.data(THREADS, json!({ "slug": "general", "order": order, "first": 10 })).await;
            assert_eq!(titles(&data["category"]["threads"]), expected, "{order}");
        }
    }
}

/// Walks every page of `order` forwards (or backwards) and returns the titles in order.
async fn walk(app: &TestApp, order: &str, size: i64, backwards: bool) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let vars = if backwards {
            json!({ "slug": "walk", "order": order, "last": size, "before": cursor })
        } else {
            json!({ "slug": "walk", "order": order, "first": size, "after": cursor })
        };
        let data = app.data(THREADS, vars).await;
        let threads = &data["category"]["threads"];
        let mut page = titles(threads);
        assert!(page.len() as i64 <= size);
        let info = &threads["pageInfo"];
        if backwards {
            page.reverse();
            seen.extend(page);
            if info["hasPreviousPage"] != true {
                return seen;
            }
            cursor = info["startCursor"].as_str().map(str::to_owned);
        } else {
            seen.extend(page);
            if info["hasNextPage"] != true {
                return seen;
            }
            cursor = info["endCursor"].as_str().map(str::to_owned);
        }
    }
}

backend_test! {
    async fn cursors_walk_every_order_both_ways(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let authors = fixtures::users(db, "w", 3).await;
        let category = fixtures::category(db, "walk").await;
        let threads = fixtures::bulk_threads(db, &category, &authors, 11).await;
        fixtures::pin(db, &threads[4]).await;
        fixtures::pin(db, &threads[7]).await;
        fixtures::touch(db, &threads[2]).await;
        for order in ["LATEST_ACTIVITY", "NEWEST", "OLDEST"] {
            let all = app.data(THREADS, json!({ "slug": "walk", "order": order, "first": 100 })).await;
            let all = titles(&all["category"]["threads"]);
            assert_eq!(all.len(), 11);
            for size in [1, 3, 4] {
                assert_eq!(walk(&app, order, size, false).await, all, "{order} forwards by {size}");
                let mut back = walk(&app, order, size, true).await;
                back.reverse();
                assert_eq!(back, all, "{order} backwards by {size}");
            }
        }
    }
}

backend_test! {
    async fn a_cursor_survives_writes_between_pages(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let authors = fixtures::users(db, "w", 2).await;
        let category = fixtures::category(db, "walk").await;
        fixtures::bulk_threads(db, &category, &authors, 6).await;
        let page = |after: Option<String>| {
            json!({ "slug": "walk", "order": "NEWEST", "first": 3, "after": after })
        };
        let first = app.data(THREADS, page(None)).await;
        let before_writes = app.data(THREADS, json!({ "slug": "walk", "order": "NEWEST", "first": 10 })).await;
        let expected_rest: Vec<String> = titles(&before_writes["category"]["threads"])[3..].to_vec();
        // New threads sort before the cursor; the next page neither repeats nor skips.
        fixtures::bulk_threads(db, &category, &authors, 2).await;
        let cursor = first["category"]["threads"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        let second = app.data(THREADS, page(cursor)).await;
        assert_eq!(titles(&second["category"]["threads"]), expected_rest);
        assert_eq!(second["category"]["threads"]["pageInfo"]["hasPreviousPage"], true);
        assert_eq!(second["category"]["threads"]["totalCount"], 8);
    }
}

backend_test! {
    async fn status_filter_and_its_count(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let authors = fixtures::users(db, "s", 2).await;
        let category = fixtures::category(db, "status").await;
        let threads = fixtures::bulk_threads(db, &category, &authors, 5).await;
        for t in &threads[..2] {
            let mut active = t.clone().into_active_model();
            active.status = Set(thread::Status::Locked);
            active.update(db).await.unwrap();
        }
        let vars = |status: &str| json!({ "slug": "status", "order": "NEWEST", "first": 10, "status": status });
        let locked = app.data(THREADS, vars("LOCKED")).await;
        assert_eq!(locked["category"]["threads"]["totalCount"], 2);
        assert_eq!(titles(&locked["category"]["threads"]), ["status thread 1", "status thread 0"]);
        let open = app.data(THREADS, vars("OPEN")).await;
        assert_eq!(open["category"]["threads"]["totalCount"], 3);
        // Counted for several categories at once, one of them without a locked thread.
        let calm = fixtures::category(db, "calm").await;
        fixtures::bulk_threads(db, &calm, &authors, 4).await;
        let front = app.data(
            "{ categories { nodes { slug locked: threads(status: LOCKED) { totalCount } \
               open: threads(status: OPEN) { totalCount } } } }",
            json!({}),
        ).await;
        let mut counts: Vec<(String, i64, i64)> = front["categories"]["nodes"].as_array().unwrap().iter()
            .map(|c| (c["slug"].as_str().unwrap().to_owned(), c["locked"]["totalCount"].as_i64().unwrap(), c["open"]["totalCount"].as_i64().unwrap()))
            .collect();
        counts.sort();
        assert_eq!(counts, [("calm".to_owned(), 0, 4), ("status".to_owned(), 2, 3)]);
    }
}

const REPLIES: &str = "query($id: ID!, $order: ReplyOrder!) {
  thread(id: $id) { replyCount replies(orderBy: $order, first: 10) {
    totalCount nodes { body isDeleted score upvotes downvotes author { clerkId } } } }
}";

backend_test! {
    async fn replies_in_each_order_with_tallies_and_soft_deletes(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let users = fixtures::users(db, "r", 4).await;
        let refs: Vec<_> = users.iter().collect();
        let category = fixtures::category(db, "replies").await;
        let (thread, posts) = fixtures::thread(db, &category, &refs, "t", 4).await;
        fixtures::vote(db, &posts[2], &users[0], 1).await;
        fixtures::vote(db, &posts[2], &users[1], 1).await;
        fixtures::vote(db, &posts[3], &users[0], -1).await;
        let mut deleted = posts[1].clone().into_active_model();
        deleted.deleted_at = Set(Some(Utc::now()));
        let _: reply::Model = deleted.update(db).await.unwrap();

        let id = thread_id(&thread);
        let bodies = |data: &Value| -> Vec<Value> {
            data["thread"]["replies"]["nodes"].as_array().unwrap().iter().map(|n| n["body"].clone()).collect()
        };
        let oldest = app.data(REPLIES, json!({ "id": id, "order": "OLDEST" })).await;
        assert_eq!(bodies(&oldest), [json!("t: post 0"), Value::Null, json!("t: post 2"), json!("t: post 3")]);
        let nodes = &oldest["thread"]["replies"]["nodes"];
        assert_eq!(nodes[1]["isDeleted"], true);
        assert_eq!(nodes[2]["score"], 2);
        assert_eq!((nodes[3]["score"].clone(), nodes[3]["downvotes"].clone()), (json!(-1), json!(1)));
        assert_eq!(oldest["thread"]["replies"]["totalCount"], 4);

        let newest = app.data(REPLIES, json!({ "id": id, "order": "NEWEST" })).await;
        assert_eq!(bodies(&newest), [json!("t: post 3"), json!("t: post 2"), Value::Null, json!("t: post 0")]);
        // Best first; equal scores in posting order.
        let top = app.data(REPLIES, json!({ "id": id, "order": "TOP" })).await;
        assert_eq!(bodies(&top), [json!("t: post 2"), json!("t: post 0"), Value::Null, json!("t: post 3")]);
    }
}

backend_test! {
    async fn nodes_users_and_ghosts(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let ann = fixtures::user(db, "ann", Role::Moderator).await;
        let gone = fixtures::user(db, "gone", Role::Member).await;
        let category = fixtures::category(db, "nodes").await;
        let (thread, posts) = fixtures::thread(db, &category, &[&ann, &gone], "t", 3).await;
        let mut tomb = gone.clone().into_active_model();
        tomb.deleted_at = Set(Some(Utc::now()));
        tomb.update(db).await.unwrap();

        let ids = [
            NodeId::Category(category.id),
            NodeId::Thread(thread.id),
            NodeId::Reply(posts[1].id),
            NodeId::User(ann.id.clone()),
            NodeId::User(gone.id.clone()),
            NodeId::Thread(uuid::Uuid::now_v7()),
        ].map(|id| id.encode().0);
        let data = app.data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
               ... on Reply { body author { id } }
               ... on User { clerkId displayName role email threads { totalCount } replies { totalCount } } } }",
            json!({ "ids": ids }),
        ).await;
        let nodes = data["nodes"].as_array().unwrap();
        let types: Vec<&Value> = nodes.iter().map(|n| &n["__typename"]).collect();
        assert_eq!(types, [&json!("Category"), &json!("Thread"), &json!("Reply"), &json!("User"), &Value::Null, &Value::Null]);
        for (node, id) in nodes.iter().zip(&ids).take(4) {
            assert_eq!(&node["id"], id);
        }
        assert_eq!(nodes[2]["author"], Value::Null, "a deleted account shows as a ghost");
        assert_eq!(nodes[3]["role"], "MODERATOR");
        assert_eq!(nodes[3]["email"], Value::Null, "emails are not shown to others");
        assert_eq!(nodes[3]["threads"]["totalCount"], 1);
        assert_eq!(nodes[3]["replies"]["totalCount"], 2);
        assert_eq!(nodes[3]["displayName"], "First ann Last");

        // An id that is not one fails its own place only, and the rest of the query runs.
        let mixed = json!([ids[0], "garbage", ids[1]]);
        let body = app.graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } viewer { id } }",
            json!({ "ids": mixed }),
        ).await;
        assert_eq!(body["data"], json!({ "nodes": [{ "id": ids[0] }, null, { "id": ids[1] }], "viewer": null }), "{body}");
        assert_eq!(body["errors"][0]["path"], json!(["nodes", 1]), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "ids", "{body}");
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
        let one = app.data("query($id: ID!) { node(id: $id) { ... on Thread { title category { slug } } } }", json!({ "id": ids[1] })).await;
        assert_eq!(one["node"], json!({ "title": "t", "category": { "slug": "nodes" } }));
        let user = app.data("query($id: ID!) { user(id: $id) { clerkId } }", json!({ "id": ids[4] })).await;
        assert_eq!(user["user"], Value::Null);
        // In a page, authors come joined to their rows: a ghost there too.
        let page = app.data("query($id: ID!) { thread(id: $id) { replies { nodes { author { clerkId } } } } }", json!({ "id": ids[1] })).await;
        let authors: Vec<&Value> = page["thread"]["replies"]["nodes"].as_array().unwrap().iter().map(|n| &n["author"]).collect();
        assert_eq!(authors, [&json!({ "clerkId": "ann" }), &Value::Null, &json!({ "clerkId": "ann" })]);
        let viewer = app.data("{ viewer { id } }", json!({})).await;
        assert_eq!(viewer["viewer"], Value::Null);
    }
}

backend_test! {
    async fn bad_input_gets_a_code_and_a_field(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let ann = fixtures::user(db, "ann", Role::Member).await;
        let category = fixtures::category(db, "bad").await;
        let threads = fixtures::bulk_threads(db, &category, &[ann], 2).await;
        let category_id = NodeId::Category(category.id).encode().0;
        let newest = app.data(THREADS, json!({ "slug": "bad", "order": "NEWEST", "first": 1 })).await;
        let newest_cursor = newest["category"]["threads"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
        let too_many: Vec<String> = (0..101).map(|_| category_id.clone()).collect();
        // Well-formed ids and cursors with what no stored row holds, and Postgres refuses:
        // NUL in text, a time before 4713 BC.
        let b64 = |text: &str| URL_SAFE_NO_PAD.encode(text);
        let nul_user = b64("User:ann\u{0}");
        let nul_name = b64(&format!("category-name|{}|{}", b64("a\u{0}"), category.id.simple()));
        let ancient = b64(&format!("reply-oldest|-300000000000000000|{}", category.id.simple()));
        let far = b64(&format!("reply-oldest|253402300800000000|{}", category.id.simple()));
        let thread = thread_id(&threads[0]);

        let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
            ("query($id: ID!) { thread(id: $id) { id } }", json!({ "id": "garbage" }), "BAD_USER_INPUT", Some("id")),
            ("query($id: ID!) { thread(id: $id) { id } }", json!({ "id": category_id }), "BAD_USER_INPUT", Some("id")),
            ("query($id: ID!) { user(id: $id) { id } }", json!({ "id": category_id }), "BAD_USER_INPUT", Some("id")),
            ("query($id: ID!) { node(id: $id) { id } }", json!({ "id": "%%%" }), "BAD_USER_INPUT", Some("id")),
            ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": too_many }), "BAD_USER_INPUT", Some("ids")),
            ("{ category(slug: \"Not A Slug\") { id } }", json!({}), "BAD_USER_INPUT", Some("slug")),
            ("{ categories(first: 101) { totalCount } }", json!({}), "BAD_USER_INPUT", Some("first")),
            ("{ categories(first: -1) { totalCount } }", json!({}), "BAD_USER_INPUT", Some("first")),
            ("{ categories(last: 1000) { totalCount } }", json!({}), "BAD_USER_INPUT", Some("last")),
            ("{ categories(first: 1, last: 1) { totalCount } }", json!({}), "BAD_USER_INPUT", Some("last")),
            ("{ categories(after: \"bogus\") { totalCount } }", json!({}), "BAD_USER_INPUT", Some("after")),
            ("{ categories(before: \"\") { totalCount } }", json!({}), "BAD_USER_INPUT", Some("before")),
            (THREADS, json!({ "slug": "bad", "order": "OLDEST", "first": 1, "after": newest_cursor }), "BAD_USER_INPUT", Some("after")),
            ("query($id: ID!) { user(id: $id) { id } }", json!({ "id": nul_user }), "BAD_USER_INPUT", Some("id")),
            ("query($after: String) { categories(after: $after) { totalCount } }", json!({ "after": nul_name }), "BAD_USER_INPUT", Some("after")),
            ("query($id: ID!, $after: String) { thread(id: $id) { replies(after: $after) { nodes { id } } } }", json!({ "id": thread, "after": ancient }), "BAD_USER_INPUT", Some("after")),
            ("query($id: ID!, $after: String) { thread(id: $id) { replies(after: $after) { nodes { id } } } }", json!({ "id": thread, "after": far }), "BAD_USER_INPUT", Some("after")),
            // Refused only when async-graphql parses the literal, in a message that names
            // no argument: the one bad input without its field.
            ("{ categories(first: 99999999999) { totalCount } }", json!({}), "BAD_USER_INPUT", None),
            ("{ categories(first: 1) { nope } }", json!({}), "GRAPHQL_VALIDATION_FAILED", None),
            ("{ categories(first: 1) { ", json!({}), "GRAPHQL_VALIDATION_FAILED", None),
        ];
        for (query, vars, code, field) in cases {
            let body = app.graphql(query, vars.clone()).await;
            let (got_code, got_field) = error(&body);
            assert_eq!((got_code.as_str(), got_field.as_deref()), (code, field), "{query} {vars}: {body:#}");
            let text = body.to_string();
            for leak in ["SELECT", "sqlx", "sea_orm", "panicked"] {
                assert!(!text.contains(leak), "{text}");
            }
        }
        // A variable of the wrong type is reported by validation and again by the
        // complexity count that reads it: both as bad input.
        let body = app.graphql("query($n: Int) { categories(first: $n) { totalCount } }", json!({ "n": "ten" })).await;
        assert_eq!(codes(&body), ["BAD_USER_INPUT", "BAD_USER_INPUT"], "{body:#}");
        // Well-formed ids and slugs of nothing are null, not errors.
        let missing = NodeId::Thread(uuid::Uuid::now_v7()).encode().0;
        let body = app.graphql("query($id: ID!) { thread(id: $id) { id } category(slug: \"nothing-here\") { id } }", json!({ "id": missing })).await;
        assert!(codes(&body).is_empty(), "{body:#}");
        assert_eq!(body["data"], json!({ "thread": null, "category": null }));
    }
}

backend_test! {
    async fn whether_more_exist_is_answered_however_it_is_asked(backend) {
        let app = TestApp::spawn(backend).await;
        let authors = fixtures::users(&app.db, "author", 3).await;
        let category = fixtures::category(&app.db, "three").await;
        fixtures::bulk_threads(&app.db, &category, &authors, 3).await;
        // The row past the page is read only when the answer needs it: through a fragment
        // and an alias, in either direction, and not at all without `pageInfo`.
        let query = "query($first: Int, $last: Int) { category(slug: \"three\") {
          threads(first: $first, last: $last) { nodes { id } pageInfo { ...More } } } }
          fragment More on PageInfo { next: hasNextPage previous: hasPreviousPage }";
        for (first, last, next, previous) in [
            (json!(2), json!(null), true, false),
            (json!(3), json!(null), false, false),
            (json!(null), json!(2), false, true),
            (json!(null), json!(3), false, false),
        ] {
            let data = app.data(query, json!({ "first": first, "last": last })).await;
            let threads = &data["category"]["threads"];
            assert_eq!(threads["pageInfo"], json!({ "next": next, "previous": previous }), "first {first}, last {last}");
            assert_eq!(threads["nodes"].as_array().unwrap().len(), if next || previous { 2 } else { 3 });
        }
        let data = app.data("{ category(slug: \"three\") { threads(first: 2) { nodes { id } } } }", json!({})).await;
        assert_eq!(data["category"]["threads"]["nodes"].as_array().unwrap().len(), 2);
    }
}

backend_test! {
    async fn categories_page_by_the_bytes_of_their_names_under_any_collation(backend) {
        // Postgres sorts by the database's collation, a page is cut in Rust: the two must
        // agree, or pages drop some categories and repeat others. Here the database sorts
        // text by language (ICU en-US), where "apple" comes before "Zebra".
        let database = match backend {
            Backend::Postgres => TestDb::postgres_collated("en-US").await,
            Backend::Sqlite => TestDb::create(backend).await,
        };
        let config = test_config(&database.url, &[]);
        let app = TestApp::start(Some(database), config).await;
        let ann = fixtures::user(&app.db, "ann", Role::Member).await;
        let names = ["Zebra", "apple", "banana", "Äpfel", "zulu", "Apple", "Été"];
        for (i, name) in names.iter().enumerate() {
            let category = entity::category::Model {
                id: uuid::Uuid::now_v7(),
                slug: format!("c{i}"),
                name: (*name).to_owned(),
                created_at: fixtures::tick(),
                thread_count: 0,
            }
            .into_active_model()
            .insert(&app.db)
            .await
            .unwrap();
            fixtures::thread(&app.db, &category, &[&ann], name, 1).await;
        }
        let mut bytewise = names.map(str::to_owned).to_vec();
        bytewise.sort();

        // Forward and backward, two at a time, each category with its own thread.
        let query = "query($first: Int, $after: String, $last: Int, $before: String) {
          categories(first: $first, after: $after, last: $last, before: $before) {
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            nodes { name threads(first: 1) { nodes { title } } } } }";
        for forward in [true, false] {
            let (mut seen, mut cursor) = (Vec::new(), Value::Null);
            loop {
                let vars = if forward {
                    json!({ "first": 2, "after": cursor })
                } else {
                    json!({ "last": 2, "before": cursor })
                };
                let data = app.data(query, vars).await;
                let page = &data["categories"];
                let mut names: Vec<String> = Vec::new();
                for node in page["nodes"].as_array().unwrap() {
                    let name = node["name"].as_str().unwrap().to_owned();
                    assert_eq!(node["threads"]["nodes"], json!([{ "title": name }]), "{data}");
                    names.push(name);
                }
                let info = &page["pageInfo"];
                if forward {
                    seen.extend(names);
                    cursor = info["endCursor"].clone();
                } else {
                    seen.splice(0..0, names);
                    cursor = info["startCursor"].clone();
                }
                let more = if forward { "hasNextPage" } else { "hasPreviousPage" };
                if info[more] != json!(true) {
                    break;
                }
            }
            assert_eq!(seen, bytewise, "forward: {forward}");
        }
    }
}

backend_test! {
    async fn a_null_order_is_the_default_order(backend) {
        let app = TestApp::spawn(backend).await;
        let ann = fixtures::user(&app.db, "ann", Role::Member).await;
        let category = fixtures::category(&app.db, "orders").await;
        let (older, _) = fixtures::thread(&app.db, &category, &[&ann], "older", 3).await;
        fixtures::thread(&app.db, &category, &[&ann], "newer", 1).await;
        fixtures::touch(&app.db, &older).await;
        let threads = "query($order: ThreadOrder) { category(slug: \"orders\") {
            threads(orderBy: $order) { nodes { title } } } }";
        let replies = "query($id: ID!, $order: ReplyOrder) { thread(id: $id) {
            replies(orderBy: $order) { nodes { body } } } }";
        let id = thread_id(&older);
        for (query, vars, default) in [
            (threads, json!({}), json!({ "order": "LATEST_ACTIVITY" })),
            (replies, json!({ "id": id }), json!({ "id": id, "order": "OLDEST" })),
        ] {
            let (expected, statements) = app.counted(query, default).await;
            let mut null = vars.clone();
            null["order"] = Value::Null;
            // A null variable, an omitted one, and a literal null: the default order, read
            // ahead with its parent all the same.
            for vars in [null, vars.clone()] {
                assert_eq!(app.counted(query, vars.clone()).await, (expected.clone(), statements), "{vars}");
            }
            let literal = query
                .replace("orderBy: $order", "orderBy: null")
                .replace("query($order: ThreadOrder)", "query")
                .replace(", $order: ReplyOrder", "");
            assert_eq!(app.counted(&literal, vars.clone()).await, (expected.clone(), statements));
        }
        let data = app.data(threads, json!({ "order": null })).await;
        assert_eq!(titles(&data["category"]["threads"]), ["older", "newer"]);
    }
}

backend_test! {
    async fn skip_and_include_read_a_variable_s_default(backend) {
        let app = TestApp::spawn(backend).await;
        fixtures::category(&app.db, "general").await;
        let query = "query($keep: Boolean = true, $hide: Boolean = true) { categories { nodes { slug @include(if: $keep) name @skip(if: $hide) } } }";
        // Twice each: the second answer takes the path of a document validated before.
        for _ in 0..2 {
            let data = app.data(query, json!({})).await;
            assert_eq!(data["categories"]["nodes"], json!([{ "slug": "general" }]));
            let data = app.data(query, json!({ "keep": false, "hide": false })).await;
            assert_eq!(data["categories"]["nodes"][0].as_object().unwrap().keys().collect::<Vec<_>>(), ["name"]);
            // A document's only operation runs without its name being sent.
            let named = query.replacen("query(", "query Named(", 1);
            let data = app.data(&named, json!({})).await;
            assert_eq!(data["categories"]["nodes"], json!([{ "slug": "general" }]));
        }
    }
}
