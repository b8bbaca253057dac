//! The read model of schema `template`, fed by `evt.template.>`: one projection (so one
//! checkpoint and one rebuild) dispatching each aggregate's events to its own writer; a batch
//! writes consecutive created and edited templates together (`template_run`).

mod catalog;
mod datasets;
mod projects;
mod template_run;
mod templates;

use trainyard_core::{Aggregate, StoredEvent};
use trainyard_platform::postgres::{Migration, Transaction};
use trainyard_platform::projection::{ApplyError, Projection};

use self::template_run::TemplateRun;

use crate::domain::base_model::BaseModel;
use crate::domain::dataset::Dataset;
use crate::domain::model_type::ModelType;
use crate::domain::project::Project;
use crate::domain::template::TrainingTemplate;

const MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "template_read_model",
    include_str!("../migrations/0001_template.sql"),
)];

#[derive(Debug, Clone)]
pub struct TemplateProjection {
    pub events_root: String,
}

impl Projection for TemplateProjection {
    fn name(&self) -> &str {
        "template"
    }

    fn schema(&self) -> &str {
        "template"
    }

    fn filter_subjects(&self) -> Vec<String> {
        vec![format!("{}.template.>", self.events_root)]
    }

    fn migrations(&self) -> &[Migration] {
        MIGRATIONS
    }

    async fn apply(&self, tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    /// Consecutive created and edited templates are written as one run; any other event first
    /// writes the run before it, then applies itself, so the tables change in event order.
    async fn apply_batch(
        &self,
        tx: &Transaction<'_>,
        events: &[StoredEvent],
    ) -> Result<(), ApplyError> {
        let mut run = TemplateRun::default();
        for event in events {
            let envelope = &event.envelope;
            let kind = envelope.aggregate_type.as_str();
            if kind == TrainingTemplate::aggregate_type() {
                let id = uuid(&envelope.aggregate_id)?;
                if let Some(other) = run.add(id, envelope.decode()?)? {
                    std::mem::take(&mut run).write(tx).await?;
                    templates::apply(tx, id, other, envelope.occurred_at).await?;
                }
            } else {
                if !run.is_empty() {
                    std::mem::take(&mut run).write(tx).await?;
                }
                apply_other(tx, event).await?;
            }
        }
        run.write(tx).await
    }
}

/// Every aggregate but the template, one event at a time.
async fn apply_other(tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
    let envelope = &event.envelope;
    let at = envelope.occurred_at;
    let id = uuid(&envelope.aggregate_id);
    let kind = envelope.aggregate_type.as_str();
    // Reservation events share the subject root; they have no rows here.
    if kind == Project::aggregate_type() {
        projects::apply(tx, id?, envelope.decode()?, at).await?;
    } else if kind == ModelType::aggregate_type() {
        catalog::model_type(tx, id?, envelope.decode()?, at).await?;
    } else if kind == BaseModel::aggregate_type() {
        catalog::base_model(tx, id?, envelope.decode()?, at).await?;
    } else if kind == Dataset::aggregate_type() {
        datasets::apply(tx, id?, envelope.decode()?, at).await?;
    }
    Ok(())
}

pub(crate) type At = chrono::DateTime<chrono::Utc>;

fn uuid(id: &str) -> Result<uuid::Uuid, ApplyError> {
    uuid::Uuid::parse_str(id).map_err(|e| ApplyError::Invalid(format!("aggregate id `{id}`: {e}")))
}

fn json(value: &impl serde::Serialize) -> Result<serde_json::Value, ApplyError> {
    Ok(serde_json::to_value(value)?)
}

/// The wire name of a unit-variant enum (`"rotations_exposure_noise"`).
fn wire(value: &impl serde::Serialize) -> Result<String, ApplyError> {
    match serde_json::to_value(value)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(ApplyError::Invalid(format!(
            "{other} is not a unit variant"
        ))),
    }
}
