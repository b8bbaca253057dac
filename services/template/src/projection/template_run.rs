//! Created and edited templates, most of any log, applied a run at a time: one multi-row
//! statement per table (`UNNEST` arrays) instead of two statements per event. A run holds
//! consecutive create and edit events only; any other event ends it, so the tables see the same
//! changes in the same order as event by event: every created row is inserted if absent, then
//! each template edited in the run takes its last edit, and every version row is inserted if
//! absent.

use std::collections::HashMap;

use serde_json::Value;
use trainyard_platform::postgres::Transaction;
use trainyard_platform::projection::ApplyError;
use uuid::Uuid;

use super::{json, wire, At};
use crate::domain::template::{TemplateEvent, TemplateSpec};

/// What a spec contributes to a `templates` row.
#[derive(Debug)]
struct Current {
    name: String,
    version: i32,
    model_type_id: Uuid,
    base_model_id: Uuid,
    description: String,
    augmentation: String,
    parameters: Value,
    dataset_id: Option<Uuid>,
    dataset_version: Option<i32>,
    at: At,
}

impl Current {
    fn new(name: String, version: u32, spec: &TemplateSpec, at: At) -> Result<Self, ApplyError> {
        Ok(Self {
            name,
            version: i32::try_from(version).unwrap_or(i32::MAX),
            model_type_id: spec.model_type_id.0,
            base_model_id: spec.base_model_id.0,
            description: spec.description.clone(),
            augmentation: wire(&spec.augmentation)?,
            parameters: json(&spec.parameters)?,
            dataset_id: spec.dataset.map(|d| d.dataset_id.0),
            dataset_version: spec
                .dataset
                .map(|d| i32::try_from(d.version).unwrap_or(i32::MAX)),
            at,
        })
    }
}

#[derive(Debug, Default)]
pub(super) struct TemplateRun {
    /// (id, tenant, project, row) of each created template, in event order.
    created: Vec<(Uuid, Uuid, Uuid, Current)>,
    /// The last edit of each template edited in the run.
    edits: Vec<(Uuid, Current)>,
    edited: HashMap<Uuid, usize>,
    /// (template, version, name, spec, at) of every version.
    versions: Vec<(Uuid, i32, String, Value, At)>,
}

impl TemplateRun {
    pub(super) fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Takes a created or edited template into the run; hands any other event back.
    pub(super) fn add(
        &mut self,
        id: Uuid,
        event: TemplateEvent,
    ) -> Result<Option<TemplateEvent>, ApplyError> {
        use TemplateEvent as E;
        let (name, version, spec, at) = match event {
            E::TemplateCreated {
                tenant_id,
                project_id,
                name,
                spec,
                at,
                ..
            } => {
                let row = Current::new(name.clone(), 1, &spec, at)?;
                self.created.push((id, tenant_id.0, project_id.0, row));
                (name, 1, spec, at)
            }
            E::TemplateEdited {
                version,
                name,
                spec,
                at,
            } => {
                let row = Current::new(name.clone(), version, &spec, at)?;
                match self.edited.get(&id) {
                    Some(&i) => self.edits[i].1 = row,
                    None => {
                        self.edited.insert(id, self.edits.len());
                        self.edits.push((id, row));
                    }
                }
                (name, version, spec, at)
            }
            other => return Ok(Some(other)),
        };
        let v = i32::try_from(version).unwrap_or(i32::MAX);
        self.versions.push((id, v, name, json(&spec)?, at));
        Ok(None)
    }

    /// Writes the run: created rows, then last edits, then versions.
    pub(super) async fn write(self, tx: &Transaction<'_>) -> Result<(), ApplyError> {
        if !self.created.is_empty() {
            let rows = &self.created;
            let col = |f: fn(&(Uuid, Uuid, Uuid, Current)) -> Uuid| -> Vec<Uuid> {
                rows.iter().map(f).collect()
            };
            let (ids, tenants, projects) = (col(|r| r.0), col(|r| r.1), col(|r| r.2));
            let c: Vec<&Current> = rows.iter().map(|r| &r.3).collect();
            tx.execute(
                "INSERT INTO templates (id, tenant_id, project_id, name, version, model_type_id,
                     base_model_id, description, augmentation, parameters, dataset_id,
                     dataset_version, created_at, updated_at)
                 SELECT id, tenant_id, project_id, name, version, model_type_id, base_model_id,
                     description, augmentation, parameters, dataset_id, dataset_version, at, at
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[],
                     $6::uuid[], $7::uuid[], $8::text[], $9::text[], $10::jsonb[], $11::uuid[],
                     $12::int[], $13::timestamptz[])
                     AS r(id, tenant_id, project_id, name, version, model_type_id, base_model_id,
                          description, augmentation, parameters, dataset_id, dataset_version, at)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &ids,
                    &tenants,
                    &projects,
                    &c.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.version).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.model_type_id).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.base_model_id).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.description.as_str()).collect::<Vec<_>>(),
                    &c.iter()
                        .map(|r| r.augmentation.as_str())
                        .collect::<Vec<_>>(),
                    &c.iter().map(|r| &r.parameters).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.dataset_id).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.dataset_version).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.at).collect::<Vec<_>>(),
                ],
            )
            .await?;
        }
        if !self.edits.is_empty() {
            let ids: Vec<Uuid> = self.edits.iter().map(|e| e.0).collect();
            let c: Vec<&Current> = self.edits.iter().map(|e| &e.1).collect();
            tx.execute(
                "UPDATE templates t SET name = r.name, version = r.version,
                     model_type_id = r.model_type_id, base_model_id = r.base_model_id,
                     description = r.description, augmentation = r.augmentation,
                     parameters = r.parameters, dataset_id = r.dataset_id,
                     dataset_version = r.dataset_version, updated_at = r.at
                 FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::uuid[], $5::uuid[],
                     $6::text[], $7::text[], $8::jsonb[], $9::uuid[], $10::int[],
                     $11::timestamptz[])
                     AS r(id, name, version, model_type_id, base_model_id, description,
                          augmentation, parameters, dataset_id, dataset_version, at)
                 WHERE t.id = r.id",
                &[
                    &ids,
                    &c.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.version).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.model_type_id).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.base_model_id).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.description.as_str()).collect::<Vec<_>>(),
                    &c.iter()
                        .map(|r| r.augmentation.as_str())
                        .collect::<Vec<_>>(),
                    &c.iter().map(|r| &r.parameters).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.dataset_id).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.dataset_version).collect::<Vec<_>>(),
                    &c.iter().map(|r| r.at).collect::<Vec<_>>(),
                ],
            )
            .await?;
        }
        if !self.versions.is_empty() {
            let v = &self.versions;
            tx.execute(
                "INSERT INTO template_versions (template_id, version, name, spec, created_at)
                 SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::jsonb[],
                     $5::timestamptz[])
                 ON CONFLICT DO NOTHING",
                &[
                    &v.iter().map(|r| r.0).collect::<Vec<_>>(),
                    &v.iter().map(|r| r.1).collect::<Vec<_>>(),
                    &v.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
                    &v.iter().map(|r| &r.3).collect::<Vec<_>>(),
                    &v.iter().map(|r| r.4).collect::<Vec<_>>(),
                ],
            )
            .await?;
        }
        Ok(())
    }
}
