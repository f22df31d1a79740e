//! The bearer-token check every API route starts with, as an extractor: [`Authorized`] verifies
//! the token (`401`), the app roles the route needs (`403`), then the global throttle (`429`).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, Validation};

use crate::auth::{AccessClaims, GRAPH_APP_ID, GRAPH_AUDIENCE};
use crate::config::{CALLS_ROLE, JOIN_GROUP_CALL_AS_GUEST_ROLE, JOIN_GROUP_CALL_ROLE};
use crate::error::GraphError;
use crate::state::Shared;

/// The app roles a route needs: the token must carry at least one of [`Roles::ANY_OF`].
pub(crate) trait Roles {
    /// Any one of these is enough.
    const ANY_OF: &'static [&'static str];
}

/// Calls, answer, reject, redirect, transfer, delete, prompts: `Calls.Initiate.All`.
#[derive(Debug)]
pub(crate) struct InitiateCalls;

impl Roles for InitiateCalls {
    const ANY_OF: &'static [&'static str] = &[CALLS_ROLE];
}

/// Hold music: `Calls.JoinGroupCall.All` or `Calls.JoinGroupCallAsGuest.All`, as on the
/// `participant: startHoldMusic` page.
#[derive(Debug)]
pub(crate) struct JoinGroupCalls;

impl Roles for JoinGroupCalls {
    const ANY_OF: &'static [&'static str] = &[JOIN_GROUP_CALL_ROLE, JOIN_GROUP_CALL_AS_GUEST_ROLE];
}

/// A caller holding a valid emulator-issued token with one of `R`'s roles, not throttled.
/// Its rejection is Graph's error (`401 InvalidAuthenticationToken`, `403 Forbidden`, `429`).
#[derive(Debug)]
pub(crate) struct Authorized<R = InitiateCalls> {
    pub(crate) claims: AccessClaims,
    roles: PhantomData<R>,
}

impl<R: Roles + Send + Sync> FromRequestParts<Arc<Shared>> for Authorized<R> {
    type Rejection = GraphError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let claims = verify(shared, parts)?;
        if !R::ANY_OF
            .iter()
            .any(|need| claims.roles.iter().any(|r| r == need))
        {
            return Err(GraphError::forbidden(format!(
                "Application {:?} does not have the {} application permission (roles in token: {:?}).",
                claims.appid,
                R::ANY_OF.join(" or "),
                claims.roles
            )));
        }
        if let Some(after) = shared.take_global_throttle() {
            return Err(GraphError::throttled(after));
        }
        Ok(Authorized {
            claims,
            roles: PhantomData,
        })
    }
}

/// Checks `Authorization: Bearer <token>`: `401` without a valid emulator-issued token.
fn verify(shared: &Shared, parts: &Parts) -> Result<AccessClaims, GraphError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(GraphError::unauthorized("Access token is empty."));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::unauthorized("Access token is empty or not a Bearer token."))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[GRAPH_AUDIENCE, GRAPH_APP_ID]);
    validation.leeway = 60;
    let data = jsonwebtoken::decode::<AccessClaims>(token, shared.key.decoding_key(), &validation)
        .map_err(|e| GraphError::unauthorized(format!("Access token validation failure: {e}.")))?;
    Ok(data.claims)
}
