//! Transactions on kept Postgres connections (`service::Tx`): a committed one keeps its
//! connection, one that is dropped, whole or cut short, is rolled back and releases its
//! locks, savepoints nest, and the statement timeout set in `BEGIN` stays inside it.

use std::time::Duration;

use sea_orm::{AccessMode, ConnectionTrait, IsolationLevel, TransactionSession, TransactionTrait};
use service::{
    Db,
    db::{self, PoolOptions},
};

use crate::{
    helpers::{Backend, TestDb},
    kept::{number, sql},
};

/// A handle on a fresh database with a one-row table, on a pool of `connections`.
async fn probe(connections: u32) -> Option<(TestDb, Db)> {
    let database = TestDb::create(Backend::postgres()?).await;
    let pool = PoolOptions {
        max_connections: connections,
        min_connections: 0,
        ..PoolOptions::default()
    };
    let db = Db::new(db::connect(&database.url, &pool).await.unwrap());
    db.execute_unprepared("CREATE TABLE probe (id int PRIMARY KEY, n int NOT NULL)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO probe VALUES (1, 0)")
        .await
        .unwrap();
    Some((database, db))
}

async fn n(db: &impl ConnectionTrait) -> i32 {
    let row = db
        .query_one_raw(sql("SELECT n FROM probe WHERE id = 1"))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

async fn set_n(db: &impl ConnectionTrait, value: i32) {
    db.execute_unprepared(&format!("UPDATE probe SET n = {value} WHERE id = 1"))
        .await
        .unwrap();
}

/// Sessions of this database left inside a transaction, polled until none or 5 s.
async fn idle_in_transaction(db: &Db) -> i32 {
    let mut left = 0;
    for _ in 0..50 {
        left = number(
            db,
            "SELECT count(*)::int FROM pg_stat_activity \
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
        )
        .await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_transaction_keeps_its_connection() {
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    let pid = number(&db, "SELECT pg_backend_pid()").await;
    let txn = db::begin_write(&db).await.unwrap();
    set_n(&txn, 1).await;
    assert_eq!(number(&txn, "SELECT pg_backend_pid()").await, pid);
    assert_eq!(db.kept_idle(), 0, "the transaction holds the connection");
    txn.commit().await.unwrap();
    assert_eq!(
        db.kept_idle(),
        1,
        "a committed transaction keeps its connection"
    );
    assert_eq!(n(&db).await, 1);
    assert_eq!(number(&db, "SELECT pg_backend_pid()").await, pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_is_rolled_back_and_releases_its_locks() {
    let Some((_database, db)) = probe(2).await else {
        return;
    };
    let txn = db::begin_write(&db).await.unwrap();
    set_n(&txn, 1).await;
    drop(txn);
    // The next writer of the row waits for the dropped one's lock, then sees its change
    // undone.
    let txn = db::begin_write(&db).await.unwrap();
    assert_eq!(n(&txn).await, 0);
    set_n(&txn, 2).await;
    txn.commit().await.unwrap();
    assert_eq!(n(&db).await, 2);
    assert_eq!(idle_in_transaction(&db).await, 0);

    // On a pool of one, the connection the dropped transaction held is the next one's.
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    let txn = db::begin_write(&db).await.unwrap();
    set_n(&txn, 1).await;
    drop(txn);
    let txn = db::begin_write(&db).await.unwrap();
    assert_eq!(
        n(&txn).await,
        0,
        "the dropped transaction's write is undone"
    );
    txn.commit().await.unwrap();
    assert_eq!(n(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_cut_short_mid_statement_is_rolled_back() {
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    let txn = db::begin_write(&db).await.unwrap();
    set_n(&txn, 1).await;
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        txn.query_all_raw(sql("SELECT 7 FROM pg_sleep(0.5)")),
    )
    .await;
    assert!(cut.is_err(), "the statement should have been cut short");
    drop(txn);
    assert_eq!(n(&db).await, 0);
    assert_eq!(number(&db, "SELECT 42").await, 42);
    assert_eq!(idle_in_transaction(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn savepoints_nest_inside_a_transaction() {
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    let outer = db.begin().await.unwrap();
    set_n(&outer, 1).await;

    let inner = outer.begin().await.unwrap();
    set_n(&inner, 2).await;
    assert!(
        outer.execute_unprepared("SELECT 1").await.is_err(),
        "the outer transaction waits for the savepoint inside it"
    );
    drop(inner);
    assert_eq!(n(&outer).await, 1, "a dropped savepoint is rolled back");

    let inner = outer.begin().await.unwrap();
    set_n(&inner, 3).await;
    inner.rollback().await.unwrap();
    assert_eq!(n(&outer).await, 1);

    let inner = outer.begin().await.unwrap();
    set_n(&inner, 4).await;
    inner.commit().await.unwrap();
    outer.commit().await.unwrap();
    assert_eq!(n(&db).await, 4);

    // The outermost cannot commit with a savepoint still open inside it; nothing commits.
    let outer = db.begin().await.unwrap();
    set_n(&outer, 5).await;
    let inner = outer.begin().await.unwrap();
    assert!(outer.commit().await.is_err());
    drop(inner);
    assert_eq!(n(&db).await, 4);
    assert_eq!(idle_in_transaction(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_timeout_is_the_transactions_own() {
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    let inside = db::with_statement_timeout(Duration::from_millis(300), async {
        let txn = db::begin_write(&db).await.unwrap();
        let row = txn
            .query_one_raw(sql("SHOW statement_timeout"))
            .await
            .unwrap()
            .unwrap();
        let slow = txn.execute_unprepared("SELECT pg_sleep(1)").await;
        (row.try_get_by_index::<String>(0).unwrap(), slow)
    })
    .await;
    assert_eq!(inside.0, "300ms");
    assert!(
        inside.1.is_err(),
        "a statement past the timeout is cancelled"
    );
    // Same connection, after the transaction: the server's default again.
    let row = db
        .query_one_raw(sql("SHOW statement_timeout"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_and_access_mode_reach_the_server() {
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    let txn = db
        .begin_with_config(
            Some(IsolationLevel::Serializable),
            Some(AccessMode::ReadOnly),
        )
        .await
        .unwrap();
    let row = txn
        .query_one_raw(sql("SELECT current_setting('transaction_isolation')"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "serializable");
    assert!(
        txn.execute_unprepared("UPDATE probe SET n = 9")
            .await
            .is_err(),
        "a read-only transaction refuses a write"
    );
    drop(txn);
    assert_eq!(n(&db).await, 0);
}
