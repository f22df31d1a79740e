//! The crypto backend: tokens signed and verified with the jsonwebtoken features this build
//! really unifies (the receiver's `aws-lc` by default; with `--features rust-crypto` as well, both
//! backends are compiled in, which jsonwebtoken 10 alone cannot choose between).

mod support;

use graph_comms_receiver::{AuthConfig, AuthError, Authenticator, CRYPTO_BACKEND};
use support::*;

#[test]
fn the_backend_is_the_one_the_features_name() {
    let expected = if cfg!(feature = "aws-lc") {
        "aws-lc"
    } else {
        "rust-crypto"
    };
    assert_eq!(CRYPTO_BACKEND, expected);
}

#[tokio::test]
async fn a_token_signed_here_verifies_and_a_tampered_one_does_not() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    // Building the authenticator installs its backend before anything signs or verifies.
    let auth =
        Authenticator::new(AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url()))
            .expect("authenticator");
    let token = key().sign(&claims(APP_ID));
    let caller = auth.verify(&token).await.expect("an honest token verifies");
    assert_eq!(caller.tenant_id.as_deref(), Some(TENANT));
    assert_eq!(auth.stats().full_verifications, 1);

    // The same claims under another signature: one bit of the signature flipped.
    let (message, signature) = token.rsplit_once('.').expect("three parts");
    let mut sig = signature.as_bytes().to_vec();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    let forged = format!("{message}.{}", String::from_utf8(sig).expect("base64url"));
    assert!(matches!(
        auth.verify(&forged).await,
        Err(AuthError::BadSignature)
    ));

    // A fresh token per call: each one is a full verification, none is cached as another's.
    for i in 0..3 {
        let mut c = claims(APP_ID);
        c["jti"] = i.into();
        auth.verify(&key().sign(&c)).await.expect("fresh token");
    }
    assert_eq!(auth.stats().full_verifications, 5);
}
