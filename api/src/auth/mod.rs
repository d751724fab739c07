//! Identity at the edge: a request's token becomes a `Viewer` before the schema runs. No
//! token is anonymous; a present but invalid one is refused, never silently anonymous.

pub mod dev;
pub mod jwks;
pub mod keys;
pub mod token;

use std::{net::SocketAddr, sync::Arc};

use axum::http::HeaderMap;
use jsonwebtoken::DecodingKey;
use service::{Db, Viewer};

use crate::config::IdentityConfig;
use token::{Keys, Verifier};

pub struct Auth {
    verifier: Verifier,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("CLERK_JWT_KEY is not an RSA public key in PEM form")]
    JwtKey,
    #[error("cannot set up HTTPS for the JWKS: {0}")]
    Tls(#[from] rustls::Error),
    #[error(
        "no Clerk key is configured (CLERK_JWT_KEY, CLERK_JWKS_URL or CLERK_ISSUER), so the \
         server would trust its own development signing key, and it is bound to {0}, which is \
         not a loopback address. Configure Clerk, or listen on 127.0.0.1"
    )]
    DevIdentityExposed(SocketAddr),
    #[error("development signing key: {0}")]
    DevKey(#[from] dev::DevKeyError),
}

/// Who is asking, with the user's row as the edge read it (the `viewer` field answers
/// from it instead of reading it again).
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub viewer: Viewer,
    pub user: Option<Arc<service::user::User>>,
}

/// Why a request gets no viewer.
#[derive(Debug)]
pub enum ViewerError {
    /// A bad, expired or foreign token, or a deleted account: the message says which.
    Unauthenticated(String),
    /// The database could not be asked who the user is, or Clerk's keys were out of reach.
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
}

impl Auth {
    pub fn new(config: &IdentityConfig, listen: SocketAddr) -> Result<Self, AuthSetupError> {
        let keys = if let Some(pem) = &config.jwt_key {
            let key =
                DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| AuthSetupError::JwtKey)?;
            Keys::Static(Arc::new(key))
        } else if let Some(url) = config.jwks_url() {
            Keys::Jwks(Arc::new(jwks::Jwks::new(
                url,
                config.jwks_min_refresh,
                config.jwks_max_age,
            )?))
        } else {
            if !listen.ip().is_loopback() {
                return Err(AuthSetupError::DevIdentityExposed(listen));
            }
            let key = dev::load_or_create(&config.dev_key_path)?;
            tracing::warn!(
                key = %config.dev_key_path.display(),
                "LOCAL DEVELOPMENT IDENTITY: no Clerk key is configured, so session tokens \
                 signed by this server's own key are trusted. Mint one with \
                 `forum token --user <id>`. Set CLERK_JWT_KEY or CLERK_JWKS_URL in production."
            );
            Keys::Static(Arc::new(key.decoding_key()))
        };
        Ok(Self {
            verifier: Verifier::new(
                keys,
                config.issuer.as_deref(),
                config.authorized_parties.clone(),
            ),
        })
    }

    /// Who is asking. A valid token whose user has no row yet gets one, so a user can post
    /// before Clerk's webhook arrives; a deleted account stays deleted.
    pub async fn viewer(&self, db: &Db, headers: &HeaderMap) -> Result<Identity, ViewerError> {
        let unauthenticated = |e: token::TokenError| ViewerError::Unauthenticated(e.to_string());
        let Some(token) = token::presented(headers).map_err(unauthenticated)? else {
            return Ok(Identity::default());
        };
        let claims = self.verifier.verify(token).await.map_err(|e| match e {
            token::TokenError::KeysUnreachable => ViewerError::Unavailable(e.into()),
            e => unauthenticated(e),
        })?;
        let user = service::user::provision(db, &claims.sub, claims.name.as_deref())
            .await
            .map_err(|e| ViewerError::Unavailable(e.into()))?;
        if user.is_deleted() {
            return Err(ViewerError::Unauthenticated(
                "this account was deleted".to_owned(),
            ));
        }
        Ok(Identity {
            viewer: Viewer::User {
                role: user.effective_role(),
                id: user.id.clone(),
            },
            user: Some(Arc::new(user)),
        })
    }
}
