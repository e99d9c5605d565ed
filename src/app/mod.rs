//! The application layer: one function per operation, over an [`Actor`] and the domain's
//! types, with every business rule and object-level check, once.
//!
//! HTTP handlers (`crate::http`) parse, call one of these and reply; the CLI and the tests call
//! the same functions without HTTP. The spec's role policy (`x-roles`) is enforced by the
//! generated glue before a handler runs; what depends on the object — whose account, whose key,
//! which admin — is decided here. The store is behind [`crate::store::Store`]: the rules here do
//! not depend on the back-end.

mod accounts;
mod catalog;
mod customers;
mod orders;

use std::sync::Arc;

pub use accounts::{NewAccount, Session, UserRef};
pub use catalog::Seeded;

use crate::auth::TokenKeys;
use crate::clock::Clock;
use crate::domain::{Id, Role};
use crate::error::Error;
use crate::passwords::Passwords;
use crate::photos::Photos;
use crate::store::Store;

/// The application: the store, the token keys, the password work, the photos, the clock, the limits.
pub struct App {
    store: Arc<dyn Store>,
    tokens: TokenKeys,
    passwords: Passwords,
    /// Customers' photos (the objects; the database keeps their keys).
    photos: Photos,
    clock: Clock,
    settings: Settings,
    /// Set when shutdown begins: readiness fails from then on (a load balancer drains).
    stopping: std::sync::atomic::AtomicBool,
}

/// The application's own limits, from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Active API keys one account may have.
    pub max_api_keys: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_api_keys: 20 }
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        tokens: TokenKeys,
        passwords: Passwords,
        photos: Photos,
        clock: Clock,
        settings: Settings,
    ) -> App {
        App { store, tokens, passwords, photos, clock, settings, stopping: Default::default() }
    }

    /// Where customers' photos are kept.
    pub fn photos(&self) -> &Photos {
        &self.photos
    }

    /// The bounded password work.
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The store, shared (for the rate limiter's counters).
    pub fn store_handle(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    pub fn tokens(&self) -> &TokenKeys {
        &self.tokens
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether the server takes new work: not shutting down, and the database answers (for
    /// `/readyz`).
    pub async fn ready(&self) -> Result<(), Error> {
        if self.stopping.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Busy("the server is shutting down"));
        }
        self.store.ping().await
    }

    /// Shutdown has begun: readiness fails from now on, while requests are still served.
    pub fn begin_shutdown(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Actor {
    /// Nobody in particular (a public operation).
    Anonymous,
    /// An account, authenticated.
    User(Principal),
    /// The operator, through the CLI: not subject to per-user rules.
    Operator,
}

/// An authenticated account, with the role the database holds now.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: Id,
    pub username: String,
    pub role: Role,
    pub credential: Credential,
}

/// How a user authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    AccessToken,
    ApiKey { id: Id },
}

impl Actor {
    pub fn user(&self) -> Option<&Principal> {
        match self {
            Actor::User(user) => Some(user),
            Actor::Anonymous | Actor::Operator => None,
        }
    }

    /// The authenticated user, or 401 (the glue admits only those on secured operations).
    pub fn require_user(&self) -> Result<&Principal, Error> {
        self.user().ok_or_else(|| Error::Unauthorized("not logged in".into()))
    }

    /// Admins and the operator may reach everyone's things.
    pub fn sees_everything(&self) -> bool {
        match self {
            Actor::User(user) => user.role.is_admin(),
            Actor::Operator => true,
            Actor::Anonymous => false,
        }
    }

    /// Whose things the caller may reach: `None` for everyone's, else its own id.
    pub fn owner_filter(&self) -> Result<Option<Id>, Error> {
        if self.sees_everything() {
            return Ok(None);
        }
        Ok(Some(self.require_user()?.id))
    }
}
