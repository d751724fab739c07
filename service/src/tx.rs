//! `Tx`, a transaction on a `Db`.
//!
//! On Postgres it runs on a connection from `kept` and, once committed, that connection is
//! kept again. SeaORM's own transaction would take one from sqlx's pool, which pings it
//! when it comes back (see `kept`), and it would need a round trip of its own for the
//! statement timeout, which here rides in the `BEGIN` query. A transaction begun inside
//! one is a savepoint on the same connection. Elsewhere (SQLite) `Tx` is SeaORM's.
//!
//! Dropping a transaction that did not end rolls it back, though `Drop` cannot wait: a
//! dropped savepoint is rolled back before the next statement on its connection, and a
//! dropped outermost transaction, once no savepoint inside it holds the connection, by a
//! task, which keeps the connection if the `ROLLBACK` succeeds. A connection is never
//! kept with a transaction open.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, IsolationLevel,
    QueryResult, Statement, TransactionError, TransactionOptions, TransactionSession,
    TransactionTrait,
};
use sqlx::PgConnection;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::{
    kept::{Kept, Taken},
    statement::{self, Callback},
};

/// A transaction on a [`crate::Db`]; see the module's documentation.
pub struct Tx(Kind);

enum Kind {
    Orm(DatabaseTransaction),
    Pg(PgTx),
}

/// One level of a Postgres transaction: 1 is the transaction, 2 and up its savepoints.
struct PgTx {
    shared: Arc<Shared>,
    level: usize,
    ended: bool,
}

const NONE: usize = usize::MAX;

struct Shared {
    session: Mutex<Session>,
    /// The outermost level dropped without ending (`NONE`: none), to roll back first.
    dropped: AtomicUsize,
    kept: Arc<Kept>,
    metric: Option<Callback>,
}

struct Session {
    /// `None` once the transaction has ended, or its connection failed.
    taken: Option<Taken>,
    /// Levels open on the connection.
    open: usize,
}

impl Tx {
    pub(crate) fn orm(txn: DatabaseTransaction) -> Self {
        Self(Kind::Orm(txn))
    }

    /// Begins a transaction on a connection from `kept` with `begin`, a simple query
    /// (`BEGIN …`, and what should run with it).
    pub(crate) async fn begin_pg(
        kept: Arc<Kept>,
        metric: Option<Callback>,
        begin: &str,
    ) -> Result<Self, DbErr> {
        let mut taken = kept.take().await.map_err(crate::handle::acquire_error)?;
        if let Err(e) = statement::execute_unprepared(&mut taken.conn, begin).await {
            // Where a multi-statement `BEGIN` failed is unknown: the connection is closed.
            taken.conn.close_on_drop();
            return Err(e);
        }
        let shared = Shared {
            session: Mutex::new(Session {
                taken: Some(taken),
                open: 1,
            }),
            dropped: AtomicUsize::new(NONE),
            kept,
            metric,
        };
        Ok(Self(Kind::Pg(PgTx {
            shared: Arc::new(shared),
            level: 1,
            ended: false,
        })))
    }
}

impl PgTx {
    /// The session, with dropped levels rolled back, if this level is the innermost open.
    async fn session(&self) -> Result<MutexGuard<'_, Session>, DbErr> {
        let mut session = self.shared.session.lock().await;
        let dropped = self.shared.dropped.swap(NONE, Ordering::AcqRel);
        if dropped <= session.open {
            session.run(&end_sql(dropped, false), dropped - 1).await?;
        }
        if session.taken.is_none() || session.open != self.level {
            return Err(DbErr::Custom(
                "the transaction has ended, or one begun inside it is still open".into(),
            ));
        }
        Ok(session)
    }

    async fn conn(&self) -> Result<MappedMutexGuard<'_, PgConnection>, DbErr> {
        let session = self.session().await?;
        MutexGuard::try_map(session, |s| s.taken.as_mut().map(|t| &mut *t.conn))
            .map_err(|_| DbErr::Custom("the transaction's connection failed".into()))
    }

    async fn savepoint(&self) -> Result<Self, DbErr> {
        let mut session = self.session().await?;
        let level = self.level + 1;
        session.run(&format!("SAVEPOINT sp{level}"), level).await?;
        Ok(Self {
            shared: self.shared.clone(),
            level,
            ended: false,
        })
    }

    async fn end(mut self, commit: bool) -> Result<(), DbErr> {
        self.ended = true;
        let mut session = self.session().await?;
        session
            .run(&end_sql(self.level, commit), self.level - 1)
            .await?;
        if self.level == 1
            && let Some(taken) = session.taken.take()
        {
            self.shared.kept.keep(taken);
        }
        Ok(())
    }
}

/// What ends `level`: the transaction (1) or a savepoint.
fn end_sql(level: usize, commit: bool) -> String {
    match (level, commit) {
        (1, true) => "COMMIT".to_owned(),
        (1, false) => "ROLLBACK".to_owned(),
        (_, true) => format!("RELEASE SAVEPOINT sp{level}"),
        (_, false) => format!("ROLLBACK TO SAVEPOINT sp{level}; RELEASE SAVEPOINT sp{level}"),
    }
}

impl Session {
    /// Runs `sql`, after which `open` levels are; if it fails, the connection goes back
    /// to sqlx, closed, as the state of its transaction is unknown.
    async fn run(&mut self, sql: &str, open: usize) -> Result<(), DbErr> {
        let Some(taken) = &mut self.taken else {
            return Ok(());
        };
        if let Err(e) = statement::execute_unprepared(&mut taken.conn, sql).await {
            taken.conn.close_on_drop();
            self.taken = None;
            return Err(e);
        }
        self.open = open;
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.dropped.fetch_min(self.level, Ordering::AcqRel);
        }
    }
}

/// The last handle on a transaction is gone: its connection is kept, or rolled back by
/// a task that then keeps it.
impl Drop for Shared {
    fn drop(&mut self) {
        let session = self.session.get_mut();
        let Some(mut taken) = session.taken.take() else {
            return;
        };
        if session.open == 0 {
            self.kept.keep(taken);
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            taken.conn.close_on_drop();
            return;
        };
        let kept = self.kept.clone();
        runtime.spawn(async move {
            if statement::execute_unprepared(&mut taken.conn, "ROLLBACK")
                .await
                .is_ok()
            {
                kept.keep(taken);
            }
        });
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Tx {
    fn get_database_backend(&self) -> DbBackend {
        match &self.0 {
            Kind::Orm(txn) => txn.get_database_backend(),
            Kind::Pg(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.0 {
            Kind::Orm(txn) => txn.execute_raw(stmt).await,
            Kind::Pg(tx) => {
                let metric = tx.shared.metric.as_ref();
                statement::execute(&mut *tx.conn().await?, &stmt, metric).await
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.0 {
            Kind::Orm(txn) => txn.execute_unprepared(sql).await,
            Kind::Pg(tx) => statement::execute_unprepared(&mut *tx.conn().await?, sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.0 {
            Kind::Orm(txn) => txn.query_one_raw(stmt).await,
            Kind::Pg(tx) => {
                let metric = tx.shared.metric.as_ref();
                let rows = statement::query(&mut *tx.conn().await?, &stmt, true, metric).await?;
                Ok(rows.into_iter().next().map(QueryResult::from))
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.0 {
            Kind::Orm(txn) => txn.query_all_raw(stmt).await,
            Kind::Pg(tx) => {
                let metric = tx.shared.metric.as_ref();
                let rows = statement::query(&mut *tx.conn().await?, &stmt, false, metric).await?;
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
        }
    }
}

#[async_trait::async_trait]
impl TransactionSession for Tx {
    async fn commit(self) -> Result<(), DbErr> {
        match self.0 {
            Kind::Orm(txn) => txn.commit().await,
            Kind::Pg(tx) => tx.end(true).await,
        }
    }

    async fn rollback(self) -> Result<(), DbErr> {
        match self.0 {
            Kind::Orm(txn) => txn.rollback().await,
            Kind::Pg(tx) => tx.end(false).await,
        }
    }
}

/// Inside a transaction, options are not applied: a savepoint has its enclosing
/// transaction's.
#[async_trait::async_trait]
impl TransactionTrait for Tx {
    type Transaction = Tx;

    async fn begin(&self) -> Result<Tx, DbErr> {
        match &self.0 {
            Kind::Orm(txn) => Ok(Tx::orm(txn.begin().await?)),
            Kind::Pg(tx) => Ok(Tx(Kind::Pg(tx.savepoint().await?))),
        }
    }

    async fn begin_with_config(
        &self,
        _isolation_level: Option<IsolationLevel>,
        _access_mode: Option<AccessMode>,
    ) -> Result<Tx, DbErr> {
        self.begin().await
    }

    async fn begin_with_options(&self, _options: TransactionOptions) -> Result<Tx, DbErr> {
        self.begin().await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c Tx) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        run(self.begin().await, callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        _isolation_level: Option<IsolationLevel>,
        _access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c Tx) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        run(self.begin().await, callback).await
    }
}

/// Runs `callback` in `txn`, committing if it succeeds and rolling back if it fails.
pub(crate) async fn run<F, T, E>(
    txn: Result<Tx, DbErr>,
    callback: F,
) -> Result<T, TransactionError<E>>
where
    F: for<'c> FnOnce(&'c Tx) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
    T: Send,
    E: std::fmt::Display + std::fmt::Debug + Send,
{
    let txn = txn.map_err(TransactionError::Connection)?;
    match callback(&txn).await {
        Ok(value) => {
            txn.commit().await.map_err(TransactionError::Connection)?;
            Ok(value)
        }
        Err(e) => {
            txn.rollback().await.map_err(TransactionError::Connection)?;
            Err(TransactionError::Transaction(e))
        }
    }
}
