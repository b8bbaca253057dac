//! Rows of `projects`.

use trainyard_platform::postgres::Transaction;
use trainyard_platform::projection::ApplyError;
use uuid::Uuid;

use super::At;
use crate::domain::project::ProjectEvent;

pub(super) async fn apply(
    tx: &Transaction<'_>,
    id: Uuid,
    event: ProjectEvent,
    at: At,
) -> Result<(), ApplyError> {
    match event {
        ProjectEvent::ProjectCreated {
            tenant_id,
            name,
            description,
            ..
        } => {
            tx.execute(
                "INSERT INTO projects (id, tenant_id, name, description, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING",
                &[&id, &tenant_id.0, &name, &description, &at],
            )
            .await?;
        }
        ProjectEvent::ProjectUpdated { name, description } => {
            tx.execute(
                "UPDATE projects SET name = $2, description = $3, updated_at = $4 WHERE id = $1",
                &[&id, &name, &description, &at],
            )
            .await?;
        }
        ProjectEvent::ProjectDeleted => {
            tx.execute("DELETE FROM projects WHERE id = $1", &[&id])
                .await?;
        }
    }
    Ok(())
}
