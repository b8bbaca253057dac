//! Rows of `templates` (the current version), `template_versions` and `template_pins`.

use trainyard_platform::postgres::Transaction;
use trainyard_platform::projection::ApplyError;
use uuid::Uuid;

use super::{json, wire, At};
use crate::domain::template::{TemplateEvent, TemplateSpec};

pub(super) async fn apply(
    tx: &Transaction<'_>,
    id: Uuid,
    event: TemplateEvent,
    _at: At,
) -> Result<(), ApplyError> {
    use TemplateEvent as E;
    match event {
        E::TemplateCreated {
            tenant_id,
            project_id,
            name,
            spec,
            at: created_at,
            ..
        } => {
            tx.execute(
                "INSERT INTO templates (id, tenant_id, project_id, name, version, model_type_id, base_model_id,
                     description, augmentation, parameters, dataset_id, dataset_version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10, $11, $12, $12) ON CONFLICT (id) DO NOTHING",
                &[
                    &id, &tenant_id.0, &project_id.0, &name, &spec.model_type_id.0, &spec.base_model_id.0,
                    &spec.description, &wire(&spec.augmentation)?, &json(&spec.parameters)?,
                    &spec.dataset.map(|d| d.dataset_id.0), &dataset_version(&spec), &created_at,
                ],
            )
            .await?;
            version_row(tx, id, 1, &name, &spec, created_at).await?;
        }
        E::TemplateEdited {
            version,
            name,
            spec,
            at: edited_at,
        } => {
            let v = i32::try_from(version).unwrap_or(i32::MAX);
            tx.execute(
                "UPDATE templates SET name = $2, version = $3, model_type_id = $4, base_model_id = $5,
                     description = $6, augmentation = $7, parameters = $8, dataset_id = $9,
                     dataset_version = $10, updated_at = $11 WHERE id = $1",
                &[
                    &id, &name, &v, &spec.model_type_id.0, &spec.base_model_id.0, &spec.description,
                    &wire(&spec.augmentation)?, &json(&spec.parameters)?,
                    &spec.dataset.map(|d| d.dataset_id.0), &dataset_version(&spec), &edited_at,
                ],
            )
            .await?;
            version_row(tx, id, version, &name, &spec, edited_at).await?;
        }
        E::TemplateDeleted => {
            for table in ["template_pins", "template_versions"] {
                let sql = format!("DELETE FROM {table} WHERE template_id = $1");
                tx.execute(&sql, &[&id]).await?;
            }
            tx.execute("DELETE FROM templates WHERE id = $1", &[&id])
                .await?;
        }
        E::TemplatePinned {
            process_id,
            version,
        } => {
            let v = i32::try_from(version).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO template_pins (template_id, process_id, version) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&id, &process_id.0, &v],
            )
            .await?;
            pins(tx, id).await?;
        }
        E::TemplateUnpinned { process_id } => {
            tx.execute(
                "DELETE FROM template_pins WHERE template_id = $1 AND process_id = $2",
                &[&id, &process_id.0],
            )
            .await?;
            pins(tx, id).await?;
        }
    }
    Ok(())
}

fn dataset_version(spec: &TemplateSpec) -> Option<i32> {
    spec.dataset
        .map(|d| i32::try_from(d.version).unwrap_or(i32::MAX))
}

async fn version_row(
    tx: &Transaction<'_>,
    id: Uuid,
    version: u32,
    name: &str,
    spec: &TemplateSpec,
    at: At,
) -> Result<(), ApplyError> {
    let v = i32::try_from(version).unwrap_or(i32::MAX);
    tx.execute(
        "INSERT INTO template_versions (template_id, version, name, spec, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        &[&id, &v, &name, &json(spec)?, &at],
    )
    .await?;
    Ok(())
}

async fn pins(tx: &Transaction<'_>, id: Uuid) -> Result<(), ApplyError> {
    tx.execute(
        "UPDATE templates SET processes = (SELECT count(*) FROM template_pins WHERE template_id = $1) WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}
