//! Opening the database: a Postgres pool (direct or through a transaction-mode pooler)
//! or an embedded SQLite file, with settings for a long-running server.

use std::{future::Future, time::Duration};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    IsolationLevel, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sqlx::{
    postgres::PgConnectOptions,
    sqlite::{SqliteJournalMode, SqliteSynchronous},
};

/// Pool settings. The defaults suit a server that lives for days behind a pooler, not a
/// serverless function: a few warm connections, bounded waits, periodic recycling.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout: Duration,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 1,
            connect_timeout: Duration::from_secs(2),
            // sqlx keeps retrying a refused connection until this deadline, so it is also
            // how long a request waits while the database is away: short, to fail fast.
            acquire_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
        }
    }
}

/// Opens a pool on `url` (`postgres://…` or `sqlite://…`).
pub async fn connect(url: &str, pool: &PoolOptions) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(pool.max_connections)
        .min_connections(pool.min_connections)
        .connect_timeout(pool.connect_timeout)
        .acquire_timeout(pool.acquire_timeout)
        .idle_timeout(pool.idle_timeout)
        .max_lifetime(pool.max_lifetime)
        // A ping on every checkout costs a round trip per statement batch; only
        // connections idle long enough to have been dropped by a proxy are checked.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Trace)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, Duration::from_millis(500))
        .map_sqlx_postgres_opts(without_float_digits)
        .map_sqlx_sqlite_opts(|opts| {
            // WAL lets readers run beside the one writer. FULL syncs each commit: a
            // webhook is acknowledged only once it is durable (svix will not send it
            // again), and NORMAL could lose the last commits to a power loss.
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5))
        });
    Database::connect(options)
        .await
        .map_err(|e| without_password(e, url))
}

/// The driver quotes a URL it cannot parse whole, password included, and the error is
/// printed and logged: the password is masked in it.
fn without_password(error: DbErr, url: &str) -> DbErr {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|password| !password.is_empty());
    // Where the URL holds it (a short password could be part of anything else).
    let masked = password.map(|password| (format!(":{password}@"), ":***@"));
    match masked {
        Some((quoted, mask)) if error.to_string().contains(&quoted) => {
            DbErr::Custom(error.to_string().replace(&quoted, mask))
        }
        _ => error,
    }
}

/// sqlx asks for `extra_float_digits` at start-up, a parameter PgBouncer refuses unless
/// its `ignore_startup_parameters` lists it: without it, the service reaches a stock
/// PgBouncer too. No value here is a float, and since Postgres 12 the default already
/// prints floats exactly.
pub fn without_float_digits(options: PgConnectOptions) -> PgConnectOptions {
    options.extra_float_digits(None)
}

/// The `statement_timeout` of a [`crate::Db`]'s transactions when the caller set none.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

tokio::task_local! {
    static STATEMENT_TIMEOUT: Duration;
}

/// Runs `work` with `timeout` as the `statement_timeout` of the transactions it begins on
/// a [`crate::Db`] (zero: none). A request's work runs in its own task, so this is per request.
pub async fn with_statement_timeout<F: Future>(timeout: Duration, work: F) -> F::Output {
    STATEMENT_TIMEOUT.scope(timeout, work).await
}

/// The statement timeout of a transaction begun now.
pub(crate) fn statement_timeout() -> Duration {
    STATEMENT_TIMEOUT
        .try_with(|t| *t)
        .unwrap_or(DEFAULT_STATEMENT_TIMEOUT)
}

/// Begins a transaction that will write (a savepoint inside one already open). On SQLite
/// it takes the write lock at `BEGIN` (`IMMEDIATE`), so two writers queue on the busy
/// timeout instead of one failing when it upgrades a read lock. On Postgres, a [`crate::Db`]'s
/// transaction carries the statement timeout (`with_statement_timeout`); a bare
/// `DatabaseConnection`'s has none, which suits migrations (an index build may take long).
pub async fn begin_write<C>(db: &C) -> Result<C::Transaction, DbErr>
where
    C: TransactionTrait + ConnectionTrait,
{
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: sqlite.then_some(SqliteTransactionMode::Immediate),
        // The writes are correct under READ COMMITTED (each reads what it changes under
        // a row lock), and only there: a database whose default is stricter would turn
        // two votes on one reply into a serialization failure.
        isolation_level: (!sqlite).then_some(IsolationLevel::ReadCommitted),
        ..TransactionOptions::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_that_does_not_parse_does_not_show_its_password() {
        let url = "postgres://u:pa#ss@127.0.0.1:1/db";
        let error = connect(url, &PoolOptions::default())
            .await
            .expect_err("no such database");
        assert!(!error.to_string().contains("pa#ss"), "{error}");
    }
}
