//! `/audit/events` (the journal, filtered and paginated by stream sequence) and `/audit/verify`
//! (recomputes the hash chain). Reading the journal needs `users:manage` and covers the caller's
//! tenant; verifying spans every tenant, so it is for administrators.

use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{ActorId, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error;
use crate::projection::audit::{link, GENESIS};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(verify))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Events at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Administrators only; others always see their own tenant.
    #[param(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub actor_id: Option<ActorId>,
    /// E.g. `identity.user`.
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    /// E.g. `UserCreated`.
    pub event_type: Option<String>,
    /// Only events after this stream sequence (the previous page's `next_after`).
    pub after: Option<i64>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub sequence: i64,
    #[schema(value_type = Object)]
    pub envelope: serde_json::Value,
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", security(("bearer" = [])), params(AuditFilter),
    responses((status = 200, body = AuditPage), (status = 403, body = ProblemDetails)))]
pub async fn list_events(
    State(state): State<AppState>,
    auth: Auth,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<AuditPage>, ApiError> {
    auth.require(Entity::Users, Right::Manage)?;
    let tenant = auth.scope().filter(filter.tenant_id).map(|t| t.0);
    let limit = filter.limit.unwrap_or(100).clamp(1, 500);
    let client = state.pool.get().await.map_err(error::postgres)?;
    let rows = client
        .query(
            "SELECT sequence, envelope, hash FROM audit.events
             WHERE ($1::timestamptz IS NULL OR occurred_at >= $1) AND ($2::timestamptz IS NULL OR occurred_at < $2)
               AND ($3::uuid IS NULL OR tenant_id = $3) AND ($4::uuid IS NULL OR actor_id = $4)
               AND ($5::text IS NULL OR aggregate_type = $5) AND ($6::text IS NULL OR aggregate_id = $6)
               AND ($7::text IS NULL OR event_type = $7) AND sequence > $8
             ORDER BY sequence LIMIT $9",
            &[&filter.from, &filter.to, &tenant, &filter.actor_id.map(|a| a.0), &filter.aggregate_type, &filter.aggregate_id, &filter.event_type, &filter.after.unwrap_or(0), &(limit + 1)],
        )
        .await
        .map_err(error::postgres)?;
    let mut items: Vec<AuditEntry> = rows
        .iter()
        .map(|r| AuditEntry {
            sequence: r.get(0),
            envelope: r.get(1),
            hash: r.get(2),
        })
        .collect();
    let more = items.len() > usize::try_from(limit).unwrap_or(100);
    items.truncate(usize::try_from(limit).unwrap_or(100));
    let next_after = if more {
        items.last().map(|e| e.sequence)
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_after }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyReport {
    /// Whether every row's hash matches its content and its predecessor.
    pub intact: bool,
    pub rows_checked: u64,
    /// Stream sequence of the first row whose hash does not match.
    pub first_broken_sequence: Option<i64>,
}

/// Rows checked per query, so a long journal is verified in bounded memory.
const VERIFY_BATCH: i64 = 1000;

#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = VerifyReport), (status = 403, body = ProblemDetails)))]
pub async fn verify(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<VerifyReport>, ApiError> {
    auth.require_administrator()?;
    let client = state.pool.get().await.map_err(error::postgres)?;
    let (mut prev, mut after, mut checked) = (GENESIS.to_owned(), 0i64, 0u64);
    loop {
        let rows = client
            .query("SELECT sequence, envelope, prev_hash, hash FROM audit.events WHERE sequence > $1 ORDER BY sequence LIMIT $2", &[&after, &VERIFY_BATCH])
            .await
            .map_err(error::postgres)?;
        if rows.is_empty() {
            return Ok(Json(VerifyReport {
                intact: true,
                rows_checked: checked,
                first_broken_sequence: None,
            }));
        }
        for row in &rows {
            let (sequence, envelope): (i64, serde_json::Value) = (row.get(0), row.get(1));
            let (stored_prev, stored_hash): (String, String) = (row.get(2), row.get(3));
            checked += 1;
            if stored_prev != prev || link(&prev, &envelope, sequence) != stored_hash {
                tracing::warn!(sequence, "audit journal chain is broken");
                return Ok(Json(VerifyReport {
                    intact: false,
                    rows_checked: checked,
                    first_broken_sequence: Some(sequence),
                }));
            }
            (prev, after) = (stored_hash, sequence);
        }
    }
}
