//! A category page and a thread page read their parent and its page in one statement
//! (`keyset::parent_with_page`), the front page its categories and their threads
//! (`keyset::page_with_pages`). Whatever the arguments and the selection, that page is
//! the one the connection field reads on its own: asking for the field a second time (an
//! alias) turns the read-ahead off, so the two answers can be compared.

use entity::thread;
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use serde_json::{Value, json};

use crate::{
    fixtures,
    helpers::{Backend, TestApp, error},
    read::thread_id,
};

fn category_page(selection: &str, twice: bool) -> String {
    let other = if twice {
        "other: threads(first: 1) { nodes { title } }"
    } else {
        ""
    };
    format!(
        "query($slug: String!, $order: ThreadOrder!, $first: Int, $after: String, $last: Int,
               $before: String, $status: ThreadStatus) {{
           category(slug: $slug) {{ name threadCount
             page: threads(orderBy: $order, first: $first, after: $after, last: $last,
                           before: $before, status: $status) {{ {selection} }}
             {other} }} }}"
    )
}

fn thread_page(selection: &str, twice: bool) -> String {
    let other = if twice {
        "other: replies(first: 1) { nodes { id } }"
    } else {
        ""
    };
    format!(
        "query($id: ID!, $order: ReplyOrder!, $first: Int, $after: String, $last: Int,
               $before: String) {{
           thread(id: $id) {{ title replyCount
             page: replies(orderBy: $order, first: $first, after: $after, last: $last,
                           before: $before) {{ {selection} }}
             {other} }} }}"
    )
}

/// Reads the page of `vars` both ways; checks that they agree, and that reading ahead
/// saved two statements (the parent's, and one of the two pages'). Returns the parent
/// with its page.
async fn both_ways(
    app: &TestApp,
    page: fn(&str, bool) -> String,
    selection: &str,
    vars: Value,
) -> Value {
    let (ahead, fewer) = app.counted(&page(selection, false), vars.clone()).await;
    let (alone, more) = app.counted(&page(selection, true), vars.clone()).await;
    let parent = ahead.as_object().unwrap().values().next().unwrap().clone();
    let alone = alone.as_object().unwrap().values().next().unwrap();
    assert_eq!(parent["page"], alone["page"], "{selection} {vars}");
    assert_eq!(
        fewer + 2,
        more,
        "{selection} {vars}: statements read ahead, and alone"
    );
    parent
}

/// Every window of one list: the first page, the next, the one before it, the last.
async fn every_window(app: &TestApp, page: fn(&str, bool) -> String, selection: &str, vars: Value) {
    let with = |extra: Value| {
        let mut vars = vars.clone();
        vars.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        vars
    };
    let first = both_ways(app, page, selection, with(json!({ "first": 2 }))).await["page"].clone();
    let rows = first
        .get("nodes")
        .or(first.get("edges"))
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(rows.len(), 2, "{selection} {vars}: {first}");
    if let Some(cursor) = first["pageInfo"]["endCursor"].as_str() {
        let next = both_ways(
            app,
            page,
            selection,
            with(json!({ "first": 2, "after": cursor })),
        )
        .await;
        assert_ne!(next["page"], first, "{selection} {vars}");
        both_ways(
            app,
            page,
            selection,
            with(json!({ "last": 1, "before": cursor })),
        )
        .await;
    }
    both_ways(app, page, selection, with(json!({ "last": 3 }))).await;
}

backend_test! {
    async fn a_category_page_read_with_its_category_is_the_page_its_field_reads(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let authors = fixtures::users(db, "c", 3).await;
        let category = fixtures::category(db, "mixed").await;
        let threads = fixtures::bulk_threads(db, &category, &authors, 9).await;
        fixtures::pin(db, &threads[5]).await;
        fixtures::touch(db, &threads[1]).await;
        for t in [&threads[2], &threads[6], &threads[7]] {
            let mut locked = t.clone().into_active_model();
            locked.status = Set(thread::Status::Locked);
            let _: thread::Model = locked.update(db).await.unwrap();
        }
        let selections = [
            "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
             edges { cursor node { title isPinned status replyCount author { displayName role } } }",
            "pageInfo { endCursor } nodes { title author { displayName imageUrl } }",
            "nodes { title lastActivityAt }",
        ];
        for selection in selections {
            for order in ["LATEST_ACTIVITY", "NEWEST", "OLDEST"] {
                for status in [Value::Null, json!("LOCKED")] {
                    let vars = json!({ "slug": "mixed", "order": order, "status": status });
                    every_window(&app, category_page, selection, vars).await;
                }
            }
        }
        // The whole answer, once: the category's own fields come from the same statement.
        let vars = json!({ "slug": "mixed", "order": "NEWEST", "first": 20 });
        let (data, statements) = app.counted(&category_page("nodes { title isPinned }", false), vars).await;
        assert_eq!(statements, 1);
        assert_eq!(data["category"]["name"], "Category mixed");
        assert_eq!(data["category"]["threadCount"], 9);
        let titles: Vec<&str> = data["category"]["page"]["nodes"].as_array().unwrap().iter()
            .map(|n| n["title"].as_str().unwrap()).collect();
        assert_eq!(titles[0], "mixed thread 5", "pinned first");
        assert_eq!(titles.len(), 9);
    }
}

backend_test! {
    async fn a_thread_page_read_with_its_thread_is_the_page_its_field_reads(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let users = fixtures::users(db, "t", 4).await;
        let refs: Vec<_> = users.iter().collect();
        let category = fixtures::category(db, "talk").await;
        let (thread, posts) = fixtures::thread(db, &category, &refs, "long", 9).await;
        for (i, post) in posts.iter().enumerate().skip(1) {
            fixtures::vote(db, post, &users[i % 4], if i % 3 == 0 { -1 } else { 1 }).await;
        }
        let selections = [
            "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
             edges { cursor node { body score upvotes downvotes author { displayName role createdAt } } }",
            "pageInfo { endCursor } nodes { id body author { displayName imageUrl } }",
            "nodes { id createdAt isDeleted }",
        ];
        let id = thread_id(&thread);
        for selection in selections {
            for order in ["OLDEST", "NEWEST", "TOP"] {
                every_window(&app, thread_page, selection, json!({ "id": id, "order": order })).await;
            }
        }
        let vars = json!({ "id": id, "order": "OLDEST", "first": 50 });
        let (data, statements) = app.counted(&thread_page("nodes { body }", false), vars).await;
        assert_eq!(statements, 1);
        assert_eq!(data["thread"]["title"], "long");
        assert_eq!(data["thread"]["replyCount"], 9);
        assert_eq!(data["thread"]["page"]["nodes"].as_array().unwrap().len(), 9);
        assert_eq!(data["thread"]["page"]["nodes"][8]["body"], "long: post 8");
    }
}

backend_test! {
    async fn missing_parents_empty_pages_and_bad_arguments(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let ann = fixtures::users(db, "a", 1).await;
        fixtures::category(db, "empty").await;
        let busy = fixtures::category(db, "busy").await;
        let (thread, _) = fixtures::thread(db, &busy, &[&ann[0]], "one", 1).await;
        let threads = category_page("totalCount nodes { title }", false);
        let replies = thread_page("totalCount nodes { body }", false);

        // No parent: null, in the one statement.
        let vars = json!({ "slug": "nowhere", "order": "NEWEST", "first": 5 });
        let (data, statements) = app.counted(&threads, vars).await;
        assert_eq!((data["category"].clone(), statements), (Value::Null, 1));
        let gone = api::graphql::NodeId::Thread(uuid::Uuid::now_v7()).encode().0;
        let (data, statements) = app.counted(&replies, json!({ "id": gone, "order": "OLDEST" })).await;
        assert_eq!((data["thread"].clone(), statements), (Value::Null, 1));

        // A parent with nothing under it.
        let vars = json!({ "slug": "empty", "order": "NEWEST", "first": 5 });
        let (data, statements) = app.counted(&threads, vars).await;
        assert_eq!(data["category"]["page"], json!({ "totalCount": 0, "nodes": [] }));
        assert_eq!(statements, 1);

        // Arguments the field refuses: nothing is read ahead, the thread is read on its
        // own, and the field reports the error as it does on its own.
        let id = thread_id(&thread);
        for (vars, field) in [
            (json!({ "id": id, "order": "OLDEST", "first": 500 }), "first"),
            (json!({ "id": id, "order": "OLDEST", "after": "not a cursor" }), "after"),
            (json!({ "id": id, "order": "OLDEST", "first": 1, "last": 1 }), "last"),
        ] {
            let body = app.graphql(&replies, vars.clone()).await;
            assert_eq!(error(&body), ("BAD_USER_INPUT".to_owned(), Some(field.to_owned())), "{vars}");
            // `replies` is non-null: its thread is null in its place.
            assert_eq!(body["data"], json!({ "thread": null }), "{vars}");
            let alone = app.graphql(&thread_page("totalCount nodes { body }", true), vars.clone()).await;
            assert_eq!(alone["errors"][0]["message"], body["errors"][0]["message"], "{vars}");
        }
    }
}

backend_test! {
    async fn several_thread_pages_in_one_request_are_two_statements(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let users = fixtures::users(db, "m", 2).await;
        let refs: Vec<_> = users.iter().collect();
        let category = fixtures::category(db, "many").await;
        let mut ids = Vec::new();
        for i in 0..4 {
            let (thread, _) = fixtures::thread(db, &category, &refs, &format!("t{i}"), i + 1).await;
            ids.push(thread_id(&thread));
        }
        ids.push(api::graphql::NodeId::Thread(uuid::Uuid::now_v7()).encode().0);
        let fields: String = ids.iter().enumerate().map(|(i, id)| {
            format!("t{i}: thread(id: \"{id}\") {{ title replies(first: 3) {{ nodes {{ body author {{ displayName }} }} }} }} ")
        }).collect();
        let (data, statements) = app.counted(&format!("{{ {fields} }}"), json!({})).await;
        // The threads; their pages joined to the authors.
        assert_eq!(statements, 2);
        for i in 0..4 {
            let thread = &data[format!("t{i}")];
            assert_eq!(thread["title"], format!("t{i}"));
            let bodies: Vec<&str> = thread["replies"]["nodes"].as_array().unwrap().iter()
                .map(|n| n["body"].as_str().unwrap()).collect();
            let expected: Vec<String> = (0..(i + 1).min(3)).map(|n| format!("t{i}: post {n}")).collect();
            assert_eq!(bodies, expected);
        }
        assert_eq!(data["t4"], Value::Null);
    }
}

backend_test! {
    async fn the_look_ahead_sees_through_fragments_and_directives(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let users = fixtures::users(db, "f", 2).await;
        let refs: Vec<_> = users.iter().collect();
        let category = fixtures::category(db, "frag").await;
        let (thread, _) = fixtures::thread(db, &category, &refs, "f", 5).await;
        let id = thread_id(&thread);
        let plain = "query($id: ID!) { thread(id: $id) { title replies(first: 3, orderBy: NEWEST) {
            pageInfo { hasNextPage } nodes { body author { displayName } } } } }";
        let (expected, statements) = app.counted(plain, json!({ "id": id })).await;
        assert_eq!(statements, 1);
        assert_eq!(expected["thread"]["replies"]["nodes"][0]["body"], "f: post 4");
        // The same page asked through a named fragment, an inline one, and beside a
        // second `replies` that a directive leaves out: still read ahead, the same answer.
        for query in [
            "query($id: ID!) { thread(id: $id) { ...T } }
             fragment T on Thread { title replies(first: 3, orderBy: NEWEST) {
               pageInfo { hasNextPage } nodes { body author { displayName } } } }",
            "query($id: ID!) { thread(id: $id) { title ... on Thread { replies(first: 3, orderBy: NEWEST) {
               pageInfo { hasNextPage } nodes { body author { ... on User { displayName } } } } } } }",
            "query($id: ID!, $no: Boolean = false) { thread(id: $id) { title
               replies(first: 3, orderBy: NEWEST) { pageInfo { hasNextPage } nodes { body author { displayName } } }
               other: replies(first: 1) @include(if: $no) { nodes { id } } } }",
        ] {
            let (data, statements) = app.counted(query, json!({ "id": id })).await;
            assert_eq!(data, expected, "{query}");
            assert_eq!(statements, 1, "{query}");
        }
    }
}

fn front_page(categories: &str, selection: &str, twice: bool) -> String {
    let other = if twice {
        "other: threads(first: 1) { nodes { title } }"
    } else {
        ""
    };
    format!(
        "query($order: ThreadOrder!, $first: Int, $after: String, $last: Int,
               $status: ThreadStatus) {{
           categories({categories}) {{ pageInfo {{ hasNextPage hasPreviousPage }}
             nodes {{ slug threadCount
               page: threads(orderBy: $order, first: $first, after: $after, last: $last,
                             status: $status) {{ {selection} }}
               {other} }} }} }}"
    )
}

backend_test! {
    async fn a_front_page_read_with_its_categories_is_the_pages_their_fields_read(backend) {
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        let authors = fixtures::users(db, "p", 3).await;
        fixtures::category(db, "a-empty").await;
        for (i, slug) in ["b-busy", "c-quiet", "d-late"].into_iter().enumerate() {
            let category = fixtures::category(db, slug).await;
            let threads = fixtures::bulk_threads(db, &category, &authors, 3 + 2 * i).await;
            fixtures::pin(db, &threads[i + 1]).await;
            fixtures::touch(db, &threads[0]).await;
            let mut locked = threads[1].clone().into_active_model();
            locked.status = Set(thread::Status::Locked);
            let _: thread::Model = locked.update(db).await.unwrap();
        }
        // Read ahead: one statement on Postgres; SQLite has no LATERAL join and reads
        // the categories first. Alone: the categories, then each of the two fields' pages.
        let ahead_statements = if backend == Backend::Postgres { 1 } else { 2 };
        let selections = [
            "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
             edges { cursor node { title isPinned status author { displayName role } } }",
            "nodes { title lastActivityAt author { displayName } }",
        ];
        for categories in ["first: 10", "first: 2", "last: 2"] {
            for selection in selections {
                for order in ["LATEST_ACTIVITY", "OLDEST"] {
                    // A cursor of one category's page ranks the threads of every one.
                    let first = "query($order: ThreadOrder!) { category(slug: \"d-late\") {
                        threads(first: 2, orderBy: $order) { pageInfo { endCursor } } } }";
                    let first = app.graphql(first, json!({ "order": order })).await;
                    let cursor = first["data"]["category"]["threads"]["pageInfo"]["endCursor"].clone();
                    assert!(cursor.is_string(), "{first}");
                    for (window, status) in [
                        (json!({ "first": 2 }), Value::Null),
                        (json!({ "first": 2, "after": cursor }), Value::Null),
                        (json!({ "last": 3 }), Value::Null),
                        (json!({ "first": 5 }), json!("LOCKED")),
                    ] {
                        // A count by status is one statement more either way.
                        let count = u64::from(!status.is_null() && selection.contains("totalCount"));
                        let mut vars = window.clone();
                        vars["order"] = json!(order);
                        vars["status"] = status;
                        let ahead = front_page(categories, selection, false);
                        let (ahead, fewer) = app.counted(&ahead, vars.clone()).await;
                        let alone = front_page(categories, selection, true);
                        let (alone, more) = app.counted(&alone, vars.clone()).await;
                        let what = format!("{categories} {selection} {vars}");
                        let (ahead, alone) = (&ahead["categories"], &alone["categories"]);
                        assert_eq!(ahead["pageInfo"], alone["pageInfo"], "{what}");
                        let beyond = if categories == "first: 2" { "hasNextPage" } else { "hasPreviousPage" };
                        assert_eq!(ahead["pageInfo"][beyond], categories != "first: 10", "{what}");
                        let (ahead, alone) = (&ahead["nodes"], &alone["nodes"]);
                        let listed = ahead.as_array().unwrap().len();
                        assert_eq!(listed, if categories == "first: 10" { 4 } else { 2 }, "{what}");
                        for i in 0..listed {
                            assert_eq!(ahead[i]["slug"], alone[i]["slug"], "{what}");
                            assert_eq!(ahead[i]["page"], alone[i]["page"], "{what}");
                        }
                        assert_eq!((fewer, more), (ahead_statements + count, 3 + count), "{what}");
                    }
                }
            }
        }
        // The whole answer once, through `edges { node }` this time, and both ways.
        let query = "{ categories(first: 10) { edges { node { slug
            threads(first: 10) { nodes { title isPinned } } } } } }";
        let (data, statements) = app.counted(query, json!({})).await;
        assert_eq!(statements, ahead_statements);
        let alone = "{ categories(first: 10) { edges { node { slug
            threads(first: 10) { nodes { title isPinned } } other: threads(first: 1) { nodes { title } } } } } }";
        let (alone, statements) = app.counted(alone, json!({})).await;
        assert_eq!(statements, 3);
        for i in 0..4 {
            let (ahead, alone) = (&data["categories"]["edges"][i]["node"], &alone["categories"]["edges"][i]["node"]);
            assert_eq!(ahead["threads"], alone["threads"], "{i}");
        }
        let edges = data["categories"]["edges"].as_array().unwrap();
        let slugs: Vec<&str> = edges.iter().map(|e| e["node"]["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, ["a-empty", "b-busy", "c-quiet", "d-late"]);
        assert_eq!(edges[0]["node"]["threads"]["nodes"], json!([]));
        let late = edges[3]["node"]["threads"]["nodes"].as_array().unwrap();
        assert_eq!(late.len(), 7);
        assert_eq!(late[0]["title"], "d-late thread 3", "pinned first");
        assert_eq!(late[0]["isPinned"], true);
        // Threads selected through both `nodes` and `edges`: nothing is read ahead, the
        // categories are read, then the one page both fields ask for.
        let both = "{ categories(first: 10) { nodes { threads(first: 1) { nodes { title } } }
            edges { node { threads(first: 1) { nodes { title } } } } } }";
        let (data, statements) = app.counted(both, json!({})).await;
        assert_eq!(statements, 2);
        assert_eq!(data["categories"]["nodes"][3]["threads"], data["categories"]["edges"][3]["node"]["threads"]);
    }
}

backend_test! {
    async fn a_level_of_more_than_five_hundred_parents_is_read_whole(backend) {
        // SQLite takes at most 500 `UNION ALL` branches in one statement: the replies of
        // a level of 600 threads are two statements there, one on Postgres.
        let app = TestApp::spawn(backend).await;
        let ann = fixtures::user(&app.db, "ann", entity::user::Role::Member).await;
        for i in 0..6 {
            let category = fixtures::category(&app.db, &format!("wide-{i}")).await;
            fixtures::bulk_threads(&app.db, &category, std::slice::from_ref(&ann), 100).await;
        }
        let query = "{ categories(first: 6) { nodes { threads(first: 100) {
            nodes { title replies(first: 1) { nodes { body } } } } } } }";
        let (data, statements) = app.counted(query, json!({})).await;
        let threads: Vec<&Value> = data["categories"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["threads"]["nodes"].as_array().unwrap())
            .collect();
        assert_eq!(threads.len(), 600);
        for thread in threads {
            let replies = thread["replies"]["nodes"].as_array().unwrap();
            assert_eq!(replies.len(), 1, "{thread}");
            assert!(replies[0]["body"].as_str().unwrap().starts_with("opening post"));
        }
        // The front page's statement(s) (1 on Postgres, 2 on SQLite), then the replies.
        let expected = match backend {
            Backend::Postgres => 2,
            Backend::Sqlite => 4,
        };
        assert_eq!(statements, expected);
    }
}
