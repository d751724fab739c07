//! A real PgBouncer in transaction mode, started by the test that needs it.

use std::{
    net::TcpListener,
    os::unix::fs::MetadataExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use uuid::Uuid;

pub struct Pgbouncer {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

/// The PgBouncer binary from `PGBOUNCER` (or the one `.ci/pgbouncer.sh` builds). Under CI
/// its absence fails the test instead of skipping it.
pub fn binary() -> Option<String> {
    let path = std::env::var("PGBOUNCER").unwrap_or_else(|_| "/opt/pgbouncer/bin/pgbouncer".into());
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but no PgBouncer at {path}: pooled tests must not be skipped"
    );
    eprintln!("skipped: no PgBouncer at {path} (set PGBOUNCER)");
    None
}

impl Pgbouncer {
    /// Starts a transaction-mode pooler in front of `TEST_DATABASE_URL`'s server, with
    /// `pool_size` server connections per database and `max_prepared_statements` tracked
    /// (0: not tracked, as before PgBouncer 1.21).
    pub fn start(binary: &str, pool_size: u32, max_prepared_statements: u32) -> Self {
        let admin = crate::helpers::admin_url();
        let server = admin
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(authority, _)| authority.rsplit_once('@').map_or(authority, |(_, hp)| hp))
            .unwrap_or("127.0.0.1:5432");
        let (host, port) = server.split_once(':').unwrap_or((server, "5432"));
        let user = admin
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map(|(user, _)| user.split(':').next().unwrap_or("postgres"))
            .unwrap_or("postgres");
        let listen = free_port();
        let dir = std::env::temp_dir().join(format!("pgbouncer-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "[databases]\n* = host={host} port={port} user={user}\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n\
             auth_type = any\npool_mode = transaction\nmax_client_conn = 500\n\
             default_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n\
             max_prepared_statements = {max_prepared_statements}\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             logfile = {log}\nverbose = 0\n",
            log = dir.join("pgbouncer.log").display(),
        );
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(&ini, config).unwrap();
        let mut command = Command::new(binary);
        if std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
        {
            // PgBouncer will not run as root; let the switched user write its log.
            std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
                .unwrap();
            command.args(["-u", "nobody"]);
        }
        let child = command
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let bouncer = Self {
            port: listen,
            child,
            dir,
        };
        bouncer.wait_until_listening();
        bouncer
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "PgBouncer did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL of `database` through this pooler.
    pub fn url(&self, database: &str) -> String {
        let admin = crate::helpers::admin_url();
        let user = admin
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map(|(user, _)| user.to_owned())
            .unwrap_or_else(|| "postgres".into());
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
