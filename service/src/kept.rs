//! Postgres connections kept between reads, so that sqlx does not ping each one it is
//! given back.
//!
//! sqlx's pool tests every connection returned to it with a `Sync` round trip, in a task
//! of its own. After a read that ran to completion the connection is idle and drained,
//! so that ping buys nothing. Measured with sqlx alone on the thread page's two
//! statements (16 tasks, loopback), keeping the connections instead cut the machine's
//! CPU per request from 0.27 to 0.16 ms. A read that fails, or whose future is dropped
//! mid-statement, does not keep its connection: sqlx takes it back and its ping drains
//! or closes it, as before.
//!
//! Transactions run on kept connections too (`tx`), kept again after `COMMIT`.
//!
//! To sqlx, a kept connection is still checked out, so no one may wait on sqlx while one
//! lies idle here: while anyone waits for sqlx (a task that found none kept), connections
//! are handed back to sqlx instead of kept. A connection is also handed back after
//! `RECYCLE_AFTER`, so that sqlx's lifetime and idle rules still reach it.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
    time::{Duration, Instant},
};

use sqlx::{PgPool, Postgres, pool::PoolConnection};

/// How long a connection stays out of sqlx's hands: its ping-before-use threshold
/// (`db::connect`), so a connection a proxy may have dropped is tested before it is used.
const RECYCLE_AFTER: Duration = Duration::from_secs(30);

pub(crate) struct Kept {
    pool: PgPool,
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    kept: Vec<Taken>,
    /// Tasks waiting for sqlx to give them a connection.
    waiting: usize,
}

/// A connection out of sqlx's pool, and since when.
pub(crate) struct Taken {
    pub conn: PoolConnection<Postgres>,
    since: Instant,
}

impl Taken {
    fn fresh(&self) -> bool {
        self.since.elapsed() < RECYCLE_AFTER
    }
}

impl Kept {
    /// Keeps connections of `pool`; a task hands back the stale ones until the last
    /// handle is dropped.
    pub fn new(pool: PgPool) -> Arc<Self> {
        let kept = Arc::new(Self {
            pool,
            idle: Mutex::default(),
        });
        tokio::spawn(sweep(Arc::downgrade(&kept)));
        kept
    }

    /// A kept connection, or one from sqlx's pool.
    pub async fn take(&self) -> Result<Taken, sqlx::Error> {
        let stale = {
            let mut idle = self.idle();
            match idle.kept.pop() {
                Some(taken) if taken.fresh() => return Ok(taken),
                stale => {
                    idle.waiting += 1;
                    stale
                }
            }
        };
        drop(stale);
        let _waiting = Waiting(self);
        Ok(Taken {
            conn: self.pool.acquire().await?,
            since: Instant::now(),
        })
    }

    /// Keeps a connection whose statement ran to completion, unless someone waits for
    /// sqlx (or it is stale): then sqlx gets it back.
    pub fn keep(&self, taken: Taken) {
        if !taken.fresh() {
            return;
        }
        let mut idle = self.idle();
        if idle.waiting == 0 {
            idle.kept.push(taken);
        }
        // Otherwise `taken` is dropped after the lock is: back to sqlx.
    }

    /// Connections sqlx holds idle, and connections kept here.
    pub fn idle_counts(&self) -> (usize, usize) {
        (sqlx_idle(&self.pool), self.idle().kept.len())
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        // Nothing panics while holding the lock; a poisoned list is still a list.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// sqlx's count of idle connections. sqlx may decrement it before the matching
/// increment, so a read in between can find it wrapped below zero.
fn sqlx_idle(pool: &PgPool) -> usize {
    pool.num_idle().min(pool.size() as usize)
}

struct Waiting<'a>(&'a Kept);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.idle().waiting -= 1;
    }
}

async fn sweep(kept: Weak<Kept>) {
    loop {
        tokio::time::sleep(RECYCLE_AFTER).await;
        let Some(kept) = kept.upgrade() else { return };
        let stale: Vec<Taken> = {
            let mut idle = kept.idle();
            let (fresh, stale) = idle.kept.drain(..).partition(Taken::fresh);
            idle.kept = fresh;
            stale
        };
        drop(stale);
    }
}
