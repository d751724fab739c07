//! Counters a load test or an operator can read at `/metrics` (Prometheus text format).

use std::{
    cell::Cell,
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

tokio::task_local! {
    /// Statements run by the current request (its batches run in its task).
    static REQUEST_STATEMENTS: Cell<u64>;
}

#[derive(Debug, Default)]
pub struct Metrics {
    statements: AtomicU64,
    failed_statements: AtomicU64,
    graphql_requests: AtomicU64,
    graphql_errors: AtomicU64,
}

impl Metrics {
    /// Called by the database driver after every statement.
    pub fn statement(&self, failed: bool) {
        self.statements.fetch_add(1, Relaxed);
        if failed {
            self.failed_statements.fetch_add(1, Relaxed);
        }
        let _ = REQUEST_STATEMENTS.try_with(|n| n.set(n.get() + 1));
    }

    pub fn statements(&self) -> u64 {
        self.statements.load(Relaxed)
    }

    pub fn graphql_request(&self, errors: usize) {
        self.graphql_requests.fetch_add(1, Relaxed);
        self.graphql_errors.fetch_add(errors as u64, Relaxed);
    }

    pub fn render(&self, pool: Option<(u32, usize)>) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "forum_sql_statements_total",
            "SQL statements run.",
            self.statements(),
        );
        counter(
            "forum_sql_statements_failed_total",
            "SQL statements that failed.",
            self.failed_statements.load(Relaxed),
        );
        counter(
            "forum_graphql_requests_total",
            "GraphQL operations executed.",
            self.graphql_requests.load(Relaxed),
        );
        counter(
            "forum_graphql_errors_total",
            "Errors in GraphQL responses.",
            self.graphql_errors.load(Relaxed),
        );
        if let Some((size, idle)) = pool {
            let _ = writeln!(
                out,
                "# HELP forum_db_pool_connections Open pool connections.\n# TYPE forum_db_pool_connections gauge\nforum_db_pool_connections {size}\n# HELP forum_db_pool_idle Idle pool connections.\n# TYPE forum_db_pool_idle gauge\nforum_db_pool_idle {idle}"
            );
        }
        out
    }
}

/// Runs `work`, counting the statements it runs; returns both.
pub async fn count_statements<T>(work: impl Future<Output = T>) -> (T, u64) {
    REQUEST_STATEMENTS
        .scope(Cell::new(0), async {
            let out = work.await;
            (out, REQUEST_STATEMENTS.with(Cell::get))
        })
        .await
}
