//! Credentials: password hashes (argon2id), access tokens (HS256 JWTs), refresh tokens and API
//! keys (opaque random secrets, stored as SHA-256).
//!
//! Access tokens are checked strictly: the algorithm is pinned (a token saying `alg: none` or
//! any other algorithm is refused before its signature is looked at), `exp`, `iat`, `iss`, `aud`
//! and `sub` must be present and right, and the times are checked against the server's
//! [`Clock`]. Refresh tokens are not JWTs at all, so neither kind of token can stand in for the
//! other.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::Error;

/// The issuer and audience of access tokens.
const ISSUER: &str = "storefront";
const AUDIENCE: &str = "storefront-api";

/// Tolerated clock difference between issuer and checker, in seconds.
const LEEWAY_SECS: i64 = 5;

/// Prefixes that make a leaked secret recognisable (and greppable by secret scanners).
pub const API_KEY_PREFIX: &str = "sfk_";
pub const REFRESH_TOKEN_PREFIX: &str = "sfr_";

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
    /// The login (refresh-token family) the token belongs to: when it ends (logout, a replayed
    /// refresh token), the token stops working with it.
    sid: String,
}

/// Whom an access token was issued to, and in which login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: i64,
    pub session: String,
}

/// Signs and checks access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    clock: Clock,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Access tokens that passed every check but the clock's, by their whole text (see
    /// [`TokenKeys::verify_access`]).
    verified: quick_cache::sync::Cache<Box<str>, Arc<Verified>>,
}

/// What a token that passed the checks that do not depend on the time carries for those that do.
struct Verified {
    claims: AccessClaims,
    nbf: i64,
    iat: i64,
    exp: i64,
}

/// Access tokens remembered as verified: a few hundred bytes each.
const VERIFIED_TOKENS: usize = 4096;

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
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration, clock: Clock) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Times are checked below, against the server's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            clock,
            access_ttl,
            refresh_ttl,
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
        }
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.access_ttl.as_secs()).unwrap_or(i64::MAX / 2)
    }

    /// A fresh access token for a user, in a login.
    pub fn issue_access(&self, user_id: i64, session: &str) -> Result<String, Error> {
        let now = self.clock.now_secs();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.to_string(),
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sid: session.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(Error::internal)
    }

    /// Whom an access token was issued to, when every check passes: the signature with the
    /// pinned algorithm, no critical header extension (none is understood), issuer, audience,
    /// a canonical decimal `sub`, and times — not expired, not from the future, and not living
    /// longer than this server issues tokens for.
    ///
    /// A token seen before skips what cannot have changed since — its signature, its claims,
    /// its lifetime: verifying them takes 2.5 µs (HMAC-SHA-256, base64, JSON; `cargo bench
    /// --bench hot_paths`), remembering 80 ns. The remembered tokens are keyed by their whole text and
    /// bounded (4,096); the times are checked on every use, so a remembered token
    /// expires exactly when it would have.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, InvalidToken> {
        let verified = match self.verified.get(token) {
            Some(verified) => verified,
            None => {
                let verified = Arc::new(self.verify_untimed(token)?);
                self.verified.insert(token.into(), Arc::clone(&verified));
                verified
            }
        };
        let now = self.clock.now_secs();
        if verified.exp <= now - LEEWAY_SECS {
            return Err(InvalidToken("expired".into()));
        }
        if verified.nbf > now + LEEWAY_SECS || verified.iat > now + LEEWAY_SECS {
            return Err(InvalidToken("not valid yet".into()));
        }
        Ok(verified.claims.clone())
    }

    /// Every check of [`TokenKeys::verify_access`], in its order; the times' against the clock
    /// now, so that a token is remembered only when it passed them all.
    fn verify_untimed(&self, token: &str) -> Result<Verified, InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| InvalidToken(e.to_string()))?;
        if data.header.crit.is_some() {
            return Err(InvalidToken("a critical header extension this server does not understand".into()));
        }
        let claims = data.claims;
        let now = self.clock.now_secs();
        if claims.exp <= now - LEEWAY_SECS {
            return Err(InvalidToken("expired".into()));
        }
        if claims.nbf > now + LEEWAY_SECS || claims.iat > now + LEEWAY_SECS {
            return Err(InvalidToken("not valid yet".into()));
        }
        if claims.exp.saturating_sub(claims.iat) > self.ttl_secs() + LEEWAY_SECS {
            return Err(InvalidToken("lives longer than this server's tokens".into()));
        }
        let user_id: i64 = claims.sub.parse().map_err(|_| InvalidToken("`sub` is not a user id".into()))?;
        if user_id <= 0 || user_id.to_string() != claims.sub {
            return Err(InvalidToken("`sub` is not a canonical user id".into()));
        }
        if claims.sid.is_empty() || claims.sid.len() > 64 {
            return Err(InvalidToken("`sid` is not a login".into()));
        }
        Ok(Verified {
            claims: AccessClaims { user_id, session: claims.sid },
            nbf: claims.nbf,
            iat: claims.iat,
            exp: claims.exp,
        })
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
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys(clock: Clock) -> TokenKeys {
        TokenKeys::new(SECRET, Duration::from_secs(60), Duration::from_secs(600), clock)
    }

    fn sign(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET))
            .unwrap()
    }

    #[test]
    fn an_issued_token_verifies_to_its_user_until_it_expires() {
        let clock = Clock::manual(chrono::Utc::now());
        let keys = keys(clock.clone());
        let token = keys.issue_access(42, "login-1").unwrap();
        assert_eq!(
            keys.verify_access(&token).unwrap(),
            AccessClaims { user_id: 42, session: "login-1".into() }
        );
        clock.advance(Duration::from_secs(60 + LEEWAY_SECS as u64));
        assert!(keys.verify_access(&token).is_err());
    }

    #[test]
    fn a_remembered_token_still_expires_and_an_altered_copy_is_checked_in_full() {
        let clock = Clock::manual(chrono::Utc::now());
        let keys = keys(clock.clone());
        let token = keys.issue_access(42, "login-1").unwrap();
        for _ in 0..3 {
            assert_eq!(keys.verify_access(&token).unwrap().user_id, 42);
        }
        let signature = token.rfind('.').unwrap() + 1;
        let mut altered = token.clone().into_bytes();
        altered[signature] = if altered[signature] == b'A' { b'B' } else { b'A' };
        assert!(keys.verify_access(std::str::from_utf8(&altered).unwrap()).is_err());
        clock.advance(Duration::from_secs(30));
        assert!(keys.verify_access(&token).is_ok());
        clock.advance(Duration::from_secs(30 + LEEWAY_SECS as u64));
        assert!(keys.verify_access(&token).is_err(), "expired, remembered or not");
    }

    #[test]
    fn tokens_signed_otherwise_or_not_at_all_are_refused() {
        let keys = keys(Clock::system());
        let other = TokenKeys::new(
            b"another-secret-another-secret-xx",
            Duration::from_secs(60),
            Duration::from_secs(60),
            Clock::system(),
        );
        assert!(keys.verify_access(&other.issue_access(1, "s").unwrap()).is_err());

        let token = keys.issue_access(1, "s").unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.verify_access(&format!("{none}.{}.", parts[1])).is_err());

        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "1", "iat": 0, "nbf": 0, "exp": 9_999_999_999i64}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(keys.verify_access(&hs512).is_err());
    }

    #[test]
    fn expired_future_or_foreign_audience_tokens_are_refused() {
        let keys = keys(Clock::system());
        let now = chrono::Utc::now().timestamp();
        let claims = |iat: i64, exp: i64, aud: &str| serde_json::json!({"iss": ISSUER, "aud": aud, "sub": "1", "iat": iat, "nbf": iat, "exp": exp, "jti": "j", "sid": "s"});
        assert!(keys.verify_access(&sign(claims(now - 120, now - 60, AUDIENCE))).is_err());
        assert!(keys.verify_access(&sign(claims(now + 600, now + 660, AUDIENCE))).is_err());
        assert!(keys.verify_access(&sign(claims(now, now + 60, "elsewhere"))).is_err());
        let no_sub = sign(
            serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 60}),
        );
        assert!(keys.verify_access(&no_sub).is_err());
        assert!(keys.verify_access(&sign(claims(now, now + 60, AUDIENCE))).is_ok());
    }

    #[test]
    fn secrets_are_random_prefixed_and_hashed() {
        let a = new_secret(API_KEY_PREFIX).unwrap();
        let b = new_secret(API_KEY_PREFIX).unwrap();
        assert!(a.starts_with("sfk_") && a.len() == 4 + 43);
        assert_ne!(a, b);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), secret_hash(&b));
        assert_eq!(secret_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn critical_extensions_odd_subjects_and_overlong_lifetimes_are_refused() {
        let keys = keys(Clock::system());
        let now = chrono::Utc::now().timestamp();
        let claims = |sub: &str, exp: i64| serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": exp, "jti": "j", "sid": "s"});
        assert!(keys.verify_access(&sign(claims("7", now + 60))).is_ok());
        for sub in ["+7", "07", "-7", "0", " 7", "7.0", "0x7"] {
            assert!(keys.verify_access(&sign(claims(sub, now + 60))).is_err(), "{sub:?}");
        }
        // The server issues tokens for 60 s (plus leeway): a day-long one was not made here.
        assert!(keys.verify_access(&sign(claims("7", now + 86_400))).is_err());
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp".into()]);
        let critical =
            jsonwebtoken::encode(&header, &claims("7", now + 60), &EncodingKey::from_secret(SECRET)).unwrap();
        assert!(keys.verify_access(&critical).is_err());
    }
}
