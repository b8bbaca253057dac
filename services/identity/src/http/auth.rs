//! `/auth/*`: login, refresh, logout, API-key exchange, the JWKS, the caller's identity, and
//! signing-key rotation.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use trainyard_auth::{Auth, Jwks, Rights};
use trainyard_core::{ActorId, ActorKind, Rejection, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::service_account::ServiceAccount;
use crate::domain::user::User;
use crate::issue::{self, Principal, TokenResponse};
use crate::state::AppState;
use crate::{error, password, secrets, unique};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(exchange_api_key))
        .routes(routes!(jwks))
        .routes(routes!(me))
        .routes(routes!(rotate_keys))
}

/// Credentials. No `Debug`: the password must never reach a log line.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Tenant name; the installation's first tenant when absent.
    pub tenant: Option<String>,
    pub login: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ApiKeyRequest {
    pub api_key: String,
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthenticated(Rejection::new(
        "invalid_credentials",
        "the login or password is wrong",
    ))
}

fn throttled(retry_after: std::time::Duration) -> Response {
    let mut response = ProblemDetails::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "too many failed logins; retry later",
    )
    .into_response();
    let secs = retry_after.as_secs().max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&secs) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The live, unblocked user `actor_id` as a session principal.
pub async fn user_principal(
    state: &AppState,
    actor_id: ActorId,
) -> Result<Option<Principal>, ApiError> {
    let loaded = state
        .store
        .load::<User>(&actor_id.to_string())
        .await
        .map_err(error::read)?;
    let (version, user) = (loaded.last_sequence, loaded.state);
    let (true, false, Some(tenant)) = (user.is_live(), user.blocked, user.tenant_id) else {
        return Ok(None);
    };
    Ok(Some(Principal {
        actor_id,
        kind: ActorKind::User,
        tenant,
        name: user.login,
        roles: user.roles,
        must_change_password: user.must_change_password,
        version,
    }))
}

/// Log in with a login and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ProblemDetails), (status = 429, body = ProblemDetails)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let address = state.proxies.client(peer.ip(), forwarded);
    let tenant_name = request
        .tenant
        .clone()
        .unwrap_or_else(|| state.config.service.bootstrap.tenant.clone());
    let throttle_key = format!(
        "{}/{}",
        tenant_name.to_lowercase(),
        request.login.to_lowercase()
    );
    if let Some(retry_after) = state.throttle.blocked(&throttle_key, address) {
        return Ok(throttled(retry_after));
    }
    let principal = match unique::tenant_by_name(&state.store, &tenant_name)
        .await
        .map_err(error::read)?
    {
        Some(tenant) => find_user(&state, tenant, &request.login).await?,
        None => None,
    };
    let stored = match &principal {
        Some(p) => password::load_hash(&state.pool, p.actor_id)
            .await
            .map_err(error::password)?,
        None => None,
    };
    let matches = state
        .hasher
        .verify(request.password, stored)
        .await
        .map_err(error::password)?;
    let Some(principal) = principal.filter(|_| matches) else {
        state.throttle.record_failure(&throttle_key, address);
        return Err(invalid_credentials());
    };
    state.throttle.record_success(&throttle_key, address);
    let user = user_principal(&state, principal.actor_id).await?;
    let Some(principal) = user else {
        return Err(ApiError::forbidden("the account is blocked"));
    };
    tracing::info!(user = %principal.actor_id, tenant = %principal.tenant, "user logged in");
    Ok(Json(issue::start_session(&state, &principal, true).await?).into_response())
}

/// The user behind `login` in `tenant`, blocked or not (blocking is reported after the password).
async fn find_user(
    state: &AppState,
    tenant: TenantId,
    login: &str,
) -> Result<Option<Principal>, ApiError> {
    let Some(actor_id) = unique::user_by_login(&state.store, tenant, login)
        .await
        .map_err(error::read)?
    else {
        return Ok(None);
    };
    let loaded = state
        .store
        .load::<User>(&actor_id.to_string())
        .await
        .map_err(error::read)?;
    let (version, user) = (loaded.last_sequence, loaded.state);
    if !user.is_live() || user.tenant_id != Some(tenant) {
        return Ok(None);
    }
    Ok(Some(Principal {
        actor_id,
        kind: ActorKind::User,
        tenant,
        name: user.login,
        roles: user.roles,
        must_change_password: user.must_change_password,
        version,
    }))
}

/// Exchange a refresh token for new tokens; the presented refresh token stops working.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ProblemDetails)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    Ok(Json(issue::refresh(&state, &request.refresh_token).await?))
}

/// End the caller's session: its refresh token and every access token of it stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ProblemDetails)))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    let claims = auth.claims();
    issue::revoke(
        &state,
        claims.sid,
        Some(claims.jti),
        auth.actor(),
        auth.tenant(),
        "logout",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exchange a service account's API key for an access token.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = ApiKeyRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ProblemDetails)))]
pub async fn exchange_api_key(
    State(state): State<AppState>,
    Json(request): Json<ApiKeyRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let invalid = || {
        ApiError::Unauthenticated(Rejection::new(
            "invalid_api_key",
            "the API key is invalid or revoked",
        ))
    };
    let (account_id, key_id, presented) =
        secrets::parse_api_key(&request.api_key).ok_or_else(invalid)?;
    let loaded = state
        .store
        .load::<ServiceAccount>(&account_id.to_string())
        .await
        .map_err(error::read)?;
    let (version, account) = (loaded.last_sequence, loaded.state);
    let key = account
        .active_key(key_id)
        .filter(|k| secrets::digests_match(&k.key_hash, &presented));
    let (true, Some(_), Some(tenant)) = (account.is_live(), key, account.tenant_id) else {
        return Err(invalid());
    };
    let principal = Principal {
        actor_id: account_id,
        kind: ActorKind::ServiceAccount,
        tenant,
        name: account.name,
        roles: account.roles,
        must_change_password: false,
        version,
    };
    Ok(Json(issue::start_session(&state, &principal, false).await?))
}

/// The public keys that verify access tokens (JWKS).
#[utoipa::path(get, path = "/api/v1/auth/jwks", tag = "auth", responses((status = 200, body = Jwks)))]
pub async fn jwks(State(state): State<AppState>) -> Json<Jwks> {
    Json(state.keys.jwks())
}

/// The caller as its token describes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    #[schema(value_type = String, format = Uuid)]
    pub actor_id: ActorId,
    #[schema(value_type = String)]
    pub kind: ActorKind,
    #[schema(value_type = String, format = Uuid)]
    pub tenant_id: TenantId,
    pub name: String,
    pub administrator: bool,
    #[schema(value_type = Object)]
    pub rights: Rights,
    pub must_change_password: bool,
    pub expires_at: i64,
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ProblemDetails)))]
pub async fn me(auth: Auth) -> Json<Me> {
    let c = auth.claims();
    Json(Me {
        actor_id: c.sub,
        kind: c.kind,
        tenant_id: c.tenant,
        name: c.name.clone(),
        administrator: auth.is_administrator(),
        rights: c.rights,
        must_change_password: c.pwd_change,
        expires_at: c.exp,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    /// Key id of the new signing key.
    pub kid: String,
}

/// Start signing with a fresh key; tokens signed by older keys keep working until they expire.
#[utoipa::path(post, path = "/api/v1/auth/keys/rotate", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Rotated), (status = 403, body = ProblemDetails)))]
pub async fn rotate_keys(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Rotated>, ApiError> {
    auth.require_administrator()?;
    let kid = state.keys.rotate().await.map_err(error::keys)?;
    state.verifier.set_keys(&state.keys.jwks());
    Ok(Json(Rotated { kid }))
}

redacted_debug!(LoginRequest, RefreshRequest, ApiKeyRequest);
