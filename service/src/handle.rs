//! `Db`, the handle requests run on: SeaORM's connection, except that on Postgres every
//! statement and transaction runs on a connection kept between uses (`kept`, `tx`).

use std::{future::Future, pin::Pin, sync::Arc};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, IsolationLevel,
    QueryResult, RuntimeErr, Statement, TransactionError, TransactionOptions, TransactionTrait,
    error::ConnAcquireErr, metric::Info,
};
use sqlx::PgConnection;

use crate::{
    kept::Kept,
    statement::{self, Callback},
    tx::{self, Tx},
};

/// Cloned per use; `Default` is a handle to nothing (as `DatabaseConnection`'s is).
#[derive(Clone, Default)]
pub struct Db {
    orm: DatabaseConnection,
    kept: Option<Arc<Kept>>,
    metric: Option<Callback>,
}

impl Db {
    /// Inside a Tokio runtime: on Postgres, a task hands stale kept connections back.
    pub fn new(orm: DatabaseConnection) -> Self {
        let kept = (orm.get_database_backend() == DbBackend::Postgres)
            .then(|| Kept::new(orm.get_postgres_connection_pool().clone()));
        Self {
            orm,
            kept,
            metric: None,
        }
    }

    /// Calls `callback` after every statement, whichever way it ran.
    pub fn set_metric_callback<F>(&mut self, callback: F)
    where
        F: Fn(&Info<'_>) + Send + Sync + 'static,
    {
        let callback: Callback = Arc::new(callback);
        let orm = callback.clone();
        self.orm.set_metric_callback(move |info| orm(info));
        self.metric = Some(callback);
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), DbErr> {
        let Some(kept) = &self.kept else {
            return self.orm.ping().await;
        };
        let mut taken = kept.take().await.map_err(acquire_error)?;
        sqlx::Connection::ping(&mut *taken.conn)
            .await
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e.into())))?;
        kept.keep(taken);
        Ok(())
    }

    /// Connections open to the database and, of those, idle (`None` for a backend
    /// without a pool).
    pub fn pool_stats(&self) -> Option<(u32, usize)> {
        match self.orm.get_database_backend() {
            DbBackend::Postgres => {
                let size = self.orm.get_postgres_connection_pool().size();
                let (pool, kept) = self.kept.as_ref().map_or((0, 0), |k| k.idle_counts());
                Some((size, pool.saturating_add(kept)))
            }
            DbBackend::Sqlite => {
                let pool = self.orm.get_sqlite_connection_pool();
                Some((pool.size(), pool.num_idle().min(pool.size() as usize)))
            }
            _ => None,
        }
    }

    /// Connections kept between reads and idle now (none off Postgres).
    pub fn kept_idle(&self) -> usize {
        self.kept.as_ref().map_or(0, |k| k.idle_counts().1)
    }

    /// Runs `run` on a kept connection and keeps it again; one whose statement failed, or
    /// was cut short, goes back to sqlx instead (dropped), whose ping reads what the
    /// statement left unread. (No transaction is open on it: those are `Tx`'s.)
    async fn on_kept<T>(
        &self,
        kept: &Kept,
        run: impl AsyncFnOnce(&mut PgConnection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let mut taken = kept.take().await.map_err(acquire_error)?;
        let done = run(&mut taken.conn).await?;
        kept.keep(taken);
        Ok(done)
    }

    async fn query_kept(&self, kept: &Kept, stmt: &Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.on_kept(kept, async |conn| {
            statement::query(conn, stmt, self.metric.as_ref()).await
        })
        .await
    }
}

/// `BEGIN` with `options` and, on a request's behalf, its statement timeout. `SET LOCAL`
/// lasts until the transaction ends: safe behind a transaction pooler, where a session's
/// `SET` would reach other clients' transactions.
fn begin_sql(options: &TransactionOptions) -> String {
    let mut sql = String::from("BEGIN");
    let modes = [
        options
            .isolation_level
            .map(|l| format!(" ISOLATION LEVEL {l}")),
        options.access_mode.map(|m| format!(" {m}")),
    ];
    for (i, mode) in modes.into_iter().flatten().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&mode);
    }
    let timeout = crate::db::statement_timeout().as_millis();
    if timeout > 0 {
        sql.push_str(&format!("; SET LOCAL statement_timeout = {timeout}"));
    }
    sql
}

/// As SeaORM reports a failed acquire, so that callers tell "unavailable" the same way.
pub(crate) fn acquire_error(e: sqlx::Error) -> DbErr {
    match e {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        e => DbErr::Conn(RuntimeErr::SqlxError(e.into())),
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.orm.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.kept {
            Some(kept) => {
                self.on_kept(kept, async |conn| {
                    statement::execute(conn, &stmt, self.metric.as_ref()).await
                })
                .await
            }
            None => self.orm.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.kept {
            Some(kept) => {
                self.on_kept(kept, async |conn| {
                    statement::execute_unprepared(conn, sql).await
                })
                .await
            }
            None => self.orm.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.kept {
            Some(kept) => Ok(self.query_kept(kept, &stmt).await?.into_iter().next()),
            None => self.orm.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.kept {
            Some(kept) => self.query_kept(kept, &stmt).await,
            None => self.orm.query_all_raw(stmt).await,
        }
    }
}

/// On Postgres, transactions run on kept connections (`tx`); elsewhere they are SeaORM's.
#[async_trait::async_trait]
impl TransactionTrait for Db {
    type Transaction = Tx;

    async fn begin(&self) -> Result<Tx, DbErr> {
        self.begin_with_options(TransactionOptions::default()).await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<Tx, DbErr> {
        self.begin_with_options(TransactionOptions {
            isolation_level,
            access_mode,
            ..TransactionOptions::default()
        })
        .await
    }

    async fn begin_with_options(&self, options: TransactionOptions) -> Result<Tx, DbErr> {
        match &self.kept {
            Some(kept) => {
                Tx::begin_pg(kept.clone(), self.metric.clone(), &begin_sql(&options)).await
            }
            None => Ok(Tx::orm(self.orm.begin_with_options(options).await?)),
        }
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c Tx) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        tx::run(self.begin().await, callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c Tx) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        tx::run(
            self.begin_with_config(isolation_level, access_mode).await,
            callback,
        )
        .await
    }
}
