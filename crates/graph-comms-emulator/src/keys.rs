//! The emulator's RSA key: signs access tokens and callback JWTs, published as a JWKS.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// An RS256 signing key with its key id (`kid`).
///
/// Cheap to clone (an `Arc` inside). Generating a 2048-bit key takes a noticeable fraction of a
/// second, so a test suite that starts many emulators can generate one key and hand it to each
/// through [`EmulatorConfig::signing_key`](crate::EmulatorConfig::signing_key).
///
/// ```
/// # fn main() -> Result<(), graph_comms_emulator::Error> {
/// let key = graph_comms_emulator::SigningKey::generate()?;
/// assert_eq!(key.jwk()["alg"], "RS256");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<KeyInner>,
}

struct KeyInner {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    n: String,
    e: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.inner.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh 2048-bit RSA key.
    pub fn generate() -> Result<Self> {
        let mut rng = rand::thread_rng();
        let key = RsaPrivateKey::new(&mut rng, 2048).map_err(|e| Error::Key(e.to_string()))?;
        Self::from_rsa(&key)
    }

    /// Uses an existing RSA private key.
    pub fn from_rsa(key: &RsaPrivateKey) -> Result<Self> {
        let der = key.to_pkcs1_der().map_err(|e| Error::Key(e.to_string()))?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let decoding =
            DecodingKey::from_rsa_components(&n, &e).map_err(|e| Error::Key(e.to_string()))?;
        // RFC 7638 thumbprint of the public key, as Azure AD's kids are opaque but stable.
        let thumb_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumb_input.as_bytes()));
        Ok(SigningKey {
            inner: Arc::new(KeyInner {
                kid,
                encoding: EncodingKey::from_rsa_der(der.as_bytes()),
                decoding,
                n,
                e,
            }),
        })
    }

    /// Parses a PKCS#1 PEM RSA private key (`-----BEGIN RSA PRIVATE KEY-----`).
    pub fn from_pkcs1_pem(pem: &str) -> Result<Self> {
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|e| Error::Key(format!("PKCS#1 PEM: {e}")))?;
        Self::from_rsa(&key)
    }

    /// Parses a PEM RSA private key, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
    /// (`BEGIN PRIVATE KEY`), as `openssl genrsa` and `openssl genpkey` write them.
    pub fn from_pem(pem: &str) -> Result<Self> {
        if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            return Self::from_pkcs1_pem(pem);
        }
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| Error::Key(format!("PKCS#8 PEM: {e}")))?;
        Self::from_rsa(&key)
    }

    /// The key id (`kid`) put in every JWT header and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The public key as one JWK: `{"kty":"RSA","use":"sig","kid","alg":"RS256","n","e"}`.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.inner.kid,
            "alg": "RS256",
            "n": self.inner.n,
            "e": self.inner.e,
        })
    }

    /// The JWKS document: `{"keys":[jwk]}`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk()] })
    }

    /// Signs `claims` as an RS256 JWT with this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.inner.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.inner.encoding)
            .map_err(|e| Error::Sign(e.to_string()))
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.inner.decoding
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};

    #[test]
    fn pem_in_both_encodings_gives_the_same_key() {
        let mut rng = rand::thread_rng();
        let key = RsaPrivateKey::new(&mut rng, 1024).expect("key");
        let pkcs1 = key.to_pkcs1_pem(LineEnding::LF).expect("pkcs1");
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).expect("pkcs8");
        let a = SigningKey::from_pem(&pkcs1).expect("pkcs1 parses");
        let b = SigningKey::from_pem(&pkcs8).expect("pkcs8 parses");
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.jwk(), b.jwk());
        let bad = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
        let err = SigningKey::from_pem(bad).unwrap_err();
        assert!(err.to_string().contains("PKCS#8"), "{err}");
    }
}
