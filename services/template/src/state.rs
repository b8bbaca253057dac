//! What every handler shares. Cheap to clone.

use std::sync::Arc;

use deadpool_postgres::Pool;
use trainyard_platform::event_store::EventStore;
use trainyard_platform::object_store::Blobs;

use crate::config::TemplateConfig;
use crate::uploads::UploadSessions;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: EventStore,
    pub pool: Pool,
    /// The datasets bucket.
    pub datasets: Blobs,
    /// The checkpoints bucket (uploaded initial weights of base models).
    pub checkpoints: Blobs,
    pub config: Arc<TemplateConfig>,
    /// Resumable dataset uploads in progress.
    pub uploads: Arc<UploadSessions>,
}
