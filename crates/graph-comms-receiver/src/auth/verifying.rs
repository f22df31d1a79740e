//! One published signing key, ready to check RS256 signatures.
//!
//! With aws-lc the RSA public key is parsed once, when the key set is fetched: aws-lc keeps its
//! Montgomery constants with the key, so each verification is the signature's modular
//! exponentiation alone. Verifying through `jsonwebtoken::decode` instead rebuilds the key from
//! `n` and `e` at every token, which cost about a sixth of a fresh token's verification. With
//! RustCrypto (the `rust-crypto` feature alone) the key goes through jsonwebtoken as before.

#[cfg(feature = "aws-lc")]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
#[cfg(feature = "aws-lc")]
use base64::Engine as _;

/// An RS256 verifying key (RSASSA-PKCS1-v1_5 with SHA-256, 2048 to 8192 bits).
pub(crate) struct VerifyingKey {
    #[cfg(feature = "aws-lc")]
    parsed: aws_lc_rs::signature::ParsedPublicKey,
    #[cfg(not(feature = "aws-lc"))]
    decoding: jsonwebtoken::DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyingKey(RS256)")
    }
}

impl VerifyingKey {
    /// The key of a JWK's `n` and `e` (unpadded base64url, big-endian).
    ///
    /// # Errors
    /// A sentence saying what is wrong with them.
    pub(crate) fn from_components(n: &str, e: &str) -> Result<Self, String> {
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
            let decode = |name: &str, value: &str| {
                URL_SAFE_NO_PAD
                    .decode(value)
                    .map_err(|error| format!("`{name}` is not unpadded base64url: {error}"))
            };
            let (n, e) = (decode("n", n)?, decode("e", e)?);
            let parsed = RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map_err(|error| format!("not an RSA public key: {error}"))?;
            Ok(Self { parsed })
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            // jsonwebtoken verifies with its process default: make sure there is one.
            super::backend::install();
            jsonwebtoken::DecodingKey::from_rsa_components(n, e)
                .map(|decoding| Self { decoding })
                .map_err(|error| error.to_string())
        }
    }

    /// Whether `signature` (a JWT's third part: unpadded base64url) is this key's RS256
    /// signature of `message` (the JWT's first two parts with the dot between them).
    ///
    /// # Errors
    /// When `signature` is not base64url: the token is malformed rather than badly signed.
    pub(crate) fn verifies(&self, message: &[u8], signature: &str) -> Result<bool, String> {
        #[cfg(feature = "aws-lc")]
        {
            let signature = URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(|error| format!("the signature is not base64url: {error}"))?;
            Ok(self.parsed.verify_sig(message, &signature).is_ok())
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            // jsonwebtoken decodes the signature itself: its only error for an RSA key is
            // a signature that is not base64url.
            jsonwebtoken::crypto::verify(
                signature,
                message,
                &self.decoding,
                jsonwebtoken::Algorithm::RS256,
            )
            .map_err(|error| format!("the signature is not base64url: {error}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_that_are_not_base64url_or_not_a_key_are_refused() {
        assert!(VerifyingKey::from_components("not base64!", "AQAB").is_err());
        assert!(VerifyingKey::from_components("AQAB", "***").is_err());
        // An empty modulus is no RSA key: refused when parsed (aws-lc), or verifying nothing.
        assert!(VerifyingKey::from_components("", "AQAB")
            .map_or(true, |key| key.verifies(b"a.b", "AAAA") == Ok(false)));
    }
}
