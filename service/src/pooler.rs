//! Is it safe to use this Postgres endpoint with named prepared statements?
//!
//! sqlx names every prepared statement (`sqlx_s_1`, `sqlx_s_2`, … counted per client
//! connection). Behind a transaction-mode pooler each transaction may run on another
//! server backend. A pooler that tracks prepared statements (PgBouncer ≥ 1.21 with
//! `max_prepared_statements`, as Neon's `-pooler` endpoint runs) re-prepares them where
//! needed; one that does not lets a statement meet another client's statement of the
//! same name, which ends in errors or in another client's rows.
//!
//! The probe provokes exactly that meeting. Client A prepares `sqlx_s_1` and learns its
//! backend's pid. Clients B₁, B₂, … each open a transaction (pinning a backend) and
//! prepare their own `sqlx_s_1`. A B that lands on A's backend meets A's statement:
//! an untracked pooler answers "prepared statement … already exists"; a tracking pooler
//! renames statements per client and the prepare succeeds. A direct connection never
//! shares a backend, so no B lands there.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

/// What the probe found out about the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Each client connection keeps its own server session (direct or session pooling).
    Session,
    /// Transactions of one client move between backends, and prepared statements are
    /// tracked across them.
    TrackingPooler,
    /// Transactions move between backends and prepared statements are not tracked.
    UntrackedPooler,
    /// No client landed on the first client's backend; nothing was proven either way.
    Unknown,
}

/// How many pinned clients the probe opens at most before giving up.
const PROBE_CLIENTS: usize = 6;
/// How long one of them may wait for a server.
const CLIENT_WAIT: Duration = Duration::from_secs(2);

pub async fn probe(url: &str, timeout: Duration) -> Result<Endpoint, sqlx::Error> {
    tokio::time::timeout(timeout, run(url))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
}

async fn run(url: &str) -> Result<Endpoint, sqlx::Error> {
    let options = crate::db::without_float_digits(url.parse()?);
    let mut first = PgConnection::connect_with(&options).await?;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut first)
        .await?;
    let mut pinned = Vec::with_capacity(PROBE_CLIENTS);
    let mut verdict = Endpoint::Unknown;
    for _ in 0..PROBE_CLIENTS {
        // A pooler whose servers are all taken makes a new transaction wait: give up
        // (inconclusive) rather than hold up the start.
        let pinned_client = tokio::time::timeout(CLIENT_WAIT, async {
            let mut client = PgConnection::connect_with(&options).await?;
            client.execute("BEGIN").await?;
            let pid = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
                .fetch_one(&mut client)
                .await;
            Ok::<_, sqlx::Error>((client, pid))
        })
        .await;
        let Ok(pinned_client) = pinned_client else {
            break;
        };
        let (client, result) = pinned_client?;
        match result {
            Ok(other) if other == pid => {
                verdict = Endpoint::TrackingPooler;
                pinned.push(client);
                break;
            }
            Ok(_) => pinned.push(client),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P05") => {
                // duplicate_prepared_statement: the names of two clients collided.
                verdict = Endpoint::UntrackedPooler;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if verdict == Endpoint::Unknown && pinned.len() == PROBE_CLIENTS {
        // Every client got a backend of its own, which is what sessions look like. A
        // pooler with more idle backends than probe clients looks the same; the second
        // check below tells them apart.
        verdict = Endpoint::Session;
    }
    for mut client in pinned {
        client.execute("ROLLBACK").await.ok();
        client.close().await.ok();
    }
    if verdict == Endpoint::Session {
        // Under a transaction pooler, the first client's later transactions may run on
        // other backends; under sessions they never do. Moving with its statement intact
        // is a tracking pooler; moving without it is an untracked one.
        for _ in 0..4 {
            let again: Result<i32, sqlx::Error> = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut first)
                .await;
            match again {
                Ok(again) if again == pid => {}
                Ok(_) => {
                    verdict = Endpoint::TrackingPooler;
                    break;
                }
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("26000") => {
                    // invalid_sql_statement_name: our statement is not on this backend.
                    verdict = Endpoint::UntrackedPooler;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    first.close().await.ok();
    Ok(verdict)
}
