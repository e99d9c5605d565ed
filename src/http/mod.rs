//! The HTTP layer: the hand-written side of the generated API.
//!
//! `crate::api::server` (generated from the spec) defines one handler trait per tag
//! (`ProductsHandlers`, …); [`Server`] implements each in the module of that tag. A handler reads
//! like a sentence: unwrap the inputs, call the application layer, map the domain's types to the
//! spec's. The generated glue has already applied the operation's policies ([`policy`]).

mod accounts;
mod api_keys;
pub(crate) mod auth;
pub(crate) mod catalog;
pub mod conditional;
mod customers;
mod docs;
pub mod extract;
pub mod fields;
pub mod idempotency;
mod ops;
mod orders;
pub(crate) mod page;
mod photos;
pub mod policy;
pub mod reply;

use std::num::NonZeroU64;
use std::sync::Arc;

use crate::api::types;
use crate::app::{Actor, App};
use crate::domain::{Id, Role};
use crate::error::{ApiError, Error};

/// What every request can reach (dropshot's server context).
pub struct ServerState {
    pub app: Arc<App>,
    pub limiter: Arc<crate::ratelimit::Limiter>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Idempotency keys: their store and lifetime.
    pub idempotency: Arc<idempotency::Keys>,
    pub log: slog::Logger,
}

/// A request admitted to an operation: what a handler gets besides its parameters.
pub struct Cx {
    pub app: Arc<App>,
    /// Who is calling (authenticated, and admitted by the operation's policy).
    pub actor: Actor,
    /// The operation, with the policies the spec declares for it.
    pub op: &'static policy::OperationMeta,
    /// Where a failure (401) is counted, for operations with `x-failure-limit`.
    pub failures: Option<policy::Failures>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub idempotency: Arc<idempotency::Keys>,
}

impl Cx {
    /// The request's path (what its links are built on).
    pub fn path(&self) -> String {
        crate::edge::scope::with(|scope| scope.path().to_string()).unwrap_or_default()
    }
}

/// The Storefront API: implements every tag's handler trait, one module per tag.
pub enum Server {}

/// A path or body id as the database stores it (the spec bounds ids to 2^53 − 1).
fn db_id(id: impl Into<NonZeroU64>) -> Result<Id, ApiError> {
    i64::try_from(id.into().get()).map_err(|_| Error::NotFound("resource").into())
}

/// An API id from a stored one (ids start at 1).
fn api_id(id: Id) -> Result<types::Id, Error> {
    u64::try_from(id)
        .ok()
        .and_then(NonZeroU64::new)
        .map(types::Id)
        .ok_or_else(|| Error::internal(format!("stored id {id} is not positive")))
}

/// A stored string as one of the spec's constrained string types.
fn api_string<T: TryFrom<String>>(value: String, what: &str) -> Result<T, Error> {
    T::try_from(value).map_err(|_| Error::internal(format!("a stored {what} breaks the spec's constraints")))
}

/// A stored timestamp as the spec's.
fn api_time(micros: i64) -> crate::timestamp::Timestamp {
    crate::timestamp::Timestamp(crate::domain::timestamp(micros))
}

/// The spec's role of a domain role.
pub fn wire_role(role: Role) -> types::Role {
    match role {
        Role::Admin => types::Role::Admin,
        Role::Manager => types::Role::Manager,
        Role::Customer => types::Role::Customer,
    }
}

/// The domain's role of the spec's.
fn domain_role(role: types::Role) -> Role {
    match role {
        types::Role::Admin => Role::Admin,
        types::Role::Manager => Role::Manager,
        types::Role::Customer => Role::Customer,
    }
}
