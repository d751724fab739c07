//! SeaORM statements run on a sqlx Postgres connection of our own (a kept one, or a
//! transaction's), bound as SeaORM binds them and reported to the metric callback as
//! SeaORM reports its own.

use std::{sync::Arc, time::Instant};

use sea_orm::{DbErr, ExecResult, QueryResult, RuntimeErr, Statement, Values, metric::Info};
use sea_query_sqlx::SqlxValues;
use sqlx::{AssertSqlSafe, Executor, PgConnection};

pub(crate) type Callback = Arc<dyn Fn(&Info<'_>) + Send + Sync>;

/// Rows of a query. (A query for one row reads them all too: sqlx's `fetch_optional`
/// does, to see an error that comes after the first row.)
pub(crate) async fn query(
    conn: &mut PgConnection,
    stmt: &Statement,
    metric: Option<&Callback>,
) -> Result<Vec<QueryResult>, DbErr> {
    let started = Instant::now();
    let rows = sqlx::query_with(AssertSqlSafe(stmt.sql.as_str()), values(stmt))
        .fetch_all(conn)
        .await;
    report(metric, stmt, started, rows.is_err());
    rows.map(|rows| rows.into_iter().map(QueryResult::from).collect())
        .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))
}

pub(crate) async fn execute(
    conn: &mut PgConnection,
    stmt: &Statement,
    metric: Option<&Callback>,
) -> Result<ExecResult, DbErr> {
    let started = Instant::now();
    let done = sqlx::query_with(AssertSqlSafe(stmt.sql.as_str()), values(stmt))
        .execute(conn)
        .await;
    report(metric, stmt, started, done.is_err());
    done.map(ExecResult::from).map_err(exec_error)
}

/// Runs `sql` as a simple query (no parameters; may hold several statements).
pub(crate) async fn execute_unprepared(
    conn: &mut PgConnection,
    sql: &str,
) -> Result<ExecResult, DbErr> {
    conn.execute(AssertSqlSafe(sql))
        .await
        .map(ExecResult::from)
        .map_err(exec_error)
}

pub(crate) fn exec_error(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(e.into()))
}

fn values(stmt: &Statement) -> SqlxValues {
    SqlxValues(stmt.values.clone().unwrap_or(Values(Vec::new())))
}

fn report(metric: Option<&Callback>, stmt: &Statement, started: Instant, failed: bool) {
    if let Some(metric) = metric {
        metric(&Info {
            elapsed: started.elapsed(),
            statement: stmt,
            failed,
        });
    }
}
