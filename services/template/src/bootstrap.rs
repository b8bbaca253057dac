//! What a fresh installation has: the `classifier` model type and the `Базовая модель` base
//! model. Both have fixed ids, so every replica seeds the same aggregates and a restart (or two
//! replicas starting at once) changes nothing.

use chrono::Utc;
use trainyard_core::training::Architecture;
use trainyard_core::{
    Actor, ActorId, ActorKind, BaseModelId, CorrelationId, EventId, Metadata, ModelTypeId,
};
use trainyard_platform::event_store::{EventStore, ExecuteError, ReservationError, ReservationKey};
use uuid::Uuid;

use crate::domain::base_model::{BaseModel, BaseModelCommand};
use crate::domain::model_type::{Goal, ModelType, ModelTypeCommand};
use crate::domain::INSTALLATION;
use crate::unique;

pub const CLASSIFIER: ModelTypeId = ModelTypeId(Uuid::from_u128(1));
pub const BASE_MODEL: BaseModelId = BaseModelId(Uuid::from_u128(1));
pub const CLASSIFIER_NAME: &str = "classifier";
pub const BASE_MODEL_NAME: &str = "Базовая модель";

/// Seeds the installation's defaults unless they exist.
pub async fn run(store: &EventStore) -> anyhow::Result<()> {
    let meta = system_metadata();
    let classifier = CLASSIFIER.to_string();
    let key = unique::model_type_name(CLASSIFIER_NAME);
    if !name_free_for(store, &meta, &key, &classifier).await? {
        return seed_base_model(store, &meta).await;
    }
    let created = store
        .execute::<ModelType>(
            &classifier,
            &meta,
            ModelTypeCommand::CreateModelType {
                model_type_id: CLASSIFIER,
                name: CLASSIFIER_NAME.into(),
                description: "Image classification: one label per image.".into(),
                goal: Goal::Classification,
                configuration: serde_json::json!({}),
            },
            &[EventId::new()],
        )
        .await;
    tolerate_existing(created)?;
    seed_base_model(store, &meta).await
}

async fn seed_base_model(store: &EventStore, meta: &Metadata) -> anyhow::Result<()> {
    let base = BASE_MODEL.to_string();
    let key = unique::base_model_name(BASE_MODEL_NAME);
    if !name_free_for(store, meta, &key, &base).await? {
        return Ok(());
    }
    let created = store
        .execute::<BaseModel>(
            &base,
            meta,
            BaseModelCommand::CreateBaseModel {
                base_model_id: BASE_MODEL,
                name: BASE_MODEL_NAME.into(),
                architecture: Architecture::Base,
                description: "A compact CNN for document pages, trained from scratch.".into(),
                weights: None,
            },
            &[EventId::new()],
        )
        .await;
    tolerate_existing(created)
}

/// Reserves the default's name; `false` when an administrator gave the name to something else
/// (then the default is not seeded again).
async fn name_free_for(
    store: &EventStore,
    meta: &Metadata,
    key: &ReservationKey,
    owner: &str,
) -> anyhow::Result<bool> {
    match store.reserve(meta, EventId::new(), key, owner).await {
        Ok(_) => Ok(true),
        Err(ReservationError::Taken { .. }) => Ok(false),
        Err(other) => Err(other.into()),
    }
}

fn tolerate_existing<T>(result: Result<T, ExecuteError>) -> anyhow::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(ExecuteError::Rejected(r)) if r.code.ends_with("_exists") => Ok(()),
        Err(other) => Err(other.into()),
    }
}

fn system_metadata() -> Metadata {
    Metadata {
        tenant_id: INSTALLATION,
        actor: Actor {
            id: ActorId(Uuid::nil()),
            kind: ActorKind::System,
        },
        correlation_id: CorrelationId::new(),
        causation_id: None,
        occurred_at: Utc::now(),
    }
}
