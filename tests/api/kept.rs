//! Postgres connections kept between reads (`service::Db`): a read keeps its connection,
//! a read cut short does not leave it dirty, and kept connections never stand in the way
//! of a writer or of the readiness check.

use std::time::Duration;

use futures_util::future::join_all;
use hyper::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionSession};
use serde_json::json;
use service::{
    Db,
    db::{self, PoolOptions},
};

use crate::helpers::{Backend, TestApp, TestDb};

pub(crate) fn sql(text: &str) -> Statement {
    Statement::from_string(DbBackend::Postgres, text)
}

pub(crate) async fn number(db: &impl ConnectionTrait, text: &str) -> i32 {
    let row = db.query_one_raw(sql(text)).await.unwrap().unwrap();
    row.try_get_by_index(0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_keeps_its_connection_and_one_cut_short_gives_it_back_clean() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let database = TestDb::create(backend).await;
    let pool = PoolOptions {
        max_connections: 1,
        min_connections: 0,
        ..PoolOptions::default()
    };
    let db = Db::new(db::connect(&database.url, &pool).await.unwrap());

    let backend_pid = number(&db, "SELECT pg_backend_pid()").await;
    assert_eq!(db.kept_idle(), 1, "a completed read keeps its connection");
    assert_eq!(number(&db, "SELECT pg_backend_pid()").await, backend_pid);

    // Dropped mid-statement: the connection still owes the statement's rows, so it must
    // go back to sqlx (which drains it) rather than to the next read.
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        db.query_all_raw(sql("SELECT 7 FROM pg_sleep(0.5)")),
    )
    .await;
    assert!(cut.is_err(), "the read should have been cut short");
    assert_eq!(db.kept_idle(), 0);
    assert_eq!(number(&db, "SELECT 42").await, 42);
    assert_eq!(number(&db, "SELECT pg_backend_pid()").await, backend_pid);

    // A statement that fails does not poison the next one either.
    assert!(db.query_one_raw(sql("SELECT 1/0")).await.is_err());
    assert_eq!(number(&db, "SELECT 43").await, 43);
    assert_eq!(db.kept_idle(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_readiness_get_a_connection_while_every_one_is_kept() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = TestApp::spawn_with(backend, &[("DATABASE_MAX_CONNECTIONS", "2")]).await;
    // Two reads at once until both connections are kept. (More than the pool holds would
    // leave some waiting on sqlx, and a connection finishing while one waits goes back to
    // sqlx instead: where each lands then depends on timing.)
    for _ in 0..100 {
        join_all((0..2).map(|_| app.data("{ categories(first: 5) { totalCount } }", json!({}))))
            .await;
        if app.db.kept_idle() == 2 {
            break;
        }
    }
    assert_eq!(app.db.pool_stats(), Some((2, 2)));
    assert_eq!(app.db.kept_idle(), 2, "both connections should be kept");

    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    // sqlx has no idle connection: the writer must take a kept one.
    let txn = db::begin_write(&app.db).await.unwrap();
    txn.execute_unprepared("SELECT 1").await.unwrap();
    txn.commit().await.unwrap();
    // And many writers at once, with reads in between.
    let writers = (0..6).map(|i| {
        let db = app.db.clone();
        async move {
            let txn = db::begin_write(&db).await.unwrap();
            txn.execute_unprepared(&format!("SELECT {i}"))
                .await
                .unwrap();
            txn.commit().await.unwrap();
            number(&db, "SELECT 1").await
        }
    });
    assert_eq!(join_all(writers).await, vec![1; 6]);
}
