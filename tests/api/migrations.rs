//! Migrations run up, down and up again cleanly; every foreign key is indexed.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, IdenStatic, Iterable, Statement};

use crate::helpers::{Backend, TestDb};

const TABLES: [&str; 5] = [
    "user",
    "categories",
    "threads",
    "thread_replies",
    "reply_votes",
];

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let mut names = names(db, sql).await;
    names.retain(|n| n != "seaql_migrations");
    names
}

/// The `name` column of `sql`'s rows.
async fn names(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// A table's columns in the order `SELECT *` returns them.
async fn columns(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => format!(
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
        ),
        _ => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
    };
    names(db, &sql).await
}

fn entity_columns<C: Iterable + IdenStatic>() -> Vec<String> {
    C::iter().map(|c| c.as_str().to_owned()).collect()
}

/// (table, column) of every foreign key that no index leads with.
async fn unindexed_foreign_keys(db: &DatabaseConnection) -> Vec<(String, String)> {
    let backend = db.get_database_backend();
    let mut missing = Vec::new();
    if backend == DbBackend::Postgres {
        let sql = "SELECT c.conrelid::regclass::text AS tbl, a.attname AS col, \
                   array_length(c.conkey, 1) AS width, \
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid \
                           AND i.indkey[0] = c.conkey[1]) AS indexed \
                   FROM pg_constraint c \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
                   WHERE c.contype = 'f'";
        for row in db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
        {
            let width: i32 = row.try_get("", "width").unwrap();
            assert_eq!(width, 1, "multi-column foreign keys need a wider check");
            if !row.try_get::<bool>("", "indexed").unwrap() {
                missing.push((
                    row.try_get("", "tbl").unwrap(),
                    row.try_get("", "col").unwrap(),
                ));
            }
        }
        assert!(!TABLES.is_empty());
        return missing;
    }
    for table in TABLES {
        let fks = db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT \"from\" AS col FROM pragma_foreign_key_list('{table}')"),
            ))
            .await
            .unwrap();
        let leading = db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT ii.name AS col FROM pragma_index_list('{table}') il \
                     JOIN pragma_index_info(il.name) ii ON ii.seqno = 0"
                ),
            ))
            .await
            .unwrap();
        let leading: Vec<String> = leading
            .iter()
            .map(|r| r.try_get("", "col").unwrap())
            .collect();
        for fk in fks {
            let col: String = fk.try_get("", "col").unwrap();
            if !leading.contains(&col) {
                missing.push((table.to_owned(), col));
            }
        }
    }
    missing
}

backend_test! {
    async fn up_down_up(backend) {
        let database = match backend {
            Backend::Sqlite => TestDb::create(backend).await,
            Backend::Postgres => TestDb::postgres(false).await,
        };
        let url = &database.url;
        api::database::migrate(url).await.unwrap();
        let db = service::db::connect(url, &Default::default()).await.unwrap();
        let mut expected: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        expected.sort();
        assert_eq!(tables(&db).await, expected);
        assert_eq!(unindexed_foreign_keys(&db).await, Vec::<(String, String)>::new());
        // Page rows are read by position (`service/src/rows.rs`).
        assert_eq!(columns(&db, "user").await, entity_columns::<entity::user::Column>());
        assert_eq!(columns(&db, "threads").await, entity_columns::<entity::thread::Column>());
        assert_eq!(
            columns(&db, "thread_replies").await,
            entity_columns::<entity::reply::Column>()
        );

        api::database::migrate_down(url).await.unwrap();
        assert_eq!(tables(&db).await, Vec::<String>::new());

        api::database::migrate(url).await.unwrap();
        assert_eq!(tables(&db).await, expected);
        // Applying again finds nothing to do.
        api::database::migrate(url).await.unwrap();
        db.close().await.unwrap();
    }
}

backend_test! {
    async fn constraints_hold(backend) {
        let app = crate::helpers::TestApp::spawn(backend).await;
        let db = &app.db;
        let exec = |sql: String| {
            db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        };
        let t = "'2026-01-01T00:00:00Z'";
        let role = |role: &str| format!(
            "INSERT INTO \"user\" (id, role, created_at, updated_at) VALUES ('u_{role}', '{role}', {t}, {t})");
        assert!(exec(role("root")).await.is_err(), "unknown role");
        exec(role("moderator")).await.unwrap();

        let voter = crate::fixtures::user(db, "v", entity::user::Role::Member).await;
        let category = crate::fixtures::category(db, "c1").await;
        let dup = format!(
            "INSERT INTO categories (id, slug, name, created_at, thread_count) VALUES ({}, 'c1', 'x', {t}, 0)",
            uuid_literal(db, uuid::Uuid::now_v7()));
        assert!(exec(dup).await.is_err(), "slug must be unique");

        let (thread, replies) = crate::fixtures::thread(db, &category, &[&voter], "t", 1).await;
        let status = format!("UPDATE threads SET status = 'archived' WHERE id = {}", uuid_literal(db, thread.id));
        assert!(exec(status).await.is_err(), "status must be open or locked");

        let reply = uuid_literal(db, replies[0].id);
        let vote = |v: i32| format!(
            "INSERT INTO reply_votes (reply_id, voter_id, value, created_at, updated_at) VALUES ({reply}, '{}', {v}, {t}, {t})",
            voter.id);
        assert!(exec(vote(2)).await.is_err(), "vote value must be -1 or 1");
        exec(vote(1)).await.unwrap();
        assert!(exec(vote(-1)).await.is_err(), "one vote per (reply, voter)");
        let tally = format!("UPDATE thread_replies SET score = 5 WHERE id = {reply}");
        assert!(exec(tally).await.is_err(), "score must equal upvotes - downvotes");
        let orphan = format!(
            "INSERT INTO threads (id, category_id, author_id, title, status, is_pinned, created_at, last_activity_at, reply_count) VALUES ({}, {}, 'nobody', 'x', 'open', false, {t}, {t}, 0)",
            uuid_literal(db, uuid::Uuid::now_v7()), uuid_literal(db, category.id));
        assert!(exec(orphan).await.is_err(), "author must exist");
    }
}

fn uuid_literal(db: &impl ConnectionTrait, id: uuid::Uuid) -> String {
    match db.get_database_backend() {
        DbBackend::Postgres => format!("'{id}'"),
        _ => format!("X'{}'", id.simple()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_migrate_once() {
    if Backend::postgres().is_none() {
        return;
    }
    let database = TestDb::postgres(false).await;
    // With a role or database default as short as this (the README advises one for
    // reads), the waits for the others' migrations would time out unless migrations lift it.
    let admin = service::db::connect(&database.url, &Default::default())
        .await
        .unwrap();
    for setting in ["statement_timeout", "lock_timeout"] {
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{}\" SET {setting} = '5ms'",
                database.name
            ))
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
    let runs = (0..4).map(|_| api::database::migrate(&database.url));
    for result in futures_util::future::join_all(runs).await {
        result.unwrap();
    }
    let db = service::db::connect(&database.url, &Default::default())
        .await
        .unwrap();
    let applied = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(
        applied as usize,
        <migration::Migrator as migration::MigratorTrait>::migrations().len()
    );
    db.close().await.unwrap();
}

backend_test! {
    /// Instances that start together on an empty database seed it once, and a demo user an
    /// operator made first (to give it a role) does not stop the seeding.
    async fn the_demo_is_seeded_once_however_many_start(backend) {
        let database = TestDb::create(backend).await;
        api::database::migrate(&database.url).await.unwrap();
        let pool = service::db::PoolOptions::default();
        let a = service::Db::new(service::db::connect(&database.url, &pool).await.unwrap());
        let b = service::Db::new(service::db::connect(&database.url, &pool).await.unwrap());
        crate::fixtures::user(&a, "user_demo_alice", entity::user::Role::Admin).await;
        let (first, second) = futures_util::join!(
            service::seed::demo_if_empty(&a),
            service::seed::demo_if_empty(&b)
        );
        let mut seeded = [first.unwrap(), second.unwrap()];
        seeded.sort();
        assert_eq!(seeded, [false, true]);
        use sea_orm::{EntityTrait, PaginatorTrait};
        assert_eq!(entity::user::Entity::find().count(&a).await.unwrap(), 5, "the demo's five users, once");
    }
}
