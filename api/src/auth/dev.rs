//! The local development identity: with no Clerk key configured, the server makes (once)
//! its own signing key beside the embedded database and trusts it, and `forum token`
//! mints session tokens with it. Verification is the same as for Clerk's tokens; only the
//! key differs. Never on a non-loopback address.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use jsonwebtoken::{Algorithm, Header, encode};
use serde::Serialize;

use super::keys::{KeyError, RsaKey};

pub const KEY_ID: &str = "forum-dev";

#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: KeyError },
}

/// Loads the key at `path`, creating it (readable by the owner only) if missing.
pub fn load_or_create(path: &Path) -> Result<RsaKey, DevKeyError> {
    let io = |source| DevKeyError::Io {
        path: path.to_owned(),
        source,
    };
    let key_error = |source| DevKeyError::Key {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(pem) => RsaKey::from_pem(&pem).map_err(key_error),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = RsaKey::generate().map_err(key_error)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            // Written whole under a name of its own, then linked into place (which fails
            // if the key exists): the key file is absent or whole, whether this process
            // dies midway or another one starts at the same moment.
            let temp = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let written = options.open(&temp).and_then(|mut file| {
                file.write_all(key.private_pem().as_bytes())?;
                file.sync_all()
            });
            let linked = written.and_then(|()| std::fs::hard_link(&temp, path));
            let _ = std::fs::remove_file(&temp);
            match linked {
                Ok(()) => Ok(key),
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pem = std::fs::read_to_string(path).map_err(io)?;
                    RsaKey::from_pem(&pem).map_err(key_error)
                }
                Err(e) => Err(io(e)),
            }
        }
        Err(e) => Err(io(e)),
    }
}

#[derive(Serialize)]
struct DevClaims<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// A session token for `user_id`, valid for `ttl`.
pub fn mint(
    key: &RsaKey,
    user_id: &str,
    name: Option<&str>,
    ttl: Duration,
) -> Result<String, KeyError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.to_owned());
    let claims = DevClaims {
        sub: user_id,
        name,
        iat: now,
        nbf: now,
        exp: now + ttl.as_secs(),
    };
    encode(&header, &claims, &key.encoding_key()?).map_err(|_| KeyError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn racing_starts_share_one_whole_key() {
        let dir = std::env::temp_dir().join(format!("forum-dev-{}", uuid::Uuid::new_v4().simple()));
        let path = dir.join("key.pem");
        let keys: Vec<_> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| load_or_create(&path).map(|k| k.private_pem())))
                .collect();
            racers
                .into_iter()
                .map(|r| r.join().unwrap().unwrap())
                .collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), *keys[0]);
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files, 1, "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
