//! Rows of `datasets` and `dataset_versions`.

use trainyard_platform::postgres::Transaction;
use trainyard_platform::projection::ApplyError;
use uuid::Uuid;

use super::catalog::count;
use super::{json, At};
use crate::domain::dataset::{DatasetEvent, VersionStatus};

pub(super) async fn apply(
    tx: &Transaction<'_>,
    id: Uuid,
    event: DatasetEvent,
    at: At,
) -> Result<(), ApplyError> {
    use DatasetEvent as E;
    match event {
        E::DatasetCreated {
            tenant_id,
            project_id,
            name,
            description,
            ..
        } => {
            tx.execute(
                "INSERT INTO datasets (id, tenant_id, project_id, name, description, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
                &[&id, &tenant_id.0, &project_id.0, &name, &description, &at],
            )
            .await?;
        }
        E::DatasetUpdated { name, description } => {
            tx.execute(
                "UPDATE datasets SET name = $2, description = $3, updated_at = $4 WHERE id = $1",
                &[&id, &name, &description, &at],
            )
            .await?;
        }
        E::DatasetVersionUploaded {
            version,
            upload,
            at: uploaded_at,
        } => {
            let version = i32::try_from(version).unwrap_or(i32::MAX);
            let size = i64::try_from(upload.size).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT INTO dataset_versions (dataset_id, version, object, sha256, size, file_name, status, uploaded_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'uploaded', $7, $8) ON CONFLICT DO NOTHING",
                &[&id, &version, &upload.object, &upload.sha256, &size, &upload.file_name, &uploaded_at, &at],
            )
            .await?;
            tx.execute(
                "UPDATE datasets SET latest_version = $2, latest_status = 'uploaded', updated_at = $3 WHERE id = $1",
                &[&id, &version, &at],
            )
            .await?;
        }
        E::DatasetValidationStarted { version } => {
            status(tx, id, version, VersionStatus::Validating, None, None, at).await?;
        }
        E::DatasetVersionReady {
            version,
            statistics,
        } => {
            let stats = json(&statistics)?;
            status(tx, id, version, VersionStatus::Ready, None, Some(stats), at).await?;
        }
        E::DatasetVersionInvalid { version, reason } => {
            let reason = json(&reason)?;
            status(
                tx,
                id,
                version,
                VersionStatus::Invalid,
                Some(reason),
                None,
                at,
            )
            .await?;
        }
        E::DatasetDeleted => {
            tx.execute("DELETE FROM dataset_versions WHERE dataset_id = $1", &[&id])
                .await?;
            tx.execute("DELETE FROM datasets WHERE id = $1", &[&id])
                .await?;
        }
        E::DatasetReferenced { .. } => count(tx, "datasets", id, 1).await?,
        E::DatasetUnreferenced { .. } => count(tx, "datasets", id, -1).await?,
    }
    Ok(())
}

async fn status(
    tx: &Transaction<'_>,
    id: Uuid,
    version: u32,
    status: VersionStatus,
    reason: Option<serde_json::Value>,
    statistics: Option<serde_json::Value>,
    at: super::At,
) -> Result<(), ApplyError> {
    let version = i32::try_from(version).unwrap_or(i32::MAX);
    tx.execute(
        "UPDATE dataset_versions SET status = $3, reason = $4, statistics = $5, updated_at = $6
         WHERE dataset_id = $1 AND version = $2",
        &[&id, &version, &status.as_str(), &reason, &statistics, &at],
    )
    .await?;
    tx.execute(
        "UPDATE datasets SET latest_status = $3, updated_at = $4 WHERE id = $1 AND latest_version = $2",
        &[&id, &version, &status.as_str(), &at],
    )
    .await?;
    Ok(())
}
