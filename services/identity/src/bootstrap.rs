//! The first administrator. On start, if the bootstrap tenant or its administrator login does not
//! exist yet, both are created; the reservations make this safe when replicas start together.
//! Without a configured password one is generated and written once to the given output (standard
//! output in production), never to the logs, and must be changed at first login.

use std::io::Write;

use chrono::Utc;
use trainyard_core::{Actor, ActorId, CorrelationId, EventId, Metadata, TenantId};
use trainyard_platform::event_store::ReservationError;

use crate::domain::user::{User, UserCommand};
use crate::domain::BuiltinRole;
use crate::state::AppState;
use crate::{password, secrets, unique};

/// Where the generated password goes.
pub type Output = Box<dyn Write + Send>;

pub async fn run(state: &AppState, out: &mut Output) -> anyhow::Result<()> {
    let config = &state.config.service.bootstrap;
    let tenant = match unique::tenant_by_name(&state.store, &config.tenant).await? {
        Some(tenant) => tenant,
        None => create_tenant(state, &config.tenant).await?,
    };
    if unique::user_by_login(&state.store, tenant, &config.admin_login)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let (password, generated) = match &config.admin_password {
        Some(password) => (password.clone(), false),
        None => (secrets::generated_password(), true),
    };
    let id = ActorId::new();
    let meta = metadata(tenant);
    match state
        .store
        .reserve(
            &meta,
            EventId::new(),
            &unique::login(tenant, &config.admin_login),
            &id.to_string(),
        )
        .await
    {
        Ok(_) => {}
        Err(ReservationError::Taken { .. }) => return Ok(()),
        Err(other) => return Err(other.into()),
    }
    let hash = state.hasher.hash(password.clone()).await?;
    password::store_hash(&state.pool, id, &hash).await?;
    let command = UserCommand::CreateUser {
        user_id: id,
        tenant_id: tenant,
        login: config.admin_login.clone(),
        display_name: "Administrator".into(),
        roles: vec![BuiltinRole::Administrator.id()],
        must_change_password: generated,
    };
    state
        .store
        .execute::<User>(&id.to_string(), &meta, command, &[EventId::new()])
        .await?;
    tracing::info!(tenant = %tenant, login = %config.admin_login, "created the first administrator");
    if generated {
        writeln!(
            out,
            "Trainyard: first administrator created.\n  tenant: {}\n  login: {}\n  password: {password}\nThis password is shown once and must be changed at first login.",
            config.tenant, config.admin_login
        )?;
        out.flush()?;
    }
    Ok(())
}

async fn create_tenant(state: &AppState, name: &str) -> anyhow::Result<TenantId> {
    let id = TenantId::new();
    match crate::http::tenants::create(state, &metadata(id), id, name.to_owned()).await {
        Ok(()) => Ok(id),
        // Another replica won the race: use its tenant.
        Err(_) => unique::tenant_by_name(&state.store, name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("cannot create the bootstrap tenant `{name}`")),
    }
}

fn metadata(tenant: TenantId) -> Metadata {
    Metadata {
        tenant_id: tenant,
        actor: Actor::system(),
        correlation_id: CorrelationId::new(),
        causation_id: None,
        occurred_at: Utc::now(),
    }
}
