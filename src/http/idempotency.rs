//! Idempotency keys: a `POST` sent with `Idempotency-Key` runs once; its retries get the first
//! answer (same status, the headers that describe it, the same bytes), from any instance on the
//! same database.
//!
//! Two halves, on either side of the handler:
//!
//! * [`claim`], called by the generated glue of every operation that declares the header, once
//!   the caller is known and the body read: it claims the key in the database
//!   ([`IdempotencyStore`](crate::store::IdempotencyStore)), or answers for it — 422 when the key
//!   was used for another request, 409 while the first request still runs, or the stored answer
//!   (through the request's scope, which the edge replays).
//! * [`settle`], called by the edge with the final response: a success (< 400) is stored under
//!   the key; a failure releases it, so that a corrected retry runs anew.
//!
//! Keys are per caller: a user's (their API keys included) are theirs alone; anonymous callers
//! (`/auth/register`) share one scope, where the body must match as well. Requests without the
//! header pay nothing but the check that it is absent.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::aead;
use bytes::Bytes;
use dropshot::Body;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use sha2::{Digest, Sha256};
use slog::{warn, Logger};

use crate::clock::Clock;
use crate::edge::scope;
use crate::error::{ApiError, Kind};
use crate::http::extract::{BinaryBody, JsonBody, JsonOrForm};
use crate::http::Cx;
use crate::store::{KeyClaim, KeyState, Store, StoredAnswer};

/// The headers of an answer that are kept and replayed with its body; the others (rate limits,
/// request id, security headers) are the retry's own.
const KEPT_HEADERS: [HeaderName; 7] = [
    header::LOCATION,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::VARY,
    header::CACHE_CONTROL,
];

/// Marks a replayed answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How often, at most, an instance purges expired keys (in passing, on a claim).
const PURGE_EVERY_SECS: i64 = 60;

/// The keys' settings and store.
pub struct Keys {
    store: Arc<dyn Store>,
    clock: Clock,
    /// How long a key (and its answer) is kept.
    ttl: Duration,
    /// How long a claim holds while its request runs: past it, the request is taken to have died
    /// with its server and the key is free again.
    lease: Duration,
    /// When this instance last purged expired keys (seconds since the epoch).
    last_purge: AtomicI64,
}

impl Keys {
    pub fn new(store: Arc<dyn Store>, clock: Clock, ttl: Duration, lease: Duration) -> Keys {
        Keys { store, clock, ttl, lease, last_purge: AtomicI64::new(i64::MIN) }
    }

    /// Forgets the expired keys, at most once a minute per instance.
    async fn purge(&self, log: Option<&Logger>) {
        let now = self.clock.now();
        let last = self.last_purge.load(Ordering::Relaxed);
        if now.timestamp().saturating_sub(last) < PURGE_EVERY_SECS
            || self
                .last_purge
                .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let (Err(e), Some(log)) = (self.store.idempotency_purge(now.timestamp_micros()).await, log) {
            warn!(log, "purging expired idempotency keys failed"; "error" => e.to_string());
        }
    }
}

/// What a request holds of an idempotency key, in its scope, for the edge.
#[derive(Debug)]
pub enum Pending {
    /// The request holds the key: its answer is to be stored (or the key released).
    Claimed { keys: Arc<Keys>, key_hash: String, claim: String, seal: Seal },
    /// The key's first answer, to be sent in place of this request's.
    Replay(StoredAnswer),
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("ttl", &self.ttl).field("lease", &self.lease).finish_non_exhaustive()
    }
}

/// What identifies a request's body, for comparing a retry with the first request: the typed
/// input (so that a multipart retry with another boundary, or JSON with other spacing or key
/// order, is the same request), and a file part's media type and bytes.
pub trait Fingerprint {
    fn feed(&self, hasher: &mut Sha256);
}

/// No body.
impl Fingerprint for () {
    fn feed(&self, _: &mut Sha256) {}
}

impl<T: serde::Serialize> Fingerprint for JsonBody<T> {
    fn feed(&self, hasher: &mut Sha256) {
        feed_json(&**self, hasher);
    }
}

impl<T: serde::Serialize> Fingerprint for JsonOrForm<T> {
    fn feed(&self, hasher: &mut Sha256) {
        let form = self.get();
        feed_json(&form.data, hasher);
        for (name, file) in &form.files {
            feed_part(hasher, name.as_bytes());
            feed_part(hasher, file.declared_type.as_deref().unwrap_or_default().as_bytes());
            feed_part(hasher, &file.bytes);
        }
    }
}

impl Fingerprint for BinaryBody {
    fn feed(&self, hasher: &mut Sha256) {
        let upload = self.get();
        feed_part(hasher, upload.declared_type.as_deref().unwrap_or_default().as_bytes());
        feed_part(hasher, &upload.bytes);
    }
}

/// A value's JSON (serde_json writes a struct's fields in declaration order and a map's keys
/// sorted, so equal inputs serialize alike).
fn feed_json(value: &impl serde::Serialize, hasher: &mut Sha256) {
    let json = serde_json::to_vec(value).unwrap_or_default();
    feed_part(hasher, &json);
}

/// A length-prefixed part: no two sequences of parts feed the same bytes.
fn feed_part(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// Whether `key` is a valid `Idempotency-Key` (the spec's rule: 1–255 printable ASCII).
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// The stored form of a caller's key: their scope and the key, hashed.
pub fn key_hash(caller: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    feed_part(&mut hasher, caller.as_bytes());
    feed_part(&mut hasher, key.as_bytes());
    hex::encode(hasher.finalize())
}

/// The key that seals a stored answer's body (AES-256-GCM): derived from the caller's scope and
/// the client's key, neither of which the database holds (it keeps [`key_hash`], another hash).
/// A dump of the table alone reveals no body — the secret of a created API key included; only a
/// retry with the same key by the same caller opens it.
pub struct Seal([u8; 32]);

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seal(..)")
    }
}

impl Seal {
    pub fn new(caller: &str, key: &str) -> Seal {
        let mut hasher = Sha256::new();
        feed_part(&mut hasher, b"storefront idempotency seal v1");
        feed_part(&mut hasher, caller.as_bytes());
        feed_part(&mut hasher, key.as_bytes());
        Seal(hasher.finalize().into())
    }

    fn key(&self) -> aead::LessSafeKey {
        let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, &self.0).expect("a 32-byte AES-256 key");
        aead::LessSafeKey::new(unbound)
    }

    /// A random nonce, then the ciphertext and its tag.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, ApiError> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| {
            ApiError::internal(Kind::Internal, Kind::Internal.title(), format!("random nonce: {e}"))
        })?;
        let mut sealed = plain.to_vec();
        self.key()
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| {
                ApiError::internal(Kind::Internal, Kind::Internal.title(), "sealing an answer failed")
            })?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plain body; `None` when it was not sealed with this key (or was altered).
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < aead::NONCE_LEN {
            return None;
        }
        let (nonce, rest) = sealed.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = rest.to_vec();
        let plain = self.key().open_in_place(nonce, aead::Aad::empty(), &mut buffer).ok()?;
        Some(plain.to_vec())
    }
}

/// The fingerprint of a request: its operation, its path and its body.
pub fn fingerprint(operation: &str, path: &str, body: &impl Fingerprint) -> String {
    let mut hasher = Sha256::new();
    feed_part(&mut hasher, operation.as_bytes());
    feed_part(&mut hasher, path.as_bytes());
    body.feed(&mut hasher);
    hex::encode(hasher.finalize())
}

/// The scope of a caller's keys: the user (whose API keys share it), or every anonymous caller.
fn caller_scope(cx: &Cx) -> String {
    match cx.actor.user() {
        Some(user) => format!("user:{}", user.id),
        None => "anonymous".to_string(),
    }
}

/// Claims the request's `Idempotency-Key`, when it has one (see the module's documentation):
/// `Ok` when the request is to run; the answer otherwise.
pub async fn claim(cx: &Cx, key: Option<&str>, body: &impl Fingerprint) -> Result<(), ApiError> {
    let Some(key) = key else { return Ok(()) };
    if !valid_key(key) {
        // The spec's pattern has refused it already; this guards the store.
        return Err(ApiError::new(
            Kind::ValidationFailed,
            "Idempotency-Key: 1 to 255 printable ASCII characters",
        ));
    }
    let keys = Arc::clone(&cx.idempotency);
    let log = scope::with(|scope| scope.log().clone());
    keys.purge(log.as_ref()).await;
    let path = cx.path();
    let caller = caller_scope(cx);
    let key_hash = key_hash(&caller, key);
    let seal = Seal::new(&caller, key);
    let fingerprint = fingerprint(cx.op.id, &path, body);
    let claim = uuid::Uuid::new_v4().simple().to_string();
    let now = keys.clock.now().timestamp_micros();
    let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let state = keys
        .store
        .idempotency_claim(KeyClaim {
            key_hash: &key_hash,
            fingerprint: &fingerprint,
            claim: &claim,
            now,
            locked_until: now.saturating_add(micros(keys.lease)),
            expires_at: now.saturating_add(micros(keys.ttl)),
        })
        .await?;
    match state {
        KeyState::Claimed => {
            scope::with(|scope| scope.set_idempotency(Pending::Claimed { keys, key_hash, claim, seal }));
            Ok(())
        }
        KeyState::Mismatch => Err(ApiError::new(
            Kind::ValidationFailed,
            "this Idempotency-Key was already used for another request (another operation, path or body); \
             use a new key for a new request",
        )),
        KeyState::Running => Err(ApiError::new(
            Kind::Conflict,
            "the first request with this Idempotency-Key is still running; retry when it has finished",
        )
        .with_header(header::RETRY_AFTER, "1")),
        KeyState::Done(mut answer) => {
            // Stored sealed (see [`Seal`]); what does not open was not sealed for this caller's key.
            answer.body = seal.open(&answer.body).ok_or_else(|| {
                ApiError::internal(
                    Kind::Internal,
                    Kind::Internal.title(),
                    "a stored idempotent answer does not open with its key",
                )
            })?;
            scope::with(|scope| scope.set_idempotency(Pending::Replay(answer)));
            // Dropshot's answer to this error is never sent: the edge replays the stored one.
            Err(ApiError::new(Kind::Conflict, "replayed"))
        }
    }
}

/// The response to send for a request that claimed or replays a key (see the module's
/// documentation); `accepts_gzip`: whether the client of this request takes a gzip body.
pub async fn settle(
    pending: Pending,
    response: Response<Body>,
    accepts_gzip: bool,
    log: &Logger,
) -> Response<Body> {
    match pending {
        Pending::Replay(answer) => replay(answer, accepts_gzip),
        Pending::Claimed { keys, key_hash, claim, seal } => {
            if response.status().as_u16() >= 400 {
                if let Err(e) = keys.store.idempotency_release(&key_hash, &claim).await {
                    warn!(log, "releasing an idempotency key failed"; "error" => e.to_string());
                }
                return response;
            }
            let (parts, body) = response.into_parts();
            let bytes = match http_body_util::BodyExt::collect(body).await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    warn!(log, "reading an answer to keep for its idempotency key failed"; "error" => %e);
                    let _ = keys.store.idempotency_release(&key_hash, &claim).await;
                    let mut failed = Response::new(Body::empty());
                    *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    return failed;
                }
            };
            let sealed = match seal.seal(&bytes) {
                Ok(sealed) => sealed,
                Err(e) => {
                    warn!(log, "sealing an answer to keep for its idempotency key failed"; "error" => e.to_string());
                    let _ = keys.store.idempotency_release(&key_hash, &claim).await;
                    return Response::from_parts(parts, Body::from(bytes));
                }
            };
            let answer = StoredAnswer {
                status: parts.status.as_u16(),
                headers: KEPT_HEADERS
                    .iter()
                    .flat_map(|name| parts.headers.get_all(name).iter().map(move |v| (name, v)))
                    .filter_map(|(name, v)| Some((name.as_str().to_string(), v.to_str().ok()?.to_string())))
                    .collect(),
                body: sealed,
            };
            if let Err(e) = keys.store.idempotency_complete(&key_hash, &claim, &answer).await {
                // The work is done: the client gets its answer. A retry will find the key running
                // until its lease ends, then run anew.
                warn!(log, "keeping the answer of an idempotency key failed"; "error" => e.to_string());
                let _ = keys.store.idempotency_release(&key_hash, &claim).await;
            }
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

/// The stored answer, as a response (decompressed for a client that does not take gzip).
fn replay(answer: StoredAnswer, accepts_gzip: bool) -> Response<Body> {
    let gzipped = answer
        .headers
        .iter()
        .any(|(name, value)| name == header::CONTENT_ENCODING.as_str() && value.eq_ignore_ascii_case("gzip"));
    let (body, decoded) = if gzipped && !accepts_gzip {
        use std::io::Read;
        let mut plain = Vec::new();
        match flate2::read::GzDecoder::new(answer.body.as_slice()).read_to_end(&mut plain) {
            Ok(_) => (plain, true),
            Err(_) => (answer.body, false),
        }
    } else {
        (answer.body, false)
    };
    let mut response = Response::new(Body::from(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in &answer.headers {
        if decoded && name == header::CONTENT_ENCODING.as_str() {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_of_1_to_255_characters() {
        assert!(valid_key("a"));
        assert!(valid_key("order 42: retry ~1"));
        assert!(valid_key(&"k".repeat(255)));
        assert!(!valid_key(""));
        assert!(!valid_key(&"k".repeat(256)));
        assert!(!valid_key("tab\there"));
        assert!(!valid_key("é"));
    }

    #[test]
    fn stored_bodies_open_only_with_the_callers_key() {
        let seal = Seal::new("user:1", "k");
        let sealed = seal.seal(b"{\"secret\":\"sk_live\"}").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"sk_live"), "the stored body is not plain text");
        assert_eq!(seal.open(&sealed).as_deref(), Some(&b"{\"secret\":\"sk_live\"}"[..]));
        assert_eq!(Seal::new("user:2", "k").open(&sealed), None);
        assert_eq!(Seal::new("user:1", "k2").open(&sealed), None);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(seal.open(&altered), None);
        assert_eq!(seal.open(b"short"), None);
    }

    #[test]
    fn keys_are_per_caller_and_fingerprints_per_request() {
        assert_ne!(key_hash("user:1", "k"), key_hash("user:2", "k"));
        assert_ne!(key_hash("user:1", "k"), key_hash("user:1k", ""));
        assert_eq!(fingerprint("op", "/a", &()), fingerprint("op", "/a", &()));
        assert_ne!(fingerprint("op", "/a", &()), fingerprint("op", "/b", &()));
        assert_ne!(fingerprint("op", "/a", &()), fingerprint("other", "/a", &()));
    }
}
