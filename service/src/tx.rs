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
//! task, which keeps the connection if the `ROLLBACK` succeeds. sqlx's pool does not look
//! at a connection's transaction when it takes one back, so a connection whose
//! transaction's state is unknown (a statement that ends or begins one failed) is closed,
//! never handed back.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, PoisonError},
};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, IsolationLevel,
    QueryResult, Statement, TransactionError, TransactionOptions, TransactionSession,
    TransactionTrait,
};
use sqlx::PgConnection;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::{
    deadline,
    kept::{Kept, Taken},
    statement::{self, Callback},
};

/// A transaction on a [`crate::Db`]; see the module's documentation.
pub struct Tx(Kind);

enum Kind {
    /// SeaORM's, and whether it is a savepoint inside another.
    Orm(DatabaseTransaction, bool),
    Pg(PgTx),
}

/// One level of a Postgres transaction: the transaction itself, or a savepoint in it.
struct PgTx {
    shared: Arc<Shared>,
    /// Unique within the transaction, so that a handle on a level that has ended cannot
    /// act on a later level at the same depth.
    id: u64,
    ended: bool,
}

struct Shared {
    session: Mutex<Session>,
    /// Levels dropped without ending, to roll back before the next statement.
    dropped: std::sync::Mutex<Vec<u64>>,
    kept: Arc<Kept>,
    metric: Option<Callback>,
}

struct Session {
    /// `None` once the transaction has ended, or its connection was closed.
    taken: Option<Taken>,
    /// The ids of the levels open on the connection, outermost first.
    open: Vec<u64>,
    next_id: u64,
}

impl Tx {
    pub(crate) fn orm(txn: DatabaseTransaction) -> Self {
        Self(Kind::Orm(txn, false))
    }

    fn is_outermost(&self) -> bool {
        match &self.0 {
            Kind::Orm(_, nested) => !nested,
            Kind::Pg(tx) => tx.id == 0,
        }
    }

    /// Begins a transaction on a connection from `kept` with `begin`, a simple query
    /// (`BEGIN …`, and what should run with it).
    pub(crate) async fn begin_pg(
        kept: Arc<Kept>,
        metric: Option<Callback>,
        begin: &str,
    ) -> Result<Self, DbErr> {
        let taken = kept.take().await.map_err(crate::handle::acquire_error)?;
        // Counted open before `BEGIN` is sent: if this is cut short, dropping `shared`
        // rolls back whatever the server got.
        let shared = Arc::new(Shared {
            session: Mutex::new(Session {
                taken: Some(taken),
                open: vec![0],
                next_id: 1,
            }),
            dropped: std::sync::Mutex::default(),
            kept,
            metric,
        });
        shared.session.lock().await.run(begin).await?;
        Ok(Self(Kind::Pg(PgTx {
            shared,
            id: 0,
            ended: false,
        })))
    }
}

impl PgTx {
    /// The session, with dropped levels rolled back, if this level is the innermost open.
    async fn session(&self) -> Result<MutexGuard<'_, Session>, DbErr> {
        let mut session = self.shared.session.lock().await;
        let dropped = self.shared.dropped().clone();
        if !dropped.is_empty() {
            if let Some(depth) = session.open.iter().position(|id| dropped.contains(id)) {
                session.run(&end_sql(depth + 1, false)).await?;
                session.open.truncate(depth);
            }
            // Marks of levels no longer open are done with (ids are never reused).
            self.shared.dropped().retain(|id| session.open.contains(id));
        }
        if session.taken.is_none() || session.open.last() != Some(&self.id) {
            return Err(DbErr::Custom(
                "the transaction has ended, or one begun inside it is still open".into(),
            ));
        }
        Ok(session)
    }

    async fn conn(&self) -> Result<MappedMutexGuard<'_, PgConnection>, DbErr> {
        let session = self.session().await?;
        MutexGuard::try_map(session, |s| s.taken.as_mut().map(|t| &mut *t.conn))
            .map_err(|_| DbErr::Custom("the transaction's connection was closed".into()))
    }

    async fn query(&self, stmt: &Statement) -> Result<Vec<QueryResult>, DbErr> {
        let metric = self.shared.metric.as_ref();
        statement::query(&mut *self.conn().await?, stmt, metric).await
    }

    async fn savepoint(&self) -> Result<Self, DbErr> {
        let mut session = self.session().await?;
        let level = session.open.len() + 1;
        session.run(&format!("SAVEPOINT sp{level}")).await?;
        let id = session.next_id;
        session.next_id += 1;
        session.open.push(id);
        Ok(Self {
            shared: self.shared.clone(),
            id,
            ended: false,
        })
    }

    /// Until it succeeds, the level is still open: dropping `self` marks it dropped.
    async fn end(mut self, commit: bool) -> Result<(), DbErr> {
        let outermost = {
            let mut session = self.session().await?;
            let depth = session.open.len();
            session.run(&end_sql(depth, commit)).await?;
            session.open.pop();
            if depth == 1 {
                session.taken.take()
            } else {
                None
            }
        };
        self.ended = true;
        if let Some(taken) = outermost {
            self.shared.kept.keep(taken);
        }
        Ok(())
    }
}

impl Shared {
    fn dropped(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        // Nothing panics while holding the lock; a poisoned list is still a list.
        self.dropped.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What ends the level at `depth` (1: the transaction).
fn end_sql(depth: usize, commit: bool) -> String {
    match (depth, commit) {
        (1, true) => "COMMIT".to_owned(),
        (1, false) => "ROLLBACK".to_owned(),
        (_, true) => format!("RELEASE SAVEPOINT sp{depth}"),
        (_, false) => format!("ROLLBACK TO SAVEPOINT sp{depth}; RELEASE SAVEPOINT sp{depth}"),
    }
}

impl Session {
    /// Runs `sql`, which begins or ends a level. If it fails, the state of the
    /// transaction is unknown and the connection is closed.
    async fn run(&mut self, sql: &str) -> Result<(), DbErr> {
        let Some(taken) = &mut self.taken else {
            return Err(DbErr::Custom(
                "the transaction's connection was closed".into(),
            ));
        };
        if let Err(e) = statement::execute_unprepared(&mut taken.conn, sql).await {
            taken.conn.close_on_drop();
            self.taken = None;
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.dropped().push(self.id);
        }
    }
}

/// The last handle on a transaction is gone: its connection is kept if no level is open,
/// else rolled back by a task that then keeps it, or closes it if the rollback fails (a
/// statement cut short may have left an error to read first, which sqlx reports instead
/// of running the `ROLLBACK`).
impl Drop for Shared {
    fn drop(&mut self) {
        let session = self.session.get_mut();
        let Some(mut taken) = session.taken.take() else {
            return;
        };
        if session.open.is_empty() {
            self.kept.keep(taken);
            return;
        }
        let kept = self.kept.clone();
        // Transactions live inside the runtime, as sqlx's connections must.
        tokio::spawn(async move {
            match statement::execute_unprepared(&mut taken.conn, "ROLLBACK").await {
                Ok(_) => kept.keep(taken),
                Err(_) => taken.conn.close_on_drop(),
            }
        });
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Tx {
    fn get_database_backend(&self) -> DbBackend {
        match &self.0 {
            Kind::Orm(txn, _) => txn.get_database_backend(),
            Kind::Pg(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.0 {
            Kind::Orm(txn, _) => txn.execute_raw(stmt).await,
            Kind::Pg(tx) => {
                let metric = tx.shared.metric.as_ref();
                statement::execute(&mut *tx.conn().await?, &stmt, metric).await
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.0 {
            Kind::Orm(txn, _) => txn.execute_unprepared(sql).await,
            Kind::Pg(tx) => statement::execute_unprepared(&mut *tx.conn().await?, sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.0 {
            Kind::Orm(txn, _) => txn.query_one_raw(stmt).await,
            Kind::Pg(tx) => Ok(tx.query(&stmt).await?.into_iter().next()),
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.0 {
            Kind::Orm(txn, _) => txn.query_all_raw(stmt).await,
            Kind::Pg(tx) => tx.query(&stmt).await,
        }
    }
}

#[async_trait::async_trait]
impl TransactionSession for Tx {
    /// Past its request's deadline the outermost level rolls back instead (see
    /// `deadline`); a savepoint's release makes nothing durable, so it is not counted.
    async fn commit(self) -> Result<(), DbErr> {
        if self.is_outermost() && !deadline::may_commit() {
            self.rollback().await?;
            return Err(DbErr::Custom(deadline::TOO_LATE.to_owned()));
        }
        match self.0 {
            Kind::Orm(txn, _) => txn.commit().await,
            Kind::Pg(tx) => tx.end(true).await,
        }
    }

    async fn rollback(self) -> Result<(), DbErr> {
        match self.0 {
            Kind::Orm(txn, _) => txn.rollback().await,
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
            Kind::Orm(txn, _) => Ok(Tx(Kind::Orm(txn.begin().await?, true))),
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
