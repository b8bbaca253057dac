//! The permission vocabulary: which entities exist, which rights apply to them, and the set of
//! rights an actor holds. Pure data; `identity` grants rights through roles and every service
//! checks them through `trainyard-auth`. Rights travel inside access tokens, so the wire form is
//! compact (`{"training_templates": ["view", "create"]}`) and the in-memory form is a bitset.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Something permissions are granted on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Projects,
    Datasets,
    ModelTypes,
    BaseModels,
    TrainingTemplates,
    TrainingProcesses,
    TargetMachines,
    Models,
    Inference,
    Users,
    Roles,
}

impl Entity {
    pub const ALL: [Entity; 11] = [
        Entity::Projects,
        Entity::Datasets,
        Entity::ModelTypes,
        Entity::BaseModels,
        Entity::TrainingTemplates,
        Entity::TrainingProcesses,
        Entity::TargetMachines,
        Entity::Models,
        Entity::Inference,
        Entity::Users,
        Entity::Roles,
    ];

    /// The wire name, e.g. `training_templates`.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Projects => "projects",
            Entity::Datasets => "datasets",
            Entity::ModelTypes => "model_types",
            Entity::BaseModels => "base_models",
            Entity::TrainingTemplates => "training_templates",
            Entity::TrainingProcesses => "training_processes",
            Entity::TargetMachines => "target_machines",
            Entity::Models => "models",
            Entity::Inference => "inference",
            Entity::Users => "users",
            Entity::Roles => "roles",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What may be done to an entity. `Manage` covers the operational verbs where they apply
/// (start/stop a process, enable/disable a machine, block a user, assign roles).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    View,
    Create,
    Edit,
    Delete,
    Manage,
}

impl Right {
    pub const ALL: [Right; 5] = [
        Right::View,
        Right::Create,
        Right::Edit,
        Right::Delete,
        Right::Manage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Right::View => "view",
            Right::Create => "create",
            Right::Edit => "edit",
            Right::Delete => "delete",
            Right::Manage => "manage",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entity × right pair.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct Permission {
    pub entity: Entity,
    pub right: Right,
}

impl Permission {
    pub const fn new(entity: Entity, right: Right) -> Self {
        Self { entity, right }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.entity, self.right)
    }
}

/// A set of permissions: one bit per right per entity. Roles add up with [`Rights::union`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(from = "RightsWire", into = "RightsWire")]
#[schemars(with = "RightsWire")]
pub struct Rights([u8; Entity::ALL.len()]);

/// Wire form: entity → the rights held on it; entities without rights are omitted.
type RightsWire = BTreeMap<Entity, Vec<Right>>;

impl Rights {
    pub const fn none() -> Self {
        Self([0; Entity::ALL.len()])
    }

    /// Every right on every entity (the built-in administrator roles).
    pub const fn all() -> Self {
        Self([0b1_1111; Entity::ALL.len()])
    }

    pub fn allows(&self, entity: Entity, right: Right) -> bool {
        self.0[entity.index()] & right.bit() != 0
    }

    pub fn grant(&mut self, entity: Entity, right: Right) {
        self.0[entity.index()] |= right.bit();
    }

    pub fn with(mut self, entity: Entity, right: Right) -> Self {
        self.grant(entity, right);
        self
    }

    pub fn union(mut self, other: Rights) -> Self {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine |= theirs;
        }
        self
    }

    /// Whether every right of `other` is also in `self` (nobody may grant what they lack).
    pub fn contains(&self, other: &Rights) -> bool {
        self.0
            .iter()
            .zip(other.0)
            .all(|(mine, theirs)| theirs & !mine == 0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|bits| *bits == 0)
    }

    pub fn permissions(&self) -> Vec<Permission> {
        Entity::ALL
            .iter()
            .flat_map(|e| Right::ALL.iter().map(move |r| Permission::new(*e, *r)))
            .filter(|p| self.allows(p.entity, p.right))
            .collect()
    }

    pub fn from_permissions<'a>(permissions: impl IntoIterator<Item = &'a Permission>) -> Self {
        permissions
            .into_iter()
            .fold(Self::none(), |rights, p| rights.with(p.entity, p.right))
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.permissions().iter().map(ToString::to_string))
            .finish()
    }
}

impl From<RightsWire> for Rights {
    fn from(wire: RightsWire) -> Self {
        let mut rights = Rights::none();
        for (entity, list) in wire {
            for right in list {
                rights.grant(entity, right);
            }
        }
        rights
    }
}

impl From<Rights> for RightsWire {
    fn from(rights: Rights) -> Self {
        let mut wire = RightsWire::new();
        for p in rights.permissions() {
            wire.entry(p.entity).or_default().push(p.right);
        }
        wire
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_adds_rights_and_contains_checks_subsets() {
        let a = Rights::none().with(Entity::TrainingTemplates, Right::Create);
        let b = Rights::none().with(Entity::TrainingTemplates, Right::View);
        let both = a.union(b);
        assert!(both.allows(Entity::TrainingTemplates, Right::Create));
        assert!(both.allows(Entity::TrainingTemplates, Right::View));
        assert!(!both.allows(Entity::TrainingTemplates, Right::Delete));
        assert!(both.contains(&a) && !a.contains(&both));
        assert!(Rights::all().contains(&both));
    }

    #[test]
    fn wire_form_round_trips_and_omits_empty_entities() {
        let rights = Rights::none()
            .with(Entity::TrainingProcesses, Right::Manage)
            .with(Entity::Users, Right::View);
        let json = serde_json::to_value(rights).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"training_processes": ["manage"], "users": ["view"]})
        );
        assert_eq!(serde_json::from_value::<Rights>(json).unwrap(), rights);
        assert_eq!(Rights::all().permissions().len(), 55);
    }
}
