//! Rows of `templates` (the current version), `template_versions` and `template_pins`; created
//! and edited templates are written through [`TemplateRun`], a run of one here.

use trainyard_platform::postgres::Transaction;
use trainyard_platform::projection::ApplyError;
use uuid::Uuid;

use super::template_run::TemplateRun;
use super::At;
use crate::domain::template::TemplateEvent;

pub(super) async fn apply(
    tx: &Transaction<'_>,
    id: Uuid,
    event: TemplateEvent,
    _at: At,
) -> Result<(), ApplyError> {
    use TemplateEvent as E;
    let mut run = TemplateRun::default();
    let Some(event) = run.add(id, event)? else {
        return run.write(tx).await;
    };
    match event {
        E::TemplateCreated { .. } | E::TemplateEdited { .. } => {}
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

async fn pins(tx: &Transaction<'_>, id: Uuid) -> Result<(), ApplyError> {
    tx.execute(
        "UPDATE templates SET processes = (SELECT count(*) FROM template_pins WHERE template_id = $1) WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}
