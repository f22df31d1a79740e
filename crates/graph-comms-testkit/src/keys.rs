//! RSA keys for tests that sign tokens or build certificates: one generator, one JWK shape.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;

/// A fresh 2048-bit RSA key (Graph signs RS256 with 2048-bit keys).
///
/// # Panics
/// When the key cannot be generated (a broken random source): a test cannot go on without it.
pub fn rsa_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key generation")
}

/// The public half of `key` as the JWK of an RS256 signing key named `kid`, as an OpenID
/// configuration's `jwks_uri` publishes it.
pub fn rsa_jwk(key: &RsaPrivateKey, kid: &str) -> serde_json::Value {
    let public = key.to_public_key();
    serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "kid": kid,
        "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    })
}
