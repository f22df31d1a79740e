//! Auth both ways: an Azure-AD-shaped token endpoint and the API's bearer check; the OpenID
//! configuration and JWKS that bots use to verify the emulator's callbacks.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::RegisteredCredential;
use crate::state::{now_secs, Shared, CALLBACK_ISSUER};

/// The audience of access tokens (Microsoft Graph's resource).
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
/// Graph's resource app id, the other audience spelling Azure AD uses.
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The claims of an access token the emulator issues (Azure AD v1 app-only shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub(crate) aud: String,
    pub(crate) iss: String,
    pub(crate) iat: u64,
    pub(crate) nbf: u64,
    pub(crate) exp: u64,
    pub(crate) appid: String,
    #[serde(default)]
    pub(crate) appidacr: String,
    #[serde(default)]
    pub(crate) idtyp: String,
    #[serde(default)]
    pub(crate) oid: String,
    #[serde(default)]
    pub(crate) sub: String,
    pub(crate) tid: String,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    #[serde(default)]
    pub(crate) ver: String,
}

impl AccessClaims {
    pub(crate) fn new(
        tenant: &str,
        client_id: &str,
        roles: Vec<String>,
        lifetime: u64,
        assertion: bool,
    ) -> Self {
        let now = now_secs();
        let oid = uuid::Uuid::new_v4().to_string();
        AccessClaims {
            aud: GRAPH_AUDIENCE.to_owned(),
            iss: format!("https://sts.windows.net/{tenant}/"),
            iat: now,
            nbf: now.saturating_sub(5),
            exp: now + lifetime,
            appid: client_id.to_owned(),
            appidacr: if assertion { "2" } else { "1" }.to_owned(),
            idtyp: "app".to_owned(),
            sub: oid.clone(),
            oid,
            tid: tenant.to_owned(),
            roles,
            ver: "1.0".to_owned(),
        }
    }
}

fn aad_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: {trace}"),
        "error_codes": [code],
        "timestamp": httpdate::fmt_http_date(std::time::SystemTime::now()),
        "trace_id": trace,
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant, with a secret or a client
/// assertion.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match get("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'; the emulator supports client_credentials."),
            )
        }
        None => {
            return aad_error(StatusCode::BAD_REQUEST, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
        }
    }
    let Some(client_id) = get("client_id") else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(scope) = get("scope") else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    if !scope.split(' ').any(|s| s.ends_with("/.default")) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        );
    }
    let secret = get("client_secret");
    let assertion =
        match (get("client_assertion_type"), get("client_assertion")) {
            (Some(JWT_BEARER), Some(a)) => Some(a),
            (Some(t), Some(_)) => {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    50027,
                    &format!("client_assertion_type '{t}' is not supported; use {JWT_BEARER}."),
                )
            }
            (None, Some(_)) => return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_assertion_type'.",
            ),
            _ => None,
        };
    if secret.is_none() && assertion.is_none() {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    if let Some(a) = assertion {
        if let Err(why) = check_assertion(a, client_id) {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                50027,
                &format!("JWT token is invalid or malformed: {why}."),
            );
        }
    }
    let roles = if shared.config.clients.is_empty() {
        shared.config.default_roles.clone()
    } else {
        let Some(client) = shared
            .config
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
        else {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
            );
        };
        match (&client.credential, secret, assertion) {
            (RegisteredCredential::Secret(expected), Some(given), _) if expected == given => {}
            (RegisteredCredential::Assertion, _, Some(_)) => {}
            (RegisteredCredential::Secret(_), _, _) => {
                return aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.")
            }
            (RegisteredCredential::Assertion, _, None) => {
                return aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 700027, "This client authenticates with a client assertion, not a secret.")
            }
        }
        client.roles.clone()
    };
    let lifetime = shared.config.token_lifetime.as_secs();
    let claims = AccessClaims::new(&tenant, client_id, roles, lifetime, assertion.is_some());
    match shared.key.sign(&claims) {
        Ok(jwt) => {
            tracing::debug!(%tenant, %client_id, "issued an access token");
            let body = json!({ "token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": jwt });
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body.to_string(),
            )
                .into_response()
        }
        Err(e) => aad_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            &e.to_string(),
        ),
    }
}

/// A client assertion must be a JWT whose `iss` and `sub` are the client id (signature unchecked).
fn check_assertion(jwt: &str, client_id: &str) -> Result<(), String> {
    let mut parts = jwt.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("expected three dot-separated parts".to_owned());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("payload is not base64url: {e}"))?;
    let claims: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("payload is not JSON: {e}"))?;
    for claim in ["iss", "sub"] {
        if claims[claim] != client_id {
            return Err(format!(
                "claim `{claim}` must be the client id '{client_id}'"
            ));
        }
    }
    Ok(())
}

/// `GET /v1/.well-known/OpenIdConfiguration`, as Bot Framework publishes it for Graph callbacks.
pub(crate) async fn openid_configuration(State(shared): State<Arc<Shared>>) -> Response {
    let root = &shared.root_url;
    let body = json!({
        "issuer": CALLBACK_ISSUER,
        "authorization_endpoint": format!("{root}/v1/.well-known/authorize"),
        "jwks_uri": format!("{root}/v1/keys"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    });
    json_response(StatusCode::OK, &body)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: Azure AD's discovery document.
pub(crate) async fn aad_openid_configuration(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Response {
    let root = &shared.root_url;
    let body = json!({
        "issuer": format!("https://sts.windows.net/{tenant}/"),
        "token_endpoint": format!("{root}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{root}/v1/keys"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "emulator",
    });
    json_response(StatusCode::OK, &body)
}

/// `GET /v1/keys`: the JWKS.
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &shared.key.jwks())
}

pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn assertion_must_name_the_client() {
        let ok = format!("{}.{}.sig", b64("{}"), b64(r#"{"iss":"a","sub":"a"}"#));
        assert_eq!(check_assertion(&ok, "a"), Ok(()));
        let wrong = format!("{}.{}.sig", b64("{}"), b64(r#"{"iss":"a","sub":"b"}"#));
        assert!(check_assertion(&wrong, "a").unwrap_err().contains("`sub`"));
        assert!(check_assertion("not-a-jwt", "a")
            .unwrap_err()
            .contains("three"));
    }
}
