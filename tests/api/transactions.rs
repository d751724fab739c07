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

/// Writes in a transaction, cuts `statement` short inside it and drops the transaction:
/// nothing of it stays, and the next statements answer (on a pool of one, on the same
/// connection unless it was closed).
async fn cut_short_and_dropped(statement: &str) {
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    let txn = db::begin_write(&db).await.unwrap();
    set_n(&txn, 1).await;
    let cut = tokio::time::timeout(Duration::from_millis(50), txn.query_all_raw(sql(statement)));
    assert!(
        cut.await.is_err(),
        "the statement should have been cut short"
    );
    drop(txn);
    assert_eq!(n(&db).await, 0);
    assert_eq!(number(&db, "SELECT 42").await, 42);
    assert_eq!(idle_in_transaction(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_cut_short_mid_statement_is_rolled_back() {
    cut_short_and_dropped("SELECT 7 FROM pg_sleep(0.5)").await;
}

/// Under a request's deadline: a savepoint's release commits nothing, so it does not count
/// as a sent `COMMIT`; past the deadline the transaction's own commit is refused and rolled
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_outermost_commit_counts_against_the_deadline() {
    use std::sync::Arc;

    use service::deadline::{self, Deadline};
    let Some((_database, db)) = probe(2).await else {
        return;
    };
    let watched = Arc::new(Deadline::default());
    deadline::scope(watched.clone(), async {
        let outer = db.begin().await.unwrap();
        let inner = outer.begin().await.unwrap();
        inner
            .execute_unprepared("UPDATE probe SET n = 1")
            .await
            .unwrap();
        inner.commit().await.unwrap();
        assert!(watched.pass(), "a released savepoint sent no COMMIT");
        let refused = outer.commit().await.expect_err("past the deadline");
        assert!(service::Error::from(refused).is_timeout());
    })
    .await;
    assert_eq!(n(&db).await, 0, "rolled back");
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

    // A savepoint that fails to commit (one is open inside it) is still open, and rolled
    // back once dropped; a handle on a level that has ended does not reach the savepoint
    // opened later at the same depth.
    let outer = db.begin().await.unwrap();
    let middle = outer.begin().await.unwrap();
    let inner = middle.begin().await.unwrap();
    set_n(&inner, 5).await;
    assert!(middle.commit().await.is_err());
    set_n(&outer, 6).await;
    assert!(inner.execute_unprepared("SELECT 1").await.is_err());
    let again = outer.begin().await.unwrap();
    let deeper = again.begin().await.unwrap();
    assert!(inner.execute_unprepared("SELECT 1").await.is_err());
    drop(inner);
    set_n(&deeper, 7).await;
    deeper.commit().await.unwrap();
    again.commit().await.unwrap();
    outer.commit().await.unwrap();
    assert_eq!(n(&db).await, 7);

    // The outermost cannot commit with a savepoint still open inside it; nothing commits.
    let outer = db.begin().await.unwrap();
    set_n(&outer, 8).await;
    let inner = outer.begin().await.unwrap();
    assert!(outer.commit().await.is_err());
    drop(inner);
    assert_eq!(n(&db).await, 7);
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
    let cancelled = service::Error::from(
        inside
            .1
            .expect_err("a statement past the timeout is cancelled"),
    );
    assert!(cancelled.is_timeout(), "{cancelled:?}");
    // Same connection, after the transaction: the server's default again.
    let row = db
        .query_one_raw(sql("SHOW statement_timeout"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "0");
}

/// Postgres codes whose number ends like SQLite's BUSY (5 in the low byte) are not one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_cancelled_statement_is_a_timeout() {
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    for (code, timeout) in [("57014", true), ("42501", false), ("22021", false)] {
        let raised = db
            .execute_unprepared(&format!(
                "DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{code}'; END $$"
            ))
            .await
            .expect_err("raised");
        assert_eq!(service::Error::from(raised).is_timeout(), timeout, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_run_read_committed_whatever_the_default() {
    let Some((_database, db)) = probe(1).await else {
        return;
    };
    // On the pool's one connection, for the rest of its session.
    db.execute_unprepared("SET default_transaction_isolation = 'serializable'")
        .await
        .unwrap();
    let txn = db::begin_write(&db).await.unwrap();
    let row = txn
        .query_one_raw(sql("SHOW transaction_isolation"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "read committed");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_cut_short_while_it_begins_leaves_no_transaction_behind() {
    let Some((database, db)) = probe(1).await else {
        return;
    };
    let other = Db::new(
        db::connect(&database.url, &PoolOptions::default())
            .await
            .unwrap(),
    );
    let mut cut = 0;
    for i in 1..=20 {
        assert_eq!(
            n(&db).await,
            i - 1,
            "the connection is kept for the next begin"
        );
        // Polled once: the connection is taken and `BEGIN` sent, then the future is
        // dropped before the answer (unless the answer was already there).
        let mut begin = Box::pin(db::begin_write(&db));
        if futures_util::poll!(begin.as_mut()).is_pending() {
            cut += 1;
        }
        drop(begin);
        // A write outside a transaction is seen by another session at once: it did not
        // land inside the transaction the cut-short `BEGIN` opened.
        set_n(&db, i).await;
        assert_eq!(n(&other).await, i);
    }
    assert!(cut > 0, "no BEGIN was cut short");
    assert_eq!(idle_in_transaction(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_rollback_fails_is_closed_not_reused() {
    // Cut short, the statement still fails on the server afterwards; that error is read
    // before anything sent later, so the `ROLLBACK` of the dropped transaction fails.
    cut_short_and_dropped("SELECT 1 / (random() * 0)::int FROM pg_sleep(0.3)").await;
}

/// The embedded database syncs every commit (an acknowledged webhook must survive a power
/// loss), with readers beside the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_commits_are_durable() {
    let app = crate::helpers::TestApp::spawn(Backend::Sqlite).await;
    let pragma = |name: &str| {
        sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, format!("PRAGMA {name}"))
    };
    let row = app
        .db
        .query_one_raw(pragma("synchronous"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 2, "FULL");
    let row = app
        .db
        .query_one_raw(pragma("journal_mode"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "wal");
}

/// Reads run outside transactions, so only the role or the database can bound them; the
/// start-up check reads what the server will apply to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_read_timeout_is_read() {
    let Some((database, db)) = probe(1).await else {
        return;
    };
    for (set, read) in [("'7s'", Some("7s")), ("0", None)] {
        db.execute_unprepared(&format!(
            "ALTER DATABASE \"{}\" SET statement_timeout = {set}",
            database.name
        ))
        .await
        .unwrap();
        let fresh = Db::new(
            db::connect(&database.url, &PoolOptions::default())
                .await
                .unwrap(),
        );
        assert_eq!(
            api::database::read_timeout(&fresh)
                .await
                .unwrap()
                .as_deref(),
            read
        );
    }
}
