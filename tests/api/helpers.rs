//! Spawning the app on a fresh database, and talking to it.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, LazyLock},
};

use api::{App, Config, metrics::Metrics};
pub use bench::generate::with_database;
use http_body_util::{BodyExt, Full};
use hyper::{
    HeaderMap, Method, Request, StatusCode,
    body::Bytes,
    header::{HeaderName, HeaderValue},
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use migration::MigratorTrait;
use serde_json::{Value, json};
use service::Db;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tokio::sync::{Mutex, oneshot};
use uuid::Uuid;

/// Runs an async test body once per backend: `mod name { sqlite, postgres }`.
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($backend: $crate::helpers::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = $crate::helpers::Backend::postgres() {
                    body(backend).await
                }
            }
        }
    };
}

/// Where a test's database lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Postgres when `TEST_DATABASE_URL` is set. Under CI (`CI` set) its absence fails
    /// the test instead of skipping it.
    pub fn postgres() -> Option<Self> {
        if std::env::var_os("TEST_DATABASE_URL").is_some() {
            return Some(Self::Postgres);
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but TEST_DATABASE_URL is not: Postgres tests must not be skipped"
        );
        eprintln!("skipped: set TEST_DATABASE_URL to run the Postgres variant");
        None
    }
}

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL")
}

/// A fresh database, dropped with this value.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub name: String,
    dir: Option<PathBuf>,
}

/// Serializes template creation and cloning inside this process; an advisory lock does
/// it across processes.
static CLONE_LOCK: LazyLock<Mutex<()>> = LazyLock::new(|| Mutex::new(()));

impl TestDb {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("forum-test-{}", Uuid::new_v4()));
                std::fs::create_dir_all(&dir).unwrap();
                let url = format!("sqlite://{}", dir.join("forum.db").display());
                Self {
                    backend,
                    url,
                    name: "forum.db".to_owned(),
                    dir: Some(dir),
                }
            }
            Backend::Postgres => Self::postgres(true).await,
        }
    }

    /// A Postgres database cloned from a migrated template (or empty, unmigrated).
    pub async fn postgres(migrated: bool) -> Self {
        Self::postgres_with(migrated, None).await
    }

    /// A migrated Postgres database whose text sorts by an ICU locale's collation
    /// (`en-US`), as on most clusters outside this machine's `C.UTF-8`.
    pub async fn postgres_collated(icu_locale: &str) -> Self {
        let database = Self::postgres_with(false, Some(icu_locale)).await;
        api::database::migrate(&database.url).await.unwrap();
        database
    }

    async fn postgres_with(migrated: bool, icu_locale: Option<&str>) -> Self {
        let admin = admin_url();
        let _guard = CLONE_LOCK.lock().await;
        let mut conn = PgConnection::connect(&admin).await.unwrap();
        conn.execute("SELECT pg_advisory_lock(7274)").await.unwrap();
        let template = template_name();
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&template)
                .fetch_optional(&mut conn)
                .await
                .unwrap();
        if exists.is_none() && migrated {
            let building = format!("{template}_building");
            conn.execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
            )))
            .await
            .unwrap();
            conn.execute(AssertSqlSafe(format!("CREATE DATABASE {building}")))
                .await
                .unwrap();
            api::database::migrate(&with_database(&admin, &building))
                .await
                .unwrap();
            conn.execute(AssertSqlSafe(format!(
                "ALTER DATABASE {building} RENAME TO {template}"
            )))
            .await
            .unwrap();
        }
        let name = format!("forum_test_{}", Uuid::new_v4().simple());
        let create = match (migrated, icu_locale) {
            (true, _) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
            (false, None) => format!("CREATE DATABASE {name}"),
            (false, Some(locale)) => format!(
                "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu \
                 ICU_LOCALE '{locale}' LOCALE 'C.UTF-8'"
            ),
        };
        conn.execute(AssertSqlSafe(create)).await.unwrap();
        conn.execute("SELECT pg_advisory_unlock(7274)")
            .await
            .unwrap();
        conn.close().await.ok();
        Self {
            backend: Backend::Postgres,
            url: with_database(&admin, &name),
            name,
            dir: None,
        }
    }
}

/// Named after the migrations, so a changed migration list builds a new template.
fn template_name() -> String {
    let mut hasher = DefaultHasher::new();
    for m in migration::Migrator::migrations() {
        m.name().hash(&mut hasher);
    }
    format!("forum_tpl_{:016x}", hasher.finish())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if self.backend == Backend::Postgres {
            let name = self.name.clone();
            // Dropping runs inside the test's runtime: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = conn.execute(AssertSqlSafe(sql)).await;
                    }
                });
            })
            .join();
        }
    }
}

/// Drops `name` while apps may be connected to it: the database goes away under them.
pub async fn drop_database(name: &str) {
    let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
    admin
        .execute(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .await
        .unwrap();
}

/// Starts the `forum` binary with `env` (on a random loopback port) and waits for the
/// address it prints.
pub fn spawn_binary(
    env: &[(&str, &str)],
    cwd: Option<&std::path::Path>,
) -> (std::process::Child, SocketAddr) {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_forum"));
    command
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    for (k, v) in env {
        if v.is_empty() {
            command.env_remove(k);
        } else {
            command.env(k, v);
        }
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) else {
            break None;
        };
        if let Some(rest) = line.split("GraphiQL at http://").nth(1) {
            break rest.trim_end_matches("/graphql").trim().parse().ok();
        }
    };
    match addr {
        Some(addr) => (child, addr),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not print its address");
        }
    }
}

/// The app under test, serving on a random loopback port.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The app's own pool and counters (absent for a server in another process).
    pub db: Db,
    pub metrics: Arc<Metrics>,
    client: Client<HttpConnector, Full<Bytes>>,
    shutdown: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    server: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    /// The database this app owns (dropped with it), if any.
    pub database: Option<TestDb>,
}

/// The svix secret test apps verify webhooks with.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The local development key of this test process (shared: one RSA key generation).
pub fn dev_key_path() -> PathBuf {
    std::env::temp_dir().join(format!("forum-test-dev-key-{}.pem", std::process::id()))
}

/// A session token for `user`, signed with the development key the test apps trust.
pub fn token(user: &str) -> String {
    let key = api::auth::dev::load_or_create(&dev_key_path()).unwrap();
    api::auth::dev::mint(&key, user, None, std::time::Duration::from_secs(600)).unwrap()
}

/// The configuration of a test app on `url`; `extra` adds or overrides variables (an
/// empty value unsets one).
pub fn test_config(url: &str, extra: &[(&str, &str)]) -> Config {
    let key = dev_key_path();
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), url.into()),
        ("LISTEN_ADDR".into(), "127.0.0.1:0".into()),
        ("SEED_DEMO".into(), "false".into()),
        ("DEV_SIGNING_KEY_FILE".into(), key.display().to_string()),
        ("CLERK_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|k| vars.get(k).cloned().filter(|v| !v.is_empty())).unwrap()
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Spawns with extra environment variables for the configuration.
    pub async fn spawn_with(backend: Backend, env: &[(&str, &str)]) -> Self {
        let database = TestDb::create(backend).await;
        let config = test_config(&database.url, env);
        Self::start(Some(database), config).await
    }

    /// Starts the app with `config`, owning `database` if given.
    pub async fn start(database: Option<TestDb>, config: Config) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            api::telemetry::init(api::config::LogFormat::Text);
        }
        let app = App::build(config).await.unwrap();
        let addr = app.local_addr().unwrap();
        let db = app.state().db.clone();
        let metrics = app.state().metrics.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(async {
            let _ = rx.await;
        }));
        Self {
            addr,
            db,
            metrics,
            client: Client::builder(TokioExecutor::new()).build_http(),
            shutdown: std::sync::Mutex::new(Some(tx)),
            server: std::sync::Mutex::new(Some(server)),
            database,
        }
    }

    /// A client of a server running elsewhere (another process).
    pub fn remote(addr: SocketAddr) -> Self {
        Self {
            addr,
            db: Db::default(),
            metrics: Arc::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            shutdown: std::sync::Mutex::default(),
            server: std::sync::Mutex::default(),
            database: None,
        }
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server.
    pub async fn shutdown(&self) {
        if let Some(tx) = self.shutdown.lock().unwrap().take() {
            let _ = tx.send(());
        }
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            server.await.unwrap().unwrap();
        }
    }

    pub fn statements(&self) -> u64 {
        self.metrics.statements()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .client
            .request(request.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    /// POSTs a GraphQL request with extra headers and returns the raw reply.
    pub async fn post_graphql(&self, headers: &[(&str, &str)], body: &Value) -> Reply {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request(
            Method::POST,
            "/graphql",
            &all,
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    /// Runs a query anonymously and returns the whole response body (data and errors).
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(None, query, variables).await
    }

    /// Runs a query with an optional bearer token.
    pub async fn graphql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        let reply = self
            .post_graphql(&headers, &json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    /// Runs a query that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Runs `query` and returns (its data, the statements it ran).
    pub async fn counted(&self, query: &str, variables: Value) -> (Value, u64) {
        let before = self.statements();
        let data = self.data(query, variables).await;
        (data, self.statements() - before)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(());
        }
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(HeaderName::from_bytes(name.as_bytes()).ok()?)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    }
}

/// The codes of a response's errors, in order.
pub fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The one error of a response, as (code, field).
pub fn error(body: &Value) -> (String, Option<String>) {
    let errors = body["errors"].as_array().expect("an error");
    assert_eq!(errors.len(), 1, "one error expected: {body:#}");
    let ext = &errors[0]["extensions"];
    (
        ext["code"].as_str().unwrap_or("<none>").to_owned(),
        ext["field"].as_str().map(str::to_owned),
    )
}
