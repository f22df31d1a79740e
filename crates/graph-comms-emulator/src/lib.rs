#![doc = include_str!("../README.md")]

mod api;
mod auth;
mod config;
mod control;
mod error;
mod keys;
mod notifications;
mod script;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post, put};
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::auth::GRAPH_AUDIENCE;
pub use crate::config::{
    default_roles, DeliveryPolicy, EmulatorConfig, RegisteredClient, RegisteredCredential,
    CALLS_ROLE, DEFAULT_TENANT_ID, JOIN_GROUP_CALL_AS_GUEST_ROLE, JOIN_GROUP_CALL_ROLE,
};
pub use crate::control::{Answer, EmulatedParticipant, PlaceCall, PlacedCall};
#[doc(hidden)]
pub use crate::error::{Error, Result};
pub use crate::keys::SigningKey;
pub use crate::script::{CallTarget, Script, Throttle, TransferFlow};
pub use crate::state::{DeliveryRecord, CALLBACK_ISSUER};
/// Types of other graph-comms crates in this crate's API ([`Emulator::base_url`],
/// [`Emulator::tenant_id`], [`PlacedCall::participants`]), so a test can name them without
/// depending on those crates itself.
pub use graph_comms_model::ParticipantInfo;
pub use graph_comms_transfer::Guid;
pub use graph_comms_transport::{ApiVersion, BaseUrl};

use crate::state::Shared;

/// A running emulator. Dropping it stops the server and the delivery tasks; [`Emulator::shutdown`]
/// does so gracefully and waits.
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tenant_id: Guid,
    v1: BaseUrl,
    beta: BaseUrl,
    shutdown_tx: watch::Sender<bool>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Emulator {
    /// Binds `config.addr`, generates the signing key unless one is given, and serves until
    /// [`shutdown`](Emulator::shutdown) or drop. Needs a Tokio runtime.
    pub async fn start(mut config: EmulatorConfig) -> Result<Emulator> {
        let tenant_id: Guid = config.tenant_id.parse().map_err(|e| Error::Config {
            field: "tenant_id",
            rule: format!("{e}"),
        })?;
        let key = match config.signing_key.take() {
            Some(k) => k,
            None => tokio::task::spawn_blocking(SigningKey::generate)
                .await
                .map_err(|e| Error::Key(format!("key generation task failed: {e}")))??,
        };
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        let root_url = format!("http://{addr}");
        let base = |version: ApiVersion| {
            BaseUrl::parse(&format!("{root_url}/{}", version.as_str())).map_err(|e| Error::Config {
                field: "addr",
                rule: e.to_string(),
            })
        };
        let (v1, beta) = (base(ApiVersion::V1)?, base(ApiVersion::Beta)?);
        if let Some(warning) = exposure_warning(addr) {
            tracing::warn!("{warning}");
        }
        if config.clients.is_empty() {
            tracing::warn!(
                "graph-comms emulator: the token endpoint accepts ANY client id and secret (development default; register clients to restrict it)"
            );
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let transport = match config.callback_transport.take() {
            Some(t) => t,
            None => Arc::new(graph_comms_transport::ReqwestTransport::new().map_err(|e| {
                Error::Config {
                    field: "callback_transport",
                    rule: format!("cannot build the default HTTP transport: {e}"),
                }
            })?),
        };
        let shared = Arc::new(Shared::new(
            key,
            root_url,
            config,
            transport,
            shutdown_rx.clone(),
        ));
        let app = router(Arc::clone(&shared));
        let mut rx = shutdown_rx;
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // Resolves on `shutdown()` and when the sender is dropped.
                    let _ = rx.changed().await;
                })
                .await
        });
        tracing::info!(root = %shared.root_url, "graph-comms emulator listening");
        Ok(Emulator {
            shared,
            addr,
            tenant_id,
            v1,
            beta,
            shutdown_tx,
            server: Some(server),
        })
    }

    /// The socket address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The warning logged at start when the emulator listens on an address other than loopback
    /// (see [`exposure_warning`]); `None` on loopback.
    pub fn exposure_warning(&self) -> Option<String> {
        exposure_warning(self.addr)
    }

    /// `http://127.0.0.1:PORT` (no trailing slash): the authority host for the token endpoint.
    pub fn root_url(&self) -> &str {
        &self.shared.root_url
    }

    /// The Graph base URL of `version`: `{root}/v1.0` or `{root}/beta`, ready for
    /// [`GraphCommsClientBuilder::base_url`](graph_comms_transport::GraphCommsClientBuilder::base_url).
    pub fn base_url(&self, version: ApiVersion) -> &BaseUrl {
        match version {
            ApiVersion::Beta => &self.beta,
            _ => &self.v1,
        }
    }

    /// The token endpoint of `tenant`: `{root}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.shared.root_url)
    }

    /// The callback issuer's OpenID configuration: `{root}/v1/.well-known/OpenIdConfiguration`.
    pub fn openid_config_url(&self) -> String {
        format!(
            "{}/v1/.well-known/OpenIdConfiguration",
            self.shared.root_url
        )
    }

    /// The JWKS: `{root}/v1/keys`.
    pub fn jwks_url(&self) -> String {
        format!("{}/v1/keys", self.shared.root_url)
    }

    /// The key that signs tokens and callbacks.
    pub fn signing_key(&self) -> &SigningKey {
        &self.shared.key
    }

    /// The tenant used when none is named (what
    /// [`CallContext::with_tenant`](graph_comms_transfer::CallContext::with_tenant) wants).
    pub fn tenant_id(&self) -> Guid {
        self.tenant_id
    }

    /// Issues an access token directly (as the token endpoint would), with these roles: handy
    /// for testing `403` with `roles = []`.
    pub fn issue_token(&self, tenant: &str, client_id: &str, roles: &[&str]) -> Result<String> {
        let roles = roles.iter().map(|r| (*r).to_owned()).collect();
        let lifetime = self.shared.config.token_lifetime.as_secs();
        self.shared.key.sign(&auth::AccessClaims::new(
            tenant, client_id, roles, lifetime, false,
        ))
    }

    /// Signs a callback JWT as the emulator does for every notification (for receiver tests).
    pub fn callback_token(&self, app_id: &str, tenant_id: &str) -> Result<String> {
        state::callback_token(&self.shared.key, app_id, tenant_id)
    }

    /// Makes a call arrive at a bot (see [`PlaceCall`]). Its notifications are queued at once and
    /// posted by a task on the runtime the emulator was started on (so this may be called from any
    /// thread).
    pub fn place_call(&self, call: PlaceCall) -> Result<PlacedCall> {
        control::place_call(&self.shared, call)
    }

    /// Sets the script of a live call (its throttle counter restarts from the script's).
    pub fn script_call(&self, call_id: &str, script: Script) -> Result<()> {
        control::script_call(&self.shared, call_id, script)
    }

    /// Sets the script of calls created from now on without one.
    pub fn set_default_script(&self, script: Script) {
        self.shared.set_default_script(script);
    }

    /// Answers the next `count` API requests (any route under `/v1.0` or `/beta`, after the token
    /// check) with `429` and `Retry-After: retry_after_seconds`.
    pub fn throttle_next(&self, count: u32, retry_after_seconds: u64) {
        self.shared.set_global_throttle(
            Some(Throttle {
                count,
                retry_after_seconds,
            })
            .filter(|t| t.count > 0),
        );
    }

    /// The remote party hangs up a live call now.
    pub fn hang_up(&self, call_id: &str) -> Result<()> {
        control::hang_up(&self.shared, call_id)
    }

    /// The call resource as `GET` answers it, while the call lives.
    pub fn call(&self, call_id: &str) -> Option<serde_json::Value> {
        self.shared.calls().get(call_id).map(|r| r.resource.clone())
    }

    /// The call's state (`establishing`, `established`, `transferring`, ...), while it lives.
    pub fn call_state(&self, call_id: &str) -> Option<String> {
        self.shared
            .calls()
            .get(call_id)
            .map(|r| r.state().to_owned())
    }

    /// The participant of the call on hold (`startHoldMusic`), while the call lives.
    pub fn on_hold(&self, call_id: &str) -> Option<String> {
        self.shared
            .calls()
            .get(call_id)
            .and_then(|r| r.on_hold.clone())
    }

    /// What was delivered to the call's callback so far, in order (kept after the call ended, for
    /// the 10 000 most recent calls).
    pub fn deliveries(&self, call_id: &str) -> Vec<DeliveryRecord> {
        self.shared.deliveries(call_id)
    }

    /// Waits until at least `count` notifications of the call have been handled (delivered or
    /// given up), or `timeout` passes; returns the records so far either way.
    pub async fn wait_for_deliveries(
        &self,
        call_id: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<DeliveryRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.delivered.notified();
            let got = self.shared.deliveries(call_id);
            if got.len() >= count {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.shared.deliveries(call_id);
            }
        }
    }

    /// Stops accepting requests, finishes those in flight, stops the delivery tasks, and waits.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "emulator server ended with an error"),
                Err(e) => tracing::warn!(error = %e, "emulator server task failed"),
            }
        }
    }
}

/// A loud warning when `addr` is not a loopback address: the control API (`/_emulator/...`) and
/// the token endpoint are unauthenticated by design, so anyone who can reach the address can script
/// calls and mint tokens. `None` for `127.0.0.0/8` and `::1`. [`Emulator::start`] logs it with
/// `tracing::warn!`; `graph-comms emulate` also prints it on stderr.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "graph-comms emulator: listening on {addr}, which is NOT a loopback address: its control API (/_emulator) and token endpoint are unauthenticated by design, so anyone who can reach it can script calls and mint tokens. Bind 127.0.0.1 unless this is an isolated test network."
    ))
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/v1.0", api::router("v1.0"))
        .nest("/beta", api::router("beta"))
        .route("/{tenant}/oauth2/v2.0/token", post(auth::token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(auth::aad_openid_configuration),
        )
        .route(
            "/v1/.well-known/OpenIdConfiguration",
            get(auth::openid_configuration),
        )
        .route("/v1/keys", get(auth::jwks))
        .route("/_emulator", get(control::index))
        .route("/_emulator/calls", post(control::place).get(control::list))
        .route(
            "/_emulator/calls/{id}/script",
            put(control::put_script).get(control::get_script),
        )
        .route("/_emulator/calls/{id}/hangup", post(control::hangup))
        .route("/_emulator/calls/{id}/deliveries", get(control::deliveries))
        .route("/_emulator/script", put(control::put_default_script))
        .route("/_emulator/throttle", put(control::put_throttle))
        .layer(axum::middleware::map_response(error::stamp))
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_quiet() {
        for quiet in ["127.0.0.1:8990", "127.1.2.3:0", "[::1]:8990"] {
            assert_eq!(exposure_warning(quiet.parse().unwrap()), None, "{quiet}");
        }
        for loud in [
            "0.0.0.0:8990",
            "[::]:8990",
            "192.168.1.20:8990",
            "10.0.0.1:1",
        ] {
            let w = exposure_warning(loud.parse().unwrap()).expect(loud);
            assert!(w.contains("NOT a loopback") && w.contains(loud), "{w}");
            assert!(w.contains("unauthenticated"), "{w}");
        }
    }

    #[tokio::test]
    async fn an_emulator_on_loopback_does_not_warn() {
        let em = Emulator::start(
            EmulatorConfig::default().with_signing_key(SigningKey::generate().unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(em.exposure_warning(), None);
    }
}
