//! Rows of `model_types` and `base_models`, with how many templates use each.

use trainyard_platform::postgres::Transaction;
use trainyard_platform::projection::ApplyError;
use uuid::Uuid;

use super::{json, wire, At};
use crate::domain::base_model::BaseModelEvent;
use crate::domain::model_type::ModelTypeEvent;

pub(super) async fn model_type(
    tx: &Transaction<'_>,
    id: Uuid,
    event: ModelTypeEvent,
    at: At,
) -> Result<(), ApplyError> {
    use ModelTypeEvent as E;
    match event {
        E::ModelTypeCreated {
            name,
            description,
            goal,
            configuration,
            ..
        } => {
            tx.execute(
                "INSERT INTO model_types (id, name, description, goal, configuration, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
                &[&id, &name, &description, &wire(&goal)?, &configuration, &at],
            )
            .await?;
        }
        E::ModelTypeUpdated {
            description,
            goal,
            configuration,
        } => {
            tx.execute(
                "UPDATE model_types SET description = $2, goal = $3, configuration = $4, updated_at = $5 WHERE id = $1",
                &[&id, &description, &wire(&goal)?, &configuration, &at],
            )
            .await?;
        }
        E::ModelTypeDeleted => {
            tx.execute("DELETE FROM model_types WHERE id = $1", &[&id])
                .await?;
        }
        E::ModelTypeReferenced { .. } => count(tx, "model_types", id, 1).await?,
        E::ModelTypeUnreferenced { .. } => count(tx, "model_types", id, -1).await?,
    }
    Ok(())
}

pub(super) async fn base_model(
    tx: &Transaction<'_>,
    id: Uuid,
    event: BaseModelEvent,
    at: At,
) -> Result<(), ApplyError> {
    use BaseModelEvent as E;
    match event {
        E::BaseModelCreated {
            name,
            architecture,
            description,
            weights,
            ..
        } => {
            let weights = weights.as_ref().map(json).transpose()?;
            tx.execute(
                "INSERT INTO base_models (id, name, architecture, description, weights, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
                &[&id, &name, &wire(&architecture)?, &description, &weights, &at],
            )
            .await?;
        }
        E::BaseModelUpdated { description } => {
            tx.execute(
                "UPDATE base_models SET description = $2, updated_at = $3 WHERE id = $1",
                &[&id, &description, &at],
            )
            .await?;
        }
        E::InitialWeightsSet { weights } => {
            let weights = weights.as_ref().map(json).transpose()?;
            tx.execute(
                "UPDATE base_models SET weights = $2, updated_at = $3 WHERE id = $1",
                &[&id, &weights, &at],
            )
            .await?;
        }
        E::BaseModelDeleted => {
            tx.execute("DELETE FROM base_models WHERE id = $1", &[&id])
                .await?;
        }
        E::BaseModelReferenced { .. } => count(tx, "base_models", id, 1).await?,
        E::BaseModelUnreferenced { .. } => count(tx, "base_models", id, -1).await?,
    }
    Ok(())
}

/// Adds `delta` to the `templates` count of a row of `table` (a fixed name, never input).
pub(super) async fn count(
    tx: &Transaction<'_>,
    table: &'static str,
    id: Uuid,
    delta: i32,
) -> Result<(), ApplyError> {
    let sql = format!("UPDATE {table} SET templates = templates + $2 WHERE id = $1");
    tx.execute(&sql, &[&id, &delta]).await?;
    Ok(())
}
