//! Identity's read models: the lists behind `/users`, `/roles`, `/service-accounts`, `/tenants`
//! and the open sessions ([`identity::IdentityProjection`]), and the audit journal of every
//! service's events ([`audit::AuditProjection`]).

pub mod audit;
pub mod identity;
