//! The crypto backend RS256 tokens are verified with: aws-lc by default, RustCrypto behind the
//! `rust-crypto` feature.
//!
//! jsonwebtoken 10 picks its backend from its own features; when a build unifies both (a
//! dependency asking for `rust_crypto`, another for `aws_lc_rs`) it picks none and panics at
//! the first sign or verify. The receiver therefore installs its backend as the process
//! default before it verifies anything; a default installed earlier (by the application, or by
//! a crate of this workspace) is kept.

/// The name of the backend this build of the receiver verifies with: `"aws-lc"` or
/// `"rust-crypto"`.
#[cfg(feature = "aws-lc")]
pub const CRYPTO_BACKEND: &str = "aws-lc";
/// The name of the backend this build of the receiver verifies with: `"aws-lc"` or
/// `"rust-crypto"`.
#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc")))]
pub const CRYPTO_BACKEND: &str = "rust-crypto";

#[cfg(not(any(feature = "aws-lc", feature = "rust-crypto")))]
compile_error!("graph-comms-receiver needs a crypto backend: enable `aws-lc` or `rust-crypto`");

/// Installs the receiver's backend as jsonwebtoken's process default unless one is installed.
pub(crate) fn install() {
    #[cfg(feature = "aws-lc")]
    let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc")))]
    let provider = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
    // An `Err` means a default is already in place: the first one installed stays.
    let _ = provider.install_default();
}
