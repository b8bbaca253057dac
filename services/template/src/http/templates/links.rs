//! A template's links to its model type, base model and dataset. Each linked aggregate records
//! the template as a reference before the template is stored, and forgets it only after the
//! template is deleted, so a referenced model type, base model or dataset can never be deleted
//! from under a live template, whatever the interleaving of requests.

use std::collections::BTreeSet;

use trainyard_core::{
    BaseModelId, DatasetId, EventId, Metadata, ModelTypeId, Rejection, TrainingTemplateId,
};
use trainyard_platform::event_store::ExecuteError;
use trainyard_platform::http::ApiError;

use crate::domain::base_model::{BaseModel, BaseModelCommand};
use crate::domain::dataset::{Dataset, DatasetCommand};
use crate::domain::model_type::{ModelType, ModelTypeCommand};
use crate::domain::template::{TemplateSpec, TemplateState};
use crate::state::AppState;

/// One linked aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Link {
    ModelType(ModelTypeId),
    BaseModel(BaseModelId),
    /// A dataset, with the version the spec pins (checked to be ready when linking).
    Dataset(DatasetId, u32),
}

impl Link {
    /// Links of a spec.
    pub fn of(spec: &TemplateSpec) -> Vec<Link> {
        let mut links = vec![
            Link::ModelType(spec.model_type_id),
            Link::BaseModel(spec.base_model_id),
        ];
        if let Some(d) = spec.dataset {
            links.push(Link::Dataset(d.dataset_id, d.version));
        }
        links
    }

    /// The aggregate behind the link, whatever the dataset version.
    fn target(self) -> Link {
        match self {
            Link::Dataset(id, _) => Link::Dataset(id, 0),
            other => other,
        }
    }
}

/// Aggregates any version of `template` links to (they stay referenced while it lives, since a
/// process may pin an old version).
pub fn all_links(template: &TemplateState) -> BTreeSet<Link> {
    template
        .versions
        .iter()
        .flat_map(|v| Link::of(&v.spec))
        .map(Link::target)
        .collect()
}

/// Records `template` on every link; on the first refusal, undoes the ones it added and
/// answers with a 422 naming the field of the refused link.
pub async fn link_all(
    state: &AppState,
    meta: &Metadata,
    template: TrainingTemplateId,
    links: &[Link],
    already: &BTreeSet<Link>,
) -> Result<(), ApiError> {
    let mut added = Vec::new();
    for link in links {
        let result = if already.contains(&link.target()) {
            match link {
                // The dataset is linked already, but a new version must still be ready.
                Link::Dataset(..) => reference(state, meta, template, *link).await,
                _ => Ok(()),
            }
        } else {
            reference(state, meta, template, *link).await
        };
        if let Err(error) = result {
            unlink_all(state, meta, template, &added).await?;
            return Err(refused(*link, error));
        }
        if !already.contains(&link.target()) {
            added.push(*link);
        }
    }
    Ok(())
}

/// Forgets `template` on every link (idempotent).
pub async fn unlink_all(
    state: &AppState,
    meta: &Metadata,
    template: TrainingTemplateId,
    links: &[Link],
) -> Result<(), ApiError> {
    for link in links {
        unreference(state, meta, template, *link).await?;
    }
    Ok(())
}

async fn reference(
    state: &AppState,
    meta: &Metadata,
    template_id: TrainingTemplateId,
    link: Link,
) -> Result<(), ExecuteError> {
    let ids = [EventId::new()];
    match link {
        Link::ModelType(id) => {
            let command = ModelTypeCommand::ReferenceModelType { template_id };
            state
                .store
                .execute::<ModelType>(&id.to_string(), meta, command, &ids)
                .await?;
        }
        Link::BaseModel(id) => {
            let command = BaseModelCommand::ReferenceBaseModel { template_id };
            state
                .store
                .execute::<BaseModel>(&id.to_string(), meta, command, &ids)
                .await?;
        }
        Link::Dataset(id, version) => {
            let command = DatasetCommand::ReferenceDataset {
                template_id,
                version,
            };
            let dataset = state.store.load::<Dataset>(&id.to_string()).await?;
            // Datasets are per tenant: another tenant's id is reported as unknown.
            if dataset.state.tenant_id != meta.tenant_id {
                return Err(ExecuteError::Rejected(crate::domain::gone("dataset")));
            }
            state
                .store
                .execute::<Dataset>(&id.to_string(), meta, command, &ids)
                .await?;
        }
    }
    Ok(())
}

async fn unreference(
    state: &AppState,
    meta: &Metadata,
    template_id: TrainingTemplateId,
    link: Link,
) -> Result<(), ApiError> {
    let ids = [EventId::new()];
    match link.target() {
        Link::ModelType(id) => {
            let command = ModelTypeCommand::UnreferenceModelType { template_id };
            state
                .store
                .execute::<ModelType>(&id.to_string(), meta, command, &ids)
                .await?;
        }
        Link::BaseModel(id) => {
            let command = BaseModelCommand::UnreferenceBaseModel { template_id };
            state
                .store
                .execute::<BaseModel>(&id.to_string(), meta, command, &ids)
                .await?;
        }
        Link::Dataset(id, _) => {
            let command = DatasetCommand::UnreferenceDataset { template_id };
            state
                .store
                .execute::<Dataset>(&id.to_string(), meta, command, &ids)
                .await?;
        }
    }
    Ok(())
}

/// A refused link is the request's fault: name the field that pointed at it.
fn refused(link: Link, error: ExecuteError) -> ApiError {
    let (code, field, what) = match link {
        Link::ModelType(_) => ("unknown_model_type", "model_type_id", "model type"),
        Link::BaseModel(_) => ("unknown_base_model", "base_model_id", "base model"),
        Link::Dataset(..) => ("unknown_dataset", "dataset_id", "dataset"),
    };
    match error {
        ExecuteError::Rejected(r) if r.code == "not_found" => {
            Rejection::new(code, format!("no such {what}"))
                .field(field)
                .into()
        }
        other => other.into(),
    }
}
