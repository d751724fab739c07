//! RSA key pairs for the local development identity (and for tests): generated with
//! aws-lc-rs, stored as PKCS#8 PEM, published as a JWK.

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der},
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{DecodingKey, EncodingKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PKCS#8 RSA private key in PEM form")]
    Malformed,
    #[error("could not generate an RSA key")]
    Generate,
}

pub struct RsaKey {
    pair: KeyPair,
    der: Vec<u8>,
}

impl RsaKey {
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let der: Pkcs8V1Der = pair.as_der().map_err(|_| KeyError::Generate)?;
        let der = der.as_ref().to_vec();
        Ok(Self { pair, der })
    }

    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_body(pem, "PRIVATE KEY").ok_or(KeyError::Malformed)?;
        let pair = KeyPair::from_pkcs8(&der).map_err(|_| KeyError::Malformed)?;
        Ok(Self { pair, der })
    }

    /// The private key, PKCS#8 PEM.
    pub fn private_pem(&self) -> String {
        pem("PRIVATE KEY", &self.der)
    }

    /// The public key, SPKI PEM (what `CLERK_JWT_KEY` holds).
    pub fn public_pem(&self) -> String {
        let der: Result<PublicKeyX509Der, _> = self.pair.public_key().as_der();
        der.map(|d| pem("PUBLIC KEY", d.as_ref()))
            .unwrap_or_default()
    }

    pub fn encoding_key(&self) -> Result<EncodingKey, KeyError> {
        EncodingKey::from_rsa_pem(self.private_pem().as_bytes()).map_err(|_| KeyError::Malformed)
    }

    pub fn decoding_key(&self) -> DecodingKey {
        let (n, e) = self.components();
        DecodingKey::from_rsa_raw_components(&n, &e)
    }

    /// The public key as a JWK with `kid`, as a JWKS endpoint lists it.
    pub fn jwk(&self, kid: &str) -> serde_json::Value {
        let (n, e) = self.components();
        serde_json::json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        })
    }

    fn components(&self) -> (Vec<u8>, Vec<u8>) {
        let public = self.pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        (n, e)
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = pem[start..].find(&end)? + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_the_key() -> Result<(), KeyError> {
        let key = RsaKey::generate()?;
        let again = RsaKey::from_pem(&key.private_pem())?;
        assert_eq!(key.jwk("k"), again.jwk("k"));
        assert!(key.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(DecodingKey::from_rsa_pem(key.public_pem().as_bytes()).is_ok());
        assert!(
            RsaKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
        Ok(())
    }
}
