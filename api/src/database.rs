//! Bringing the database up at start: refuse an unsafe pooler, migrate (once, even when
//! several instances start together), open the pool, seed the demo forum.

use std::{sync::Arc, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr};
use service::{
    Db,
    db::{self, PoolOptions},
    pooler::{self, Endpoint},
};

use crate::{config::DatabaseConfig, metrics::Metrics};

/// Any fixed key: instances that migrate at once queue on this transaction lock.
const MIGRATION_LOCK: i64 = 0x666f_7275_6d00;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("pooler check failed: {0}")]
    Probe(#[from] sqlx::Error),
    #[error(
        "DATABASE_URL points at a transaction-mode pooler that does not track prepared \
         statements; with it, one client's statement can run against another's and return \
         the wrong rows. Use PgBouncer >= 1.21 with max_prepared_statements > 0 (Neon's \
         -pooler endpoint is), or the direct (non-pooled) endpoint"
    )]
    UntrackedPooler,
}

/// Checks that `url` is safe for named prepared statements (see `service::pooler`).
pub async fn check_pooler(url: &str) -> Result<Endpoint, DatabaseError> {
    let endpoint = pooler::probe(url, Duration::from_secs(10)).await?;
    match endpoint {
        Endpoint::UntrackedPooler => return Err(DatabaseError::UntrackedPooler),
        Endpoint::Unknown => tracing::warn!(
            "could not tell whether DATABASE_URL is a transaction pooler; if it is, it must \
             track prepared statements (PgBouncer >= 1.21, max_prepared_statements > 0)"
        ),
        Endpoint::Session | Endpoint::TrackingPooler => {}
    }
    tracing::info!(?endpoint, "database endpoint checked");
    Ok(endpoint)
}

/// Applies pending migrations over `url` in one transaction that first takes a
/// transaction-scoped lock (pooler-safe): a second instance waits, then finds none.
pub async fn migrate(url: &str) -> Result<(), DbErr> {
    let db = single(url).await?;
    let txn = db::begin_write(&db).await?;
    lock(&txn).await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await?;
    db.close().await
}

/// Reverts every migration (used by tests and by `forum migrate --down`).
pub async fn migrate_down(url: &str) -> Result<(), DbErr> {
    let db = single(url).await?;
    let txn = db::begin_write(&db).await?;
    lock(&txn).await?;
    Migrator::down(&txn, None).await?;
    txn.commit().await?;
    db.close().await
}

async fn single(url: &str) -> Result<DatabaseConnection, DbErr> {
    let pool = PoolOptions {
        max_connections: 1,
        min_connections: 0,
        ..PoolOptions::default()
    };
    db::connect(url, &pool).await
}

/// Takes the migration lock, with no statement or lock timeout for the rest of the
/// transaction: an index build, or the wait for another instance's migration, may take
/// longer than a role's default (which the README advises for reads).
async fn lock(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; \
             SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
        ))
        .await?;
    }
    Ok(())
}

/// Opens the application's pool, counting every statement it runs into `metrics`.
pub async fn open(
    config: &DatabaseConfig,
    pool: &PoolOptions,
    metrics: &Arc<Metrics>,
) -> Result<Db, DbErr> {
    let mut db = Db::new(db::connect(&config.url(), pool).await?);
    let counter: Arc<Metrics> = metrics.clone();
    db.set_metric_callback(move |info| counter.statement(info.failed));
    Ok(db)
}

/// The server's own `statement_timeout` for statements outside a transaction (reads), or
/// `None` when it has none. Transactions set theirs; reads cannot without a round trip
/// or session state, which a transaction pooler forbids, so a bound on them has to come
/// from the role or the database (`ALTER ROLE … SET statement_timeout`).
pub async fn read_timeout(db: &Db) -> Result<Option<String>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SHOW statement_timeout",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("SHOW statement_timeout returned no row".into()))?;
    let value: String = row.try_get_by_index(0)?;
    Ok((value != "0").then_some(value))
}
