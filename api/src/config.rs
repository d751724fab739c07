//! The one typed configuration, read from the environment (and `.env`) once at start.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use service::db::PoolOptions;

use crate::{graphql::Limits, secret::Secret};

#[derive(Clone, Debug)]
pub struct Config {
    pub database: DatabaseConfig,
    pub migrate_on_start: bool,
    /// Seed the demo forum into an empty database at start.
    pub seed_demo: bool,
    pub listen_addr: SocketAddr,
    pub pool: PoolOptions,
    /// Origins allowed to call the API from a browser; empty allows none.
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub limits: Limits,
    /// A GraphQL request that takes longer is answered `TIMEOUT` (and its work dropped).
    pub request_timeout: Duration,
    /// Postgres `statement_timeout` of every transaction a request begins (`SET LOCAL`).
    pub statement_timeout: Duration,
    pub rate_limit: RateLimitConfig,
    pub log_format: LogFormat,
    pub identity: IdentityConfig,
    /// `whsec_…`: verifies Clerk's webhooks; without it they are refused.
    pub webhook_secret: Option<Secret<String>>,
}

/// Mutations allowed per signed-in user (and per client IP for anonymous requests).
#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    pub per_minute: u32,
    pub burst: u32,
    pub anonymous_per_minute: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

/// How session tokens are verified.
#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// `CLERK_JWT_KEY`: Clerk's PEM public key (no network needed).
    pub jwt_key: Option<String>,
    pub jwks_url: Option<String>,
    /// `CLERK_ISSUER`: checked against `iss`; also locates the JWKS when no URL is given.
    pub issuer: Option<String>,
    pub authorized_parties: Vec<String>,
    /// Least time between two JWKS fetches for unknown keys.
    pub jwks_min_refresh: Duration,
    /// Age after which the cached JWKS is fetched again before it verifies a token.
    pub jwks_max_age: Duration,
    /// Where the local development signing key lives (used only with no Clerk key).
    pub dev_key_path: PathBuf,
}

impl IdentityConfig {
    pub fn jwks_url(&self) -> Option<String> {
        self.jwks_url.clone().or_else(|| {
            self.issuer
                .as_ref()
                .map(|iss| format!("{}/.well-known/jwks.json", iss.trim_end_matches('/')))
        })
    }

    /// True when tokens are verified with the server's own development key.
    pub fn is_local_dev(&self) -> bool {
        self.jwt_key.is_none() && self.jwks_url().is_none()
    }
}

#[derive(Clone, Debug)]
pub enum DatabaseConfig {
    /// No `DATABASE_URL`: a SQLite file in the working directory.
    Embedded { path: String },
    Url {
        url: Secret<String>,
        /// Where migrations run: a session-capable endpoint, not a transaction pooler.
        direct: Option<Secret<String>>,
    },
}

impl DatabaseConfig {
    pub fn url(&self) -> String {
        match self {
            Self::Embedded { path } => format!("sqlite://{path}"),
            Self::Url { url, .. } => url.expose().clone(),
        }
    }

    pub fn direct_url(&self) -> String {
        match self {
            Self::Url {
                direct: Some(direct),
                ..
            } => direct.expose().clone(),
            _ => self.url(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url().starts_with("postgres")
    }
}

/// The development signing key's file name, beside the embedded database.
const DEV_KEY_FILE: &str = "forum-dev-key.pem";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl Config {
    /// Reads the process environment (after loading `.env` if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        // A `.env` that is there but cannot be read is an error: dotenvy stops at its first
        // bad line, and the lines after it (a DATABASE_URL, say) would silently not apply.
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            // Not the parser's message: it quotes the bad line and, after an unclosed
            // quote, the rest of the file, secrets included.
            let message = match e {
                dotenvy::Error::LineParse(..) => {
                    "a line cannot be parsed (an unclosed quote, or a value with spaces and no quotes?)"
                        .to_owned()
                }
                other => other.to_string(),
            };
            return Err(ConfigError {
                name: ".env",
                message,
            });
        }
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&get);
        let database = match get("DATABASE_URL") {
            None => DatabaseConfig::Embedded {
                path: "forum.db".to_owned(),
            },
            Some(url) => {
                if !(url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:"))
                {
                    return Err(env.error(
                        "DATABASE_URL",
                        "must start with postgres://, postgresql:// or sqlite:",
                    ));
                }
                // Every connection to `:memory:` is a database of its own: migrations would
                // go to one and requests to others, empty.
                if url.starts_with("sqlite:")
                    && (url.contains(":memory:") || url.contains("mode=memory"))
                {
                    return Err(env.error(
                        "DATABASE_URL",
                        "an in-memory SQLite database is not shared between connections; use a file (sqlite://forum.db)",
                    ));
                }
                DatabaseConfig::Url {
                    url: Secret::new(url),
                    direct: get("DIRECT_DATABASE_URL").map(Secret::new),
                }
            }
        };
        let embedded = matches!(database, DatabaseConfig::Embedded { .. });
        let dev_key_beside = match &database {
            DatabaseConfig::Embedded { path } => PathBuf::from(path).with_file_name(DEV_KEY_FILE),
            DatabaseConfig::Url { .. } => PathBuf::from(DEV_KEY_FILE),
        };
        let defaults = PoolOptions::default();
        Ok(Self {
            migrate_on_start: env.parse("MIGRATE_ON_START", true, parse_bool)?,
            seed_demo: env.parse("SEED_DEMO", embedded, parse_bool)?,
            database,
            listen_addr: env.parse(
                "LISTEN_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 8000)),
                |v| v.parse().ok(),
            )?,
            pool: PoolOptions {
                max_connections: env.parse(
                    "DATABASE_MAX_CONNECTIONS",
                    defaults.max_connections,
                    |v| v.parse().ok().filter(|n| *n > 0),
                )?,
                min_connections: env.parse(
                    "DATABASE_MIN_CONNECTIONS",
                    defaults.min_connections,
                    |v| v.parse().ok(),
                )?,
                connect_timeout: env.parse(
                    "DATABASE_CONNECT_TIMEOUT",
                    defaults.connect_timeout,
                    parse_duration,
                )?,
                acquire_timeout: env.parse(
                    "DATABASE_ACQUIRE_TIMEOUT",
                    defaults.acquire_timeout,
                    parse_duration,
                )?,
                idle_timeout: env.parse(
                    "DATABASE_IDLE_TIMEOUT",
                    defaults.idle_timeout,
                    parse_duration,
                )?,
                max_lifetime: env.parse(
                    "DATABASE_MAX_LIFETIME",
                    defaults.max_lifetime,
                    parse_duration,
                )?,
            },
            cors_origins: origins(get("CORS_ALLOWED_ORIGINS")),
            max_body_bytes: env.parse("MAX_BODY_BYTES", 256 * 1024, |v| v.parse().ok())?,
            limits: {
                let d = Limits::default();
                let n = |v: &str| v.parse().ok().filter(|n| *n > 0);
                Limits {
                    depth: env.parse("GRAPHQL_MAX_DEPTH", d.depth, n)?,
                    complexity: env.parse("GRAPHQL_MAX_COMPLEXITY", d.complexity, n)?,
                    aliases: env.parse("GRAPHQL_MAX_ALIASES", d.aliases, n)?,
                    root_fields: env.parse("GRAPHQL_MAX_ROOT_FIELDS", d.root_fields, n)?,
                    batch: env.parse("GRAPHQL_MAX_BATCH", d.batch, n)?,
                    query_bytes: env.parse("GRAPHQL_MAX_QUERY_BYTES", d.query_bytes, n)?,
                }
            },
            request_timeout: env.parse(
                "REQUEST_TIMEOUT",
                Duration::from_secs(10),
                parse_duration,
            )?,
            // Postgres takes whole milliseconds up to i32::MAX; past that, `SET LOCAL`
            // would fail and with it every transaction.
            statement_timeout: env.parse(
                "DATABASE_STATEMENT_TIMEOUT",
                service::db::DEFAULT_STATEMENT_TIMEOUT,
                |v| parse_duration(v).filter(|d| d.as_millis() <= i32::MAX as u128),
            )?,
            rate_limit: RateLimitConfig {
                per_minute: env.parse("RATE_LIMIT_PER_MINUTE", 120, |v| v.parse().ok())?,
                burst: env.parse("RATE_LIMIT_BURST", 30, |v| v.parse().ok())?,
                anonymous_per_minute: env
                    .parse("RATE_LIMIT_ANONYMOUS_PER_MINUTE", 30, |v| v.parse().ok())?,
                trust_forwarded_for: env.parse("TRUST_FORWARDED_FOR", false, parse_bool)?,
            },
            log_format: env.parse("LOG_FORMAT", LogFormat::Text, |v| match v {
                "text" => Some(LogFormat::Text),
                "json" => Some(LogFormat::Json),
                _ => None,
            })?,
            identity: IdentityConfig {
                // A PEM in one environment line often has its newlines escaped.
                jwt_key: get("CLERK_JWT_KEY").map(|pem| pem.replace("\\n", "\n")),
                jwks_url: get("CLERK_JWKS_URL"),
                // Clerk's `iss` has no trailing slash, and it is compared exactly.
                issuer: get("CLERK_ISSUER").map(|iss| iss.trim_end_matches('/').to_owned()),
                authorized_parties: origins(get("CLERK_AUTHORIZED_PARTIES")),
                jwks_min_refresh: env.parse(
                    "CLERK_JWKS_MIN_REFRESH",
                    Duration::from_secs(10),
                    parse_duration,
                )?,
                jwks_max_age: env.parse(
                    "CLERK_JWKS_MAX_AGE",
                    Duration::from_secs(3600),
                    parse_duration,
                )?,
                dev_key_path: get("DEV_SIGNING_KEY_FILE")
                    .map(PathBuf::from)
                    .unwrap_or(dev_key_beside),
            },
            webhook_secret: get("CLERK_WEBHOOK_SECRET").map(Secret::new),
        })
    }
}

struct Env<'a, F>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn parse<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        match (self.0)(name) {
            None => Ok(default),
            Some(value) => {
                parse(value.trim()).ok_or_else(|| self.error(name, format!("cannot use {value:?}")))
            }
        }
    }

    fn error(&self, name: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            name,
            message: message.into(),
        }
    }
}

/// A comma-separated list of origins, without trailing slashes.
fn origins(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `250ms`, `5s`, `10m`, `1h`, or a plain number of seconds.
pub fn parse_duration(value: &str) -> Option<Duration> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_to_the_embedded_database_with_demo_data() -> Result<(), ConfigError> {
        let c = config(&[])?;
        assert!(matches!(c.database, DatabaseConfig::Embedded { .. }));
        assert!(c.seed_demo && c.migrate_on_start);
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:8000");
        assert!(c.identity.is_local_dev());
        assert_eq!(c.identity.dev_key_path, PathBuf::from("forum-dev-key.pem"));
        Ok(())
    }

    #[test]
    fn reads_postgres_and_pool_settings() -> Result<(), ConfigError> {
        let c = config(&[
            ("DATABASE_URL", "postgres://u:pw@db/forum"),
            ("DIRECT_DATABASE_URL", "postgres://u:pw@direct/forum"),
            ("DATABASE_MAX_CONNECTIONS", "32"),
            ("DATABASE_ACQUIRE_TIMEOUT", "750ms"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://a.example, https://b.example/",
            ),
        ])?;
        assert!(!c.seed_demo && c.database.is_postgres());
        assert_eq!(c.database.direct_url(), "postgres://u:pw@direct/forum");
        assert_eq!(c.pool.max_connections, 32);
        assert_eq!(c.pool.acquire_timeout, Duration::from_millis(750));
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
        assert!(!format!("{c:?}").contains("pw"), "secrets must not print");
        Ok(())
    }

    #[test]
    fn an_in_memory_sqlite_database_is_refused() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://f.db?mode=memory",
        ] {
            let refused = config(&[("DATABASE_URL", url)]);
            assert!(refused.is_err_and(|e| e.name == "DATABASE_URL"), "{url}");
        }
        assert!(config(&[("DATABASE_URL", "sqlite://forum.db")]).is_ok());
    }

    #[test]
    fn a_statement_timeout_postgres_cannot_take_is_refused() {
        assert!(config(&[("DATABASE_STATEMENT_TIMEOUT", "1000h")]).is_err());
        let c = config(&[("DATABASE_STATEMENT_TIMEOUT", "596h")]);
        assert!(c.is_ok_and(|c| c.statement_timeout == Duration::from_secs(596 * 3600)));
    }

    #[test]
    fn reads_clerk_settings() -> Result<(), ConfigError> {
        let c = config(&[
            ("CLERK_ISSUER", "https://clerk.example.com/"),
            (
                "CLERK_AUTHORIZED_PARTIES",
                "https://app.example, http://localhost:3000",
            ),
            ("CLERK_WEBHOOK_SECRET", "whsec_c2VjcmV0"),
        ])?;
        assert!(!c.identity.is_local_dev());
        assert_eq!(
            c.identity.jwks_url().as_deref(),
            Some("https://clerk.example.com/.well-known/jwks.json")
        );
        // Clerk's `iss` has none, and jsonwebtoken compares it exactly.
        assert_eq!(
            c.identity.issuer.as_deref(),
            Some("https://clerk.example.com")
        );
        assert_eq!(
            c.identity.authorized_parties,
            ["https://app.example", "http://localhost:3000"]
        );
        assert!(
            !format!("{c:?}").contains("c2VjcmV0"),
            "the webhook secret must not print"
        );
        let pem = config(&[(
            "CLERK_JWT_KEY",
            "-----BEGIN PUBLIC KEY-----\\nAB\\n-----END",
        )])?;
        assert_eq!(
            pem.identity.jwt_key.as_deref(),
            Some("-----BEGIN PUBLIC KEY-----\nAB\n-----END")
        );
        Ok(())
    }

    #[test]
    fn names_the_bad_variable() {
        let err = config(&[("DATABASE_MAX_CONNECTIONS", "many")]).err();
        assert_eq!(err.map(|e| e.name), Some("DATABASE_MAX_CONNECTIONS"));
        let err = config(&[("DATABASE_URL", "mysql://x")]).err();
        assert_eq!(err.map(|e| e.name), Some("DATABASE_URL"));
    }
}
