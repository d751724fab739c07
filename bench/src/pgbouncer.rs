//! A real PgBouncer in transaction mode, started (and stopped) by whoever needs one: the
//! benchmark and the pooled-path tests.

use std::{
    net::TcpListener,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Pgbouncer {
    pub port: u16,
    user: String,
    child: Child,
    dir: PathBuf,
}

/// The parts of a `postgres://user[:pw]@host:port/db` URL a pooler config needs: user,
/// host, port and password (if any).
fn server_of(url: &str) -> (String, String, String, Option<String>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (userinfo, hostpart) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
        None => (userinfo.to_owned(), None),
    };
    let authority = hostpart
        .split(['/', '?'])
        .next()
        .unwrap_or("127.0.0.1:5432");
    let (host, port) = authority.split_once(':').unwrap_or((authority, "5432"));
    (user, host.to_owned(), port.to_owned(), password)
}

impl Pgbouncer {
    /// Starts a transaction-mode pooler in front of the server of `upstream_url`, with
    /// `pool_size` server connections per database and `max_prepared_statements` tracked
    /// (0: not tracked, as before PgBouncer 1.21). Start-up parameters are PgBouncer's
    /// defaults (none ignored), so the service is held to connecting to a stock pooler.
    pub fn start(
        binary: &str,
        upstream_url: &str,
        pool_size: u32,
        max_prepared_statements: u32,
    ) -> std::io::Result<Self> {
        let listen = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Self::start_on(
            binary,
            upstream_url,
            pool_size,
            max_prepared_statements,
            listen,
        )
    }

    /// As `start`, listening on `listen` (to bring a killed pooler back where it was).
    pub fn start_on(
        binary: &str,
        upstream_url: &str,
        pool_size: u32,
        max_prepared_statements: u32,
        listen: u16,
    ) -> std::io::Result<Self> {
        let (user, host, port, password) = server_of(upstream_url);
        let password = password
            .map(|p| format!(" password={p}"))
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("pgbouncer-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let config = format!(
            "[databases]\n* = host={host} port={port} user={user}{password}\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n\
             auth_type = any\npool_mode = transaction\nmax_client_conn = 1000\n\
             default_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n\
             max_prepared_statements = {max_prepared_statements}\n\
             logfile = {log}\nverbose = 0\n",
            log = dir.join("pgbouncer.log").display(),
        );
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(&ini, config)?;
        let mut command = Command::new(binary);
        if std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
        {
            // PgBouncer will not run as root; let the user it switches to write its log.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))?;
            command.args(["-u", "nobody"]);
        }
        let child = command
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let bouncer = Self {
            port: listen,
            user,
            child,
            dir,
        };
        bouncer.wait_until_listening()?;
        Ok(bouncer)
    }

    fn wait_until_listening(&self) -> std::io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                return Err(std::io::Error::other(format!(
                    "PgBouncer did not start: {}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The URL of `database` through this pooler.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            self.user, self.port
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    /// Kills the pooler (as a crash would): clients lose their connections at once.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_upstream_server() {
        assert_eq!(
            super::server_of("postgres://postgres@127.0.0.1:5432/test"),
            ("postgres".into(), "127.0.0.1".into(), "5432".into(), None)
        );
        assert_eq!(
            super::server_of("postgres://u:pw@db.example:6000/x?sslmode=require"),
            (
                "u".into(),
                "db.example".into(),
                "6000".into(),
                Some("pw".into())
            )
        );
        assert_eq!(super::server_of("postgres://localhost/x").2, "5432");
    }
}
