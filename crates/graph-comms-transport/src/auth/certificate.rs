//! Certificate credentials: a PEM certificate and RSA key, signing client assertions.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha1::{Digest as _, Sha1};

use crate::error::{Error, Result};

/// An X.509 certificate registered on the app, with its RSA private key, used to sign the
/// client assertion Azure AD accepts in place of a client secret.
///
/// The assertion is a JWT signed RS256 whose header carries `x5t`, the base64url SHA-1
/// thumbprint of the certificate's DER encoding. `Debug` shows the thumbprint, never the key.
#[derive(Clone)]
pub struct ClientCertificate {
    key: EncodingKey,
    x5t: String,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// The PEM blocks of a file: (label, base64 text).
fn pem_blocks(text: &str) -> Vec<(&str, String)> {
    let mut blocks = Vec::new();
    let mut rest = text;
    // Bounded: each iteration consumes at least one BEGIN marker.
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            break;
        };
        let b64: String = body_start[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        blocks.push((label, b64));
        rest = &body_start[end + end_marker.len()..];
    }
    blocks
}

impl ClientCertificate {
    /// Reads a PEM text holding a `CERTIFICATE` block and an unencrypted RSA key (`PRIVATE KEY`,
    /// PKCS#8, or `RSA PRIVATE KEY`, PKCS#1), in either order, as Azure's tools export them.
    ///
    /// # Errors
    /// [`Error::Credentials`] when either block is missing, the key is encrypted or not RSA.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(pem)
            .map_err(|_| Error::Credentials("certificate file is not PEM text".into()))?;
        let blocks = pem_blocks(text);
        let cert = blocks
            .iter()
            .find(|(label, _)| *label == "CERTIFICATE")
            .ok_or_else(|| Error::Credentials("certificate PEM has no CERTIFICATE block".into()))?;
        let der = base64::engine::general_purpose::STANDARD
            .decode(&cert.1)
            .map_err(|e| Error::Credentials(format!("certificate PEM: bad base64: {e}")))?;
        if blocks.iter().any(|(label, _)| label.contains("ENCRYPTED")) {
            return Err(Error::Credentials(
                "certificate PEM: encrypted private keys are not supported".into(),
            ));
        }
        let (label, key_b64) = blocks
            .iter()
            .find(|(label, _)| *label == "PRIVATE KEY" || *label == "RSA PRIVATE KEY")
            .ok_or_else(|| Error::Credentials("certificate PEM has no PRIVATE KEY block".into()))?;
        let key_pem = format!("-----BEGIN {label}-----\n{key_b64}\n-----END {label}-----\n");
        let key = EncodingKey::from_rsa_pem(key_pem.as_bytes())
            .map_err(|e| Error::Credentials(format!("certificate PEM: not an RSA key: {e}")))?;
        Ok(Self::from_der_and_key(&der, key))
    }

    /// Reads [`from_pem`](Self::from_pem) from a file.
    ///
    /// # Errors
    /// [`Error::Credentials`] when the file cannot be read or parsed.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Credentials(format!("cannot read certificate {}: {e}", path.display()))
        })?;
        Self::from_pem(&bytes)
    }

    /// A certificate from its DER encoding and an RSA signing key.
    pub fn from_der_and_key(certificate_der: &[u8], key: EncodingKey) -> Self {
        let thumbprint = Sha1::digest(certificate_der);
        let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(thumbprint);
        Self { key, x5t }
    }

    /// The `x5t` header value: base64url SHA-1 thumbprint of the certificate.
    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// A client assertion for `client_id` at `token_url`, valid for ten minutes from `now`
    /// (seconds since the Unix epoch).
    pub(crate) fn assertion(&self, client_id: &str, token_url: &str, now: u64) -> Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(self.x5t.clone());
        let claims = AssertionClaims {
            aud: token_url,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + 600,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Error::Credentials(format!("cannot sign the client assertion: {e}")))
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t", &self.x5t)
            .field("key", &"***")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_block_splitting() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n\
                    -----BEGIN PRIVATE KEY-----\nWFla\n-----END PRIVATE KEY-----\n-----BEGIN broken";
        let blocks = pem_blocks(text);
        assert_eq!(
            blocks,
            [
                ("CERTIFICATE", "QUJDREVG".into()),
                ("PRIVATE KEY", "WFla".into())
            ]
        );
    }

    #[test]
    fn missing_or_bad_blocks_are_errors() {
        let cases = [
            (b"no pem here".as_slice(), "no CERTIFICATE block"),
            (b"-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n", "no PRIVATE KEY"),
            (
                b"-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n-----BEGIN ENCRYPTED PRIVATE KEY-----\nQUJD\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "encrypted",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n",
                "not an RSA key",
            ),
            (b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n", "bad base64"),
        ];
        for (pem, needle) in cases {
            let err = ClientCertificate::from_pem(pem).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }
}
