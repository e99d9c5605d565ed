//! Credentials: password hashes (argon2id), access tokens (HS256 JWTs), refresh tokens and API
//! keys (opaque random secrets, stored as SHA-256), and who a caller is.
//!
//! Access tokens are checked strictly: the algorithm is pinned (a token saying `alg: none` or
//! any other algorithm is refused before its signature is looked at), and `exp`, `iat`, `iss`,
//! `aud` and `sub` must be present and right. Refresh tokens are not JWTs at all, so neither
//! kind of token can stand in for the other.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::types::Role;
use crate::error::Error;

/// The issuer and audience of access tokens.
const ISSUER: &str = "storefront";
const AUDIENCE: &str = "storefront-api";

/// Prefixes that make a leaked secret recognisable (and greppable by secret scanners).
pub const API_KEY_PREFIX: &str = "sfk_";
pub const REFRESH_TOKEN_PREFIX: &str = "sfr_";

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    User(AuthenticatedUser),
}

/// A caller whose credentials were checked, with the role the database holds now.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub credential: Credential,
}

/// How a user authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    AccessToken,
    ApiKey { id: i64 },
}

impl Caller {
    pub fn user(&self) -> Option<&AuthenticatedUser> {
        match self {
            Caller::User(user) => Some(user),
            Caller::Anonymous => None,
        }
    }

    /// Whether the caller is staff (admin or manager), who may see what others own.
    pub fn is_staff(&self) -> bool {
        matches!(self.user().map(|u| u.role), Some(Role::Admin | Role::Manager))
    }
}

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

/// Signs and checks access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("access_ttl", &self.access_ttl).finish_non_exhaustive()
    }
}

/// Why an access token was refused (for the log; the client only hears "invalid token").
#[derive(Debug, thiserror::Error)]
#[error("invalid access token: {0}")]
pub struct InvalidToken(String);

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    /// A fresh access token for a user.
    pub fn issue_access(&self, user_id: i64) -> Result<String, Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.to_string(),
            iat: now,
            nbf: now,
            exp: now + i64::try_from(self.access_ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(Error::internal)
    }

    /// The user id an access token was issued to, when every check passes.
    pub fn verify_access(&self, token: &str) -> Result<i64, InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| InvalidToken(e.to_string()))?;
        data.claims.sub.parse().map_err(|_| InvalidToken("`sub` is not a user id".into()))
    }
}

/// A new random secret with a recognisable prefix: 256 bits, base64url.
pub fn new_secret(prefix: &str) -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// How secrets (refresh tokens, API keys) are stored: SHA-256, hex. They are 256-bit random,
/// so a fast hash loses nothing against guessing.
/// A role as stored (the spec's enum value); anything else in the database is a server fault.
pub fn stored_role(role: &str) -> Result<Role, Error> {
    role.parse().map_err(|_| Error::internal(format!("stored role {role:?} is not a role")))
}

pub fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes), off the async
/// threads: it takes tens of milliseconds by design.
pub async fn hash_password(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::internal(e.to_string()))
    })
    .await
    .map_err(Error::internal)?
}

/// Checks a password against a stored hash; with no hash (an unknown user), checks it against
/// a dummy one, so that both answers take the same time.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, Error> {
    let known = hash.is_some();
    let hash = match hash {
        Some(hash) => hash,
        None => dummy_hash().await?,
    };
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::internal(format!("stored hash: {e}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known)
    })
    .await
    .map_err(Error::internal)?
}

async fn dummy_hash() -> Result<String, Error> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY.get_or_try_init(|| hash_password("not anyone's password".into())).await.cloned()
}

/// The password policy the spec states (`NewPassword`), for the operator command that creates
/// the first admin without going through the API's validation.
pub fn password_policy_violation(password: &str) -> Option<&'static str> {
    let length = password.chars().count();
    if length < 8 {
        Some("must be at least 8 characters long")
    } else if length > 128 {
        Some("must be at most 128 characters long")
    } else if !password.chars().any(|c| c.is_ascii_uppercase()) {
        Some("must contain an upper-case letter")
    } else if !password.chars().any(|c| c.is_ascii_digit()) {
        Some("must contain a digit")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60), Duration::from_secs(600))
    }

    #[test]
    fn an_issued_token_verifies_to_its_user() {
        let keys = keys();
        let token = keys.issue_access(42).unwrap();
        assert_eq!(keys.verify_access(&token).unwrap(), 42);
    }

    #[test]
    fn tokens_signed_otherwise_or_not_at_all_are_refused() {
        let keys = keys();
        let other = TokenKeys::new(
            b"another-secret-another-secret-xx",
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert!(keys.verify_access(&other.issue_access(1).unwrap()).is_err());

        let token = keys.issue_access(1).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        parts[0] = &none;
        assert!(keys.verify_access(&format!("{}.{}.", parts[0], parts[1])).is_err());

        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "1", "iat": 0, "nbf": 0, "exp": 9_999_999_999i64}),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(keys.verify_access(&hs512).is_err());
    }

    #[test]
    fn expired_or_foreign_audience_tokens_are_refused() {
        let keys = keys();
        let sign = |claims: serde_json::Value| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
            )
            .unwrap()
        };
        let now = chrono::Utc::now().timestamp();
        let expired = sign(
            serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "1", "iat": now - 120, "nbf": now - 120, "exp": now - 60}),
        );
        assert!(keys.verify_access(&expired).is_err());
        let audience = sign(
            serde_json::json!({"iss": ISSUER, "aud": "elsewhere", "sub": "1", "iat": now, "nbf": now, "exp": now + 60}),
        );
        assert!(keys.verify_access(&audience).is_err());
        let no_sub = sign(
            serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 60}),
        );
        assert!(keys.verify_access(&no_sub).is_err());
    }

    #[test]
    fn secrets_are_random_prefixed_and_hashed() {
        let a = new_secret(API_KEY_PREFIX).unwrap();
        let b = new_secret(API_KEY_PREFIX).unwrap();
        assert!(a.starts_with("sfk_") && a.len() == 4 + 43);
        assert_ne!(a, b);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("Correct-Horse-42".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("Correct-Horse-42".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("correct-horse-42".into(), Some(hash)).await.unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
        assert!(!verify_password("not anyone's password".into(), None).await.unwrap());
    }

    #[test]
    fn the_password_policy_matches_the_spec() {
        assert_eq!(password_policy_violation("Short1"), Some("must be at least 8 characters long"));
        assert_eq!(password_policy_violation("alllowercase1"), Some("must contain an upper-case letter"));
        assert_eq!(password_policy_violation("NoDigitsHere"), Some("must contain a digit"));
        assert_eq!(password_policy_violation("Correct-Horse-42"), None);
    }
}
