//! The service under test: the real `forum` binary in its own process, so that its
//! memory can be read apart from the load generator's.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use crate::generate::BoxError;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn http_client(connections: usize) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http()
}

/// What the server has counted so far (or between two readings).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    statements: f64,
    requests: f64,
}

impl Counters {
    /// What was counted between `before` and these counters.
    pub fn since(self, before: Counters) -> Counters {
        Counters {
            statements: self.statements - before.statements,
            requests: self.requests - before.requests,
        }
    }

    pub fn plus(self, other: Counters) -> Counters {
        Counters {
            statements: self.statements + other.statements,
            requests: self.requests + other.requests,
        }
    }

    /// Statements per GraphQL request (of counters taken with `since`).
    pub fn statements_per_request(self) -> f64 {
        self.per_request(self.statements)
    }

    fn per_request(self, total: f64) -> f64 {
        if self.requests > 0.0 {
            total / self.requests
        } else {
            0.0
        }
    }
}

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts `binary` on a free loopback port with `env`, and waits until it answers.
    pub async fn start(binary: &Path, env: &[(&str, String)]) -> Result<Self, BoxError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(std::env::var("TOKIO_WORKER_THREADS").map(|n| ("TOKIO_WORKER_THREADS", n)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn()?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = http_client(1);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let uri: hyper::Uri = format!("{}/readyz", server.base).parse()?;
            if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(1), client.get(uri)).await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err("the server did not become ready within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(field))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Resident memory now, in KiB.
    pub fn rss_kb(&self) -> Option<u64> {
        self.status_kb("VmRSS:")
    }

    /// The highest resident memory so far, in KiB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.status_kb("VmHWM:")
    }

    /// The statement and request counters from `/metrics`.
    pub async fn counters(&self, client: &HttpClient) -> Result<Counters, BoxError> {
        let uri: hyper::Uri = format!("{}/metrics", self.base).parse()?;
        let body = client
            .get(uri)
            .await?
            .into_body()
            .collect()
            .await?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        let metric = |name: &str| -> Result<f64, BoxError> {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .ok_or_else(|| format!("no metric {name}").into())
        };
        Ok(Counters {
            statements: metric("forum_sql_statements_total")?,
            requests: metric("forum_graphql_requests_total")?,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM (a graceful shutdown), killing it if that hangs.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
