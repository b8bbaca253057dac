//! Typed identifiers. Every id is a UUID v7 (time-ordered, so indexes stay append-friendly) wrapped
//! in its own type so that a tenant id can never be passed where an actor id is expected.
//!
//! `Default` is the nil id (what a state holds before its creation event), never a fresh one: a
//! new id is always asked for by name (`TenantId::new()`), at the edge. With the `utoipa` feature
//! every id is an OpenAPI schema of its own (a UUID string), so API types use ids as they are.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares a UUID-backed id type with parsing, display and serde as a plain UUID string.
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub ::uuid::Uuid);

        impl $name {
            /// A fresh time-ordered id. Call at the edge (HTTP handler, worker), never inside `handle`.
            pub fn new() -> Self {
                Self(::uuid::Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> ::uuid::Uuid {
                self.0
            }
        }

        /// The nil id, never a fresh one.
        impl Default for $name {
            fn default() -> Self {
                Self(::uuid::Uuid::nil())
            }
        }

        $crate::__id_schema!($name);

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                ::uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl From<::uuid::Uuid> for $name {
            fn from(u: ::uuid::Uuid) -> Self {
                Self(u)
            }
        }
    };
}

typed_id!(
    /// An isolation unit: every read and write is scoped to one tenant.
    TenantId
);
typed_id!(
    /// A user or service account that issues commands.
    ActorId
);
typed_id!(
    /// One stored event; also the `Nats-Msg-Id` so that a retried append is stored once.
    EventId
);

/// The OpenAPI schema of an id: a UUID string, named after the id type.
#[cfg(feature = "utoipa")]
#[doc(hidden)]
#[macro_export]
macro_rules! __id_schema {
    ($name:ident) => {
        impl $crate::__utoipa::PartialSchema for $name {
            fn schema(
            ) -> $crate::__utoipa::openapi::RefOr<$crate::__utoipa::openapi::schema::Schema> {
                $crate::ids::uuid_schema()
            }
        }

        impl $crate::__utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}

/// Without the `utoipa` feature ids have no OpenAPI schema.
#[cfg(not(feature = "utoipa"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __id_schema {
    ($name:ident) => {};
}

/// `{"type": "string", "format": "uuid"}`.
#[cfg(feature = "utoipa")]
pub fn uuid_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .into()
}

/// Groups every event caused, directly or not, by one external request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct CorrelationId(pub Uuid);

// No `Default`: it would have to be either random or a shared nil, and both hide a missing one.
#[allow(clippy::new_without_default)]
impl CorrelationId {
    /// A fresh correlation: one per external request or timer.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorrelationId({})", self.0)
    }
}

impl FromStr for CorrelationId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_round_trip_as_plain_strings() {
        let id = TenantId::new();
        assert_eq!(id.0.get_version_num(), 7);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.0));
        let back: TenantId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert_eq!(id.to_string().parse::<TenantId>().unwrap(), id);
    }

    #[test]
    fn the_default_id_is_nil_not_a_fresh_one() {
        assert_eq!(TenantId::default(), TenantId(Uuid::nil()));
        assert_eq!(TenantId::default(), TenantId::default());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = EventId::new();
        let b = EventId::new();
        assert!(a < b);
    }
}

typed_id!(
    /// A project in a tenant: holds datasets, templates, processes and models.
    ProjectId
);
typed_id!(
    /// An installation-wide model type (`classifier`, …), the task kind and inference routing key.
    ModelTypeId
);
typed_id!(
    /// A base model: an architecture of the engine's zoo, optionally with initial weights.
    BaseModelId
);
typed_id!(
    /// A dataset of a project; its uploads are immutable numbered versions.
    DatasetId
);
typed_id!(
    /// A training template; its edits are immutable numbered versions.
    TrainingTemplateId
);
typed_id!(
    /// A training process (owned by the scheduler; templates record which processes pin them).
    TrainingProcessId
);
typed_id!(
    /// A target machine: a host running one trainer-worker, configured by an administrator.
    TargetMachineId
);
typed_id!(
    /// A trained model in the registry.
    ModelId
);
