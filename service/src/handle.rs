//! `Db`, the handle requests run on: SeaORM's connection, except that a Postgres read
//! outside a transaction runs on a connection kept between reads (`kept`).

use std::{sync::Arc, time::Instant};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, RuntimeErr, Statement, TransactionError,
    TransactionOptions, TransactionTrait, Values, error::ConnAcquireErr, metric::Info,
};
use sea_query_sqlx::SqlxValues;
use sqlx::{AssertSqlSafe, postgres::PgRow};

use crate::kept::Kept;

type Callback = Arc<dyn Fn(&Info<'_>) + Send + Sync>;

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

    /// SeaORM's connection (its pool, for what this handle does not offer).
    pub fn orm(&self) -> &DatabaseConnection {
        &self.orm
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

    /// Runs a read on a kept connection; `one` stops at the first row.
    async fn read(&self, kept: &Kept, stmt: &Statement, one: bool) -> Result<Vec<PgRow>, DbErr> {
        let mut taken = kept.take().await.map_err(acquire_error)?;
        let started = Instant::now();
        let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
        let query = sqlx::query_with(AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values));
        let rows = if one {
            query
                .fetch_optional(&mut *taken.conn)
                .await
                .map(|row| row.into_iter().collect())
        } else {
            query.fetch_all(&mut *taken.conn).await
        };
        if let Some(metric) = &self.metric {
            metric(&Info {
                elapsed: started.elapsed(),
                statement: stmt,
                failed: rows.is_err(),
            });
        }
        // On an error the connection goes back to sqlx (dropped), whose ping drains it.
        let rows = rows.map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))?;
        kept.keep(taken);
        Ok(rows)
    }

    fn writer(&self) -> Option<crate::kept::Waiting<'_>> {
        self.kept.as_deref().map(Kept::writer)
    }
}

/// As SeaORM reports a failed acquire, so that callers tell "unavailable" the same way.
fn acquire_error(e: sqlx::Error) -> DbErr {
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
        let _writer = self.writer();
        self.orm.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let _writer = self.writer();
        self.orm.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.kept {
            Some(kept) => Ok(self
                .read(kept, &stmt, true)
                .await?
                .pop()
                .map(QueryResult::from)),
            None => self.orm.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.kept {
            Some(kept) => Ok(self
                .read(kept, &stmt, false)
                .await?
                .into_iter()
                .map(QueryResult::from)
                .collect()),
            None => self.orm.query_all_raw(stmt).await,
        }
    }
}

/// Transactions are SeaORM's, on a connection from sqlx's pool (see `kept` for why a
/// writer is announced first).
#[async_trait::async_trait]
impl TransactionTrait for Db {
    type Transaction = DatabaseTransaction;

    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let _writer = self.writer();
        self.orm.begin().await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        let _writer = self.writer();
        self.orm
            .begin_with_config(isolation_level, access_mode)
            .await
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<DatabaseTransaction, DbErr> {
        let _writer = self.writer();
        self.orm.begin_with_options(options).await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>,
            > + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.transaction_with_config(callback, None, None).await
    }

    /// The writer mark lasts the whole callback here (reads meanwhile are not kept).
    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'c>,
            > + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let _writer = self.writer();
        self.orm
            .transaction_with_config(callback, isolation_level, access_mode)
            .await
    }
}
