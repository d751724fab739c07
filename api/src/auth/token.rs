//! Session-token verification: RS256 only, with a small leeway on `exp` and `nbf`, the
//! issuer when one is configured, and `azp` against the authorized parties when set.

use std::{sync::Arc, time::Duration};

use axum::http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, errors::ErrorKind};
use serde::Deserialize;

use super::jwks::Jwks;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY: Duration = Duration::from_secs(5);

/// The claims the forum uses; Clerk's session tokens carry more.
#[derive(Clone, Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub azp: Option<String>,
    /// A display name, when the token carries one (Clerk custom claims, `forum token`).
    #[serde(default)]
    pub name: Option<String>,
}

/// Why a presented token was refused; the message reaches the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the session token is malformed")]
    Malformed,
    #[error("the session token is not signed with RS256")]
    Algorithm,
    #[error("the session token is signed by an unknown key")]
    UnknownKey,
    #[error("the session token's signature is invalid")]
    Signature,
    #[error("the session token has expired")]
    Expired,
    #[error("the session token is not valid yet")]
    NotYetValid,
    #[error("the session token was issued by another issuer")]
    Issuer,
    #[error("the session token was issued for another party")]
    Party,
    #[error("the session token lacks a required claim")]
    Claims,
    /// Not the token's fault: the service cannot verify any token now.
    #[error("Clerk's signing keys cannot be fetched")]
    KeysUnreachable,
}

pub enum Keys {
    /// One PEM key: verification needs no network.
    Static(Arc<DecodingKey>),
    Jwks(Arc<Jwks>),
}

pub struct Verifier {
    keys: Keys,
    validation: Validation,
    authorized_parties: Vec<String>,
}

impl Verifier {
    pub fn new(keys: Keys, issuer: Option<&str>, authorized_parties: Vec<String>) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Clerk's session tokens carry no `aud`.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(issuer) = issuer {
            // jsonwebtoken checks `iss` only when a token has one: without this, a token
            // that leaves it out would pass for the configured issuer's.
            validation.set_required_spec_claims(&["exp", "sub", "iss"]);
            validation.set_issuer(&[issuer]);
        }
        Self {
            keys,
            validation,
            authorized_parties,
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Algorithm);
        }
        let key = match &self.keys {
            Keys::Static(key) => key.clone(),
            Keys::Jwks(jwks) => {
                let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
                let key = jwks.key(kid).await;
                key.map_err(|_| TokenError::KeysUnreachable)?
                    .ok_or(TokenError::UnknownKey)?
            }
        };
        let claims = decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidIssuer => TokenError::Issuer,
                ErrorKind::InvalidSignature => TokenError::Signature,
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => TokenError::Claims,
                _ => TokenError::Malformed,
            })?
            .claims;
        // A subject that is no user id the service can keep names no user.
        if !service::validate::is_user_id(&claims.sub) {
            return Err(TokenError::Claims);
        }
        if !self.authorized_parties.is_empty() {
            let allowed = claims
                .azp
                .as_ref()
                .is_some_and(|azp| self.authorized_parties.iter().any(|p| p == azp));
            if !allowed {
                return Err(TokenError::Party);
            }
        }
        Ok(claims)
    }
}

/// The token a request presents: `Authorization: Bearer …` (cross-origin) or Clerk's
/// `__session` cookie (same origin). A malformed `Authorization` header is a bad token.
pub fn presented(headers: &HeaderMap) -> Result<Option<&str>, TokenError> {
    // Two of them would leave the choice to whichever a proxy put first.
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Err(TokenError::Malformed);
    }
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| TokenError::Malformed)?;
        let (scheme, token) = value.split_once(' ').ok_or(TokenError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(TokenError::Malformed);
        }
        return Ok(Some(token.trim()));
    }
    // Read as bytes: another cookie's value may be UTF-8 (browsers send it as it is),
    // which would make the whole header unreadable as text and sign the user out.
    for cookies in headers.get_all(header::COOKIE) {
        for cookie in cookies.as_bytes().split(|b| *b == b';') {
            if let Some(token) = cookie.trim_ascii().strip_prefix(b"__session=")
                && !token.is_empty()
            {
                let token = std::str::from_utf8(token).map_err(|_| TokenError::Malformed)?;
                return Ok(Some(token));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn finds_the_token_in_the_header_or_the_cookie() {
        assert_eq!(presented(&headers(&[])), Ok(None));
        assert_eq!(
            presented(&headers(&[("authorization", "Bearer abc")])),
            Ok(Some("abc"))
        );
        assert_eq!(
            presented(&headers(&[("authorization", "bearer  abc ")])),
            Ok(Some("abc"))
        );
        assert_eq!(
            presented(&headers(&[("cookie", "a=1; __session=tok; b=2")])),
            Ok(Some("tok"))
        );
        assert_eq!(
            presented(&headers(&[
                ("authorization", "Bearer h"),
                ("cookie", "__session=c")
            ])),
            Ok(Some("h"))
        );
        assert_eq!(
            presented(&headers(&[("authorization", "Basic abc")])),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            presented(&headers(&[("authorization", "Bearer ")])),
            Err(TokenError::Malformed)
        );
        assert_eq!(presented(&headers(&[("cookie", "__session=")])), Ok(None));
        // Another cookie's UTF-8 value does not hide the session.
        let mut jar = HeaderMap::new();
        let value = HeaderValue::from_bytes("pref=café; __session=tok".as_bytes()).unwrap();
        jar.append(header::COOKIE, value);
        assert_eq!(presented(&jar), Ok(Some("tok")));
        assert_eq!(
            presented(&headers(&[
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b")
            ])),
            Err(TokenError::Malformed)
        );
    }
}
