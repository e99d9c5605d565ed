//! Accounts and credentials: registration, login, refresh and logout, users and their roles,
//! API keys — and who is calling, from a token or a key.
//!
//! The rules, once:
//! * a new account is a customer; only the operator makes admins (`create-admin`);
//! * a password follows the spec's `NewPassword` rule (the spec's own schema checks it here
//!   too, for callers that do not come through HTTP);
//! * another user's account is "not found" to anyone but an admin;
//! * admins cannot demote or delete themselves, and the last admin cannot be demoted or
//!   deleted by anyone (checked against the locked rows, inside the write);
//! * another user's API key is "not found" to anyone but an admin.

use crate::app::{Actor, App, Credential, Principal};
use crate::auth::{new_secret, secret_hash, API_KEY_PREFIX, REFRESH_TOKEN_PREFIX};
use crate::domain::*;
use crate::error::Error;

/// What an account is made of, as given.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub email: String,
    pub password: String,
}

/// A login: an access token and the refresh token that continues it.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// An account named in a request: the caller's own, or one by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRef {
    Me,
    Id(Id),
}

/// How many characters of an API key are kept to tell keys apart (`sfk_` and 8 of the secret).
const KEY_PREFIX_LEN: usize = API_KEY_PREFIX.len() + 8;

/// An API key's `last_used_at` is written at most this often (it is a write).
const KEY_TOUCH_EVERY_MICROS: i64 = 60_000_000;

impl App {
    /// The account an access token was issued to, as it is now — if its login has not ended
    /// (logout, or a replayed refresh token revokes the login's access tokens too).
    pub async fn principal_for_token(&self, token: &str) -> Result<Principal, Error> {
        let claims = self
            .tokens()
            .verify_access(token)
            .map_err(|_| Error::Unauthorized("the access token is invalid or expired".into()))?;
        let user = self.store().user_in_session(claims.user_id, &claims.session).await?.ok_or_else(|| {
            Error::Unauthorized("the access token's login has ended, or its user is gone".into())
        })?;
        Ok(Principal {
            id: user.id,
            username: user.username,
            role: user.role,
            credential: Credential::AccessToken,
        })
    }

    /// The owner of an active API key, acting with the owner's role.
    pub async fn principal_for_key(&self, key: &str) -> Result<Principal, Error> {
        let owner = self
            .store()
            .api_key_owner(&secret_hash(key))
            .await?
            .ok_or_else(|| Error::Unauthorized("the API key is invalid or revoked".into()))?;
        let due = owner
            .last_used_at
            .is_none_or(|at| self.clock().now().timestamp_micros() - at >= KEY_TOUCH_EVERY_MICROS);
        if due {
            let store = self.store_handle();
            tokio::spawn(async move {
                let _ = store.api_key_touch(owner.key_id).await;
            });
        }
        Ok(Principal {
            id: owner.user_id,
            username: owner.username,
            role: owner.role,
            credential: Credential::ApiKey { id: owner.key_id },
        })
    }

    /// A new account, always a customer.
    pub async fn register(&self, _actor: &Actor, new: &NewAccount) -> Result<User, Error> {
        self.create_user(new, Role::Customer).await
    }

    /// An admin account: the operator's way to make the first one.
    pub async fn create_admin(&self, actor: &Actor, new: &NewAccount) -> Result<User, Error> {
        if !matches!(actor, Actor::Operator) {
            return Err(Error::Forbidden("only the operator creates admins; admins promote accounts".into()));
        }
        self.create_user(new, Role::Admin).await
    }

    async fn create_user(&self, new: &NewAccount, role: Role) -> Result<User, Error> {
        let candidate =
            serde_json::json!({"username": new.username, "email": new.email, "password": new.password});
        let errors = crate::validate::check(crate::validate::validator("Registration"), &candidate);
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let password_hash = self.passwords().hash(new.password.clone()).await?;
        let user = NewUser { username: new.username.clone(), email: new.email.clone(), password_hash, role };
        self.store().user_create(&user).await
    }

    /// Logs in: an unknown user costs the same hash check as a wrong password, and gets the
    /// same answer.
    pub async fn login(&self, username: &str, password: &str) -> Result<Session, Error> {
        let (user, hash) = match self.store().user_for_login(username).await? {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let verified = self.passwords().verify(password.to_string(), hash).await?;
        let user = user
            .filter(|_| verified)
            .ok_or(Error::Unauthorized("the username or password is wrong".into()))?;
        let refresh_token = new_secret(REFRESH_TOKEN_PREFIX)?;
        let family = uuid::Uuid::new_v4().simple().to_string();
        let (now, expiry) = (self.now_micros(), self.refresh_expiry());
        self.store().session_start(user.id, &family, &secret_hash(&refresh_token), now, expiry).await?;
        self.session(user.id, &family, refresh_token)
    }

    /// Rotates a refresh token; one presented again revokes its whole login.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, Error> {
        let next = new_secret(REFRESH_TOKEN_PREFIX)?;
        let (old, new) = (secret_hash(refresh_token), secret_hash(&next));
        match self.store().session_rotate(&old, &new, self.now_micros(), self.refresh_expiry()).await? {
            Refreshed::Rotated { user_id, family } => self.session(user_id, &family, next),
            Refreshed::Reused => Err(Error::Unauthorized(
                "this refresh token was already used; every token of its login is now revoked".into(),
            )),
            Refreshed::Invalid => {
                Err(Error::Unauthorized("the refresh token is invalid, expired or revoked".into()))
            }
        }
    }

    /// Ends the login a refresh token belongs to; an unknown token changes nothing.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), Error> {
        self.store().session_revoke(&secret_hash(refresh_token), self.now_micros()).await
    }

    fn session(&self, user_id: Id, family: &str, refresh_token: String) -> Result<Session, Error> {
        Ok(Session {
            access_token: self.tokens().issue_access(user_id, family)?,
            refresh_token,
            expires_in: i64::try_from(self.tokens().access_ttl.as_secs()).unwrap_or(i64::MAX),
        })
    }

    fn refresh_expiry(&self) -> i64 {
        let ttl = i64::try_from(self.tokens().refresh_ttl.as_micros()).unwrap_or(i64::MAX);
        self.now_micros().saturating_add(ttl)
    }

    fn now_micros(&self) -> i64 {
        self.clock().now().timestamp_micros()
    }

    pub async fn user_list(&self, _actor: &Actor, start: Start<Id>, limit: i64) -> Result<Page<User>, Error> {
        self.store().users(start, limit).await
    }

    /// An account: the caller's own, or (for admins) anyone's; to others, other accounts do not
    /// exist.
    pub async fn user_get(&self, actor: &Actor, which: UserRef) -> Result<User, Error> {
        let id = self.resolve(actor, which)?;
        self.store().user(id).await
    }

    /// The id an account reference names, if the caller may reach that account (their own, or
    /// anyone's for admins); otherwise "not found", the same as a missing account.
    fn resolve(&self, actor: &Actor, which: UserRef) -> Result<Id, Error> {
        let id = match which {
            UserRef::Me => actor.require_user()?.id,
            UserRef::Id(id) => id,
        };
        if !actor.sees_everything() && actor.user().is_none_or(|user| user.id != id) {
            return Err(Error::NotFound("user"));
        }
        Ok(id)
    }

    /// Changes an account's role or email; admins cannot demote themselves, and nobody can
    /// demote the last admin.
    pub async fn user_update(
        &self,
        actor: &Actor,
        which: UserRef,
        changes: &UserChanges,
        precondition: Precondition<'_>,
    ) -> Result<User, Error> {
        let id = self.resolve(actor, which)?;
        let demoting = changes.role.is_some_and(|role| role != Role::Admin);
        if demoting && actor.user().is_some_and(|user| user.id == id) {
            return Err(Error::Conflict("admins cannot demote themselves; ask another admin".into()));
        }
        let check = |write: &UserWrite<'_>| {
            if !precondition(write.user.version()) {
                return Err(Error::PreconditionFailed);
            }
            if demoting && write.user.role.is_admin() && write.admins <= 1 {
                return Err(Error::Conflict("this is the last admin; make another admin first".into()));
            }
            Ok(())
        };
        self.store().user_update(id, changes, &check).await
    }

    /// Deletes an account, with its tokens and keys; admins cannot delete themselves, and
    /// nobody can delete the last admin.
    pub async fn user_delete(
        &self,
        actor: &Actor,
        which: UserRef,
        precondition: Precondition<'_>,
    ) -> Result<(), Error> {
        let id = self.resolve(actor, which)?;
        if actor.user().is_some_and(|user| user.id == id) {
            return Err(Error::Conflict("admins cannot delete their own account; ask another admin".into()));
        }
        let check = |write: &UserWrite<'_>| {
            if !precondition(write.user.version()) {
                return Err(Error::PreconditionFailed);
            }
            if write.user.role.is_admin() && write.admins <= 1 {
                return Err(Error::Conflict("this is the last admin; make another admin first".into()));
            }
            Ok(())
        };
        self.store().user_delete(id, &check).await
    }

    /// The caller's active API keys, newest first.
    pub async fn api_key_list(&self, actor: &Actor) -> Result<Vec<ApiKey>, Error> {
        self.store().api_keys_of(actor.require_user()?.id).await
    }

    /// A new key for the caller, and its secret (shown once; only its hash is kept).
    pub async fn api_key_create(&self, actor: &Actor, name: &str) -> Result<(ApiKey, String), Error> {
        let user = actor.require_user()?;
        let name = crate::names::checked("name", name)?;
        let name = name.as_str();
        let secret = new_secret(API_KEY_PREFIX)?;
        let max = self.settings().max_api_keys;
        let (prefix, hash) = (&secret[..KEY_PREFIX_LEN], secret_hash(&secret));
        let key = self.store().api_key_create(user.id, name, prefix, &hash, max).await?;
        Ok((key, secret))
    }

    pub async fn api_key_get(&self, actor: &Actor, id: Id) -> Result<ApiKey, Error> {
        self.store().api_key(id, actor.owner_filter()?).await
    }

    /// Revokes a key: it stops working at once.
    pub async fn api_key_revoke(&self, actor: &Actor, id: Id) -> Result<(), Error> {
        self.store().api_key_revoke(id, actor.owner_filter()?).await
    }
}
