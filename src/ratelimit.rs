//! Rate limits: fixed windows, per limit class and key.
//!
//! Classes come from configuration (`auth=5/60s,default=120/60s,admin=1200/60s`); each operation
//! names its class in the spec (`x-rate-limit`). Counters live in memory with SQLite (one
//! process) and in the database with PostgreSQL, where every instance shares them. There, each
//! instance counts its own hits at once and adds them to the shared counter in batches: at
//! every hit while a class allows fewer than 100 requests a window (exact across instances),
//! else every 1 % of the limit or [`SYNC_INTERVAL`], whichever comes first. Another instance's
//! hits are seen when this one next adds its own: an instance may admit up to that batch more
//! than the limit. Before, every limited request was an upsert of one hot row: 4,300 requests
//! a second on this machine's PostgreSQL, however many instances (bench/README.md). Windows
//! follow the server's [`Clock`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::error::Error;
use crate::store::{Backend, Store};

/// How many requests a window allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub requests: u64,
    pub window: Duration,
}

/// The limit classes the server starts with; `STOREFRONT_RATE_LIMITS` replaces the ones it
/// names.
pub const DEFAULT_CLASSES: &str =
    "auth=5/60s,auth-unknown-token=30/60s,login-failures=20/15m,default=300/60s,admin=3000/60s";

/// The limit classes, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes(pub BTreeMap<String, Limit>);

impl Classes {
    /// These classes, and the default ones they do not name.
    pub fn with_defaults(mut self) -> Classes {
        let defaults: Classes = DEFAULT_CLASSES.parse().expect("the default classes parse");
        for (name, limit) in defaults.0 {
            self.0.entry(name).or_insert(limit);
        }
        self
    }
}

impl std::str::FromStr for Classes {
    type Err = String;

    /// `name=requests/window[,…]`, the window in seconds, or with a unit: `s`, `m`, `h`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut classes = BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || format!("{item:?} is not name=requests/window (e.g. auth=5/60s)");
            let (name, rule) = item.split_once('=').ok_or_else(bad)?;
            let (requests, window) = rule.split_once('/').ok_or_else(bad)?;
            let requests: u64 = requests.trim().parse().map_err(|_| bad())?;
            let window = window.trim();
            let (number, unit) = match window.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                Some((at, _)) => window.split_at(at),
                None => (window, "s"),
            };
            let seconds = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                _ => return Err(bad()),
            };
            let number: u64 = number.parse().map_err(|_| bad())?;
            if requests == 0 || number == 0 {
                return Err(format!("{item:?}: requests and window must be positive"));
            }
            classes.insert(
                name.trim().to_string(),
                Limit { requests, window: Duration::from_secs(number * seconds) },
            );
        }
        Ok(Classes(classes))
    }
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset: u64,
}

impl Decision {
    /// The names are constants: `from_static` at run time parses each one anew.
    const HEADERS: [(http::HeaderName, http::HeaderName); 3] = [
        (
            http::HeaderName::from_static("ratelimit-limit"),
            http::HeaderName::from_static("x-ratelimit-limit"),
        ),
        (
            http::HeaderName::from_static("ratelimit-remaining"),
            http::HeaderName::from_static("x-ratelimit-remaining"),
        ),
        (
            http::HeaderName::from_static("ratelimit-reset"),
            http::HeaderName::from_static("x-ratelimit-reset"),
        ),
    ];

    /// Writes the decision into a response's headers, as `RateLimit-Limit`, `-Remaining` and
    /// `-Reset` and as the `X-RateLimit-*` that older clients read (replacing any of the same
    /// name).
    pub fn write_headers(&self, headers: &mut http::HeaderMap) {
        for ((name, x_name), value) in Self::HEADERS.into_iter().zip([self.limit, self.remaining, self.reset])
        {
            let value = http::HeaderValue::from(value);
            headers.insert(name, value.clone());
            headers.insert(x_name, value);
        }
    }
}

/// Counts requests.
pub struct Limiter {
    classes: Classes,
    store: Counters,
    clock: Clock,
    hits: AtomicU64,
    /// The longest window of any class, in seconds: a counter whose window started longer ago
    /// than this has ended, whatever its class.
    longest: u64,
}

enum Counters {
    Memory {
        counts: Mutex<HashMap<String, (u64, u64)>>,
        members: Mutex<HashMap<String, (u64, HashSet<String>)>>,
    },
    Database {
        store: Arc<dyn Store>,
        counts: Arc<Mutex<HashMap<String, Shared>>>,
    },
}

/// A counter kept in the database, as this instance sees it.
struct Shared {
    window_start: u64,
    /// The count the database last answered (every instance's hits added so far).
    known: u64,
    /// This instance's hits on their way to the database.
    sending: u64,
    /// This instance's hits not sent yet.
    pending: u64,
    sent_at: Instant,
}

impl Shared {
    fn new(window_start: u64) -> Shared {
        Shared { window_start, known: 0, sending: 0, pending: 0, sent_at: Instant::now() }
    }

    fn count(&self) -> u64 {
        self.known + self.sending + self.pending
    }
}

/// At the latest, an instance adds its hits to a shared counter this long after it last did.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// Hits an instance counts before it adds them to a shared counter: every one below 100
/// requests a window, else 1 % of the limit.
fn batch(limit: u64) -> u64 {
    (limit / 100).max(1)
}

/// Every this many hits, counters whose window has ended are forgotten.
const PRUNE_EVERY: u64 = 4096;

/// A counter's name: `class:key` (written directly: `format!` costs ten times as much, on every
/// request).
fn counter_name(class: &str, key: &str) -> String {
    let mut name = String::with_capacity(class.len() + 1 + key.len());
    name.push_str(class);
    name.push(':');
    name.push_str(key);
    name
}

impl Limiter {
    /// Counters in the database on PostgreSQL (shared by instances), in memory otherwise.
    pub fn new(classes: Classes, store: Arc<dyn Store>, clock: Clock) -> Limiter {
        let store = match store.backend() {
            Backend::Postgres => Counters::Database { store, counts: Arc::new(Mutex::new(HashMap::new())) },
            Backend::Sqlite => {
                Counters::Memory { counts: Mutex::new(HashMap::new()), members: Mutex::new(HashMap::new()) }
            }
        };
        let longest = classes.0.values().map(|limit| limit.window.as_secs()).max().unwrap_or(0);
        Limiter { classes, store, clock, hits: AtomicU64::new(0), longest }
    }

    pub fn class(&self, name: &str) -> Option<Limit> {
        self.classes.0.get(name).copied()
    }

    /// Counts one request of `class` for `key`.
    pub async fn hit(&self, class: &str, key: &str) -> Result<Option<Decision>, Error> {
        self.hit_at(class, key, u64::try_from(self.clock.now_secs()).unwrap_or(0)).await
    }

    /// Counts one request at `now` (seconds since the epoch).
    async fn hit_at(&self, class: &str, key: &str, now: u64) -> Result<Option<Decision>, Error> {
        let Some(limit) = self.class(class) else { return Ok(None) };
        let window = limit.window.as_secs().max(1);
        let horizon = now.saturating_sub(self.longest);
        let start = now - now % window;
        let counter = counter_name(class, key);
        let prune = self.hits.fetch_add(1, Ordering::Relaxed).is_multiple_of(PRUNE_EVERY);
        let count = match &self.store {
            Counters::Memory { counts, .. } => {
                let mut counters =
                    counts.lock().map_err(|_| Error::internal("rate-limit counters poisoned"))?;
                if prune {
                    counters.retain(|_, (window_start, _)| *window_start > horizon);
                }
                let entry = counters.entry(counter).or_insert((start, 0));
                if entry.0 != start {
                    *entry = (start, 0);
                }
                entry.1 += 1;
                entry.1
            }
            Counters::Database { store, counts } => {
                if prune {
                    let store = Arc::clone(store);
                    let horizon = i64::try_from(horizon).unwrap_or(0);
                    tokio::spawn(async move {
                        let _ = store.rate_limit_prune(horizon.saturating_add(1)).await;
                    });
                }
                let (count, send) = {
                    let mut counters =
                        counts.lock().map_err(|_| Error::internal("rate-limit counters poisoned"))?;
                    if prune {
                        counters.retain(|_, shared| shared.window_start > horizon);
                    }
                    let shared = counters.entry(counter.clone()).or_insert_with(|| Shared::new(start));
                    if shared.window_start != start {
                        *shared = Shared::new(start);
                    }
                    shared.pending += 1;
                    let due =
                        shared.pending >= batch(limit.requests) || shared.sent_at.elapsed() >= SYNC_INTERVAL;
                    let send = due.then(|| {
                        let hits = std::mem::take(&mut shared.pending);
                        shared.sending += hits;
                        shared.sent_at = Instant::now();
                        hits
                    });
                    (shared.count(), send)
                };
                match send {
                    // In a task of its own, so that a request that goes away meanwhile does not
                    // lose the hits it was sending.
                    Some(hits) => {
                        tokio::spawn(send_hits(Arc::clone(store), Arc::clone(counts), counter, start, hits))
                            .await
                            .map_err(|e| Error::internal(format!("adding rate-limit hits: {e}")))??
                    }
                    None => count,
                }
            }
        };
        Ok(Some(Decision {
            allowed: count <= limit.requests,
            limit: limit.requests,
            remaining: limit.requests.saturating_sub(count),
            reset: start + window - now,
        }))
    }

    /// Whether `key` may still go on in `class`, a limit on distinct members (the usernames of
    /// failed logins): allowed while fewer than the class's number have been recorded in the
    /// current window.
    pub async fn members(&self, class: &str, key: &str) -> Result<Option<Decision>, Error> {
        self.members_at(class, key, None, u64::try_from(self.clock.now_secs()).unwrap_or(0)).await
    }

    /// Records `member` for `key` in `class` (once per window, however often it comes back).
    pub async fn add_member(&self, class: &str, key: &str, member: &str) -> Result<Option<Decision>, Error> {
        self.members_at(class, key, Some(member), u64::try_from(self.clock.now_secs()).unwrap_or(0)).await
    }

    async fn members_at(
        &self,
        class: &str,
        key: &str,
        member: Option<&str>,
        now: u64,
    ) -> Result<Option<Decision>, Error> {
        let Some(limit) = self.class(class) else { return Ok(None) };
        let window = limit.window.as_secs().max(1);
        let start = now - now % window;
        let counter = counter_name(class, key);
        let count = match &self.store {
            Counters::Memory { members, .. } => {
                let mut members =
                    members.lock().map_err(|_| Error::internal("rate-limit counters poisoned"))?;
                if self.hits.fetch_add(1, Ordering::Relaxed).is_multiple_of(PRUNE_EVERY) {
                    let horizon = now.saturating_sub(self.longest);
                    members.retain(|_, (window_start, _)| *window_start > horizon);
                }
                let entry = members.entry(counter).or_insert_with(|| (start, HashSet::new()));
                if entry.0 != start {
                    *entry = (start, HashSet::new());
                }
                if let Some(member) = member {
                    entry.1.insert(member.to_string());
                }
                entry.1.len() as u64
            }
            Counters::Database { store, .. } => {
                let window_start = i64::try_from(start).unwrap_or(0);
                match member {
                    Some(member) => store.rate_limit_member(&counter, window_start, member).await?,
                    None => store.rate_limit_members(&counter, window_start).await?,
                }
            }
        };
        Ok(Some(Decision {
            allowed: count < limit.requests,
            limit: limit.requests,
            remaining: limit.requests.saturating_sub(count),
            reset: start + window - now,
        }))
    }
}

/// Adds `hits` to the shared counter; this instance's view of it afterwards. Hits that could
/// not be added are counted as not sent yet.
async fn send_hits(
    store: Arc<dyn Store>,
    counts: Arc<Mutex<HashMap<String, Shared>>>,
    counter: String,
    start: u64,
    hits: u64,
) -> Result<u64, Error> {
    let added = store.rate_limit_add(&counter, i64::try_from(start).unwrap_or(0), hits).await;
    let mut counters = counts.lock().map_err(|_| Error::internal("rate-limit counters poisoned"))?;
    let shared = counters.get_mut(&counter).filter(|shared| shared.window_start == start);
    match (added, shared) {
        (Ok(total), Some(shared)) => {
            shared.sending -= hits;
            shared.known = shared.known.max(total);
            Ok(shared.count())
        }
        (Ok(total), None) => Ok(total),
        (Err(e), Some(shared)) => {
            shared.sending -= hits;
            shared.pending += hits;
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_is_written_under_both_header_names_replacing_older_ones() {
        let mut headers = http::HeaderMap::new();
        headers.insert("ratelimit-limit", http::HeaderValue::from_static("1"));
        Decision { allowed: true, limit: 100, remaining: 99, reset: 60 }.write_headers(&mut headers);
        for (name, value) in [("limit", "100"), ("remaining", "99"), ("reset", "60")] {
            for name in [format!("ratelimit-{name}"), format!("x-ratelimit-{name}")] {
                assert_eq!(headers.get_all(&name).iter().collect::<Vec<_>>(), [value], "{name}");
            }
        }
        assert_eq!(headers.len(), 6);
    }

    #[test]
    fn classes_parse_with_units_and_refuse_nonsense() {
        let classes: Classes =
            "auth=5/60s, default=120/1m,admin=10000/1h,burst=3/10,login-failures=20/15m".parse().unwrap();
        assert_eq!(classes.0["login-failures"].window, Duration::from_secs(900));
        assert_eq!(classes.0["auth"], Limit { requests: 5, window: Duration::from_secs(60) });
        assert_eq!(classes.0["default"].window, Duration::from_secs(60));
        assert_eq!(classes.0["admin"].window, Duration::from_secs(3600));
        assert_eq!(classes.0["burst"].window, Duration::from_secs(10));
        for bad in ["auth", "auth=5", "auth=x/60", "auth=5/60d", "auth=0/60", "auth=5/0s"] {
            assert!(bad.parse::<Classes>().is_err(), "{bad}");
        }
    }

    #[test]
    fn configured_classes_replace_the_defaults_they_name_only() {
        let classes = "auth=1/60s,burst=3/10s".parse::<Classes>().unwrap().with_defaults();
        assert_eq!(classes.0["auth"].requests, 1);
        assert_eq!(classes.0["burst"].requests, 3);
        assert_eq!(classes.0["login-failures"], Limit { requests: 20, window: Duration::from_secs(900) });
        assert_eq!(classes.0["default"].requests, 300);
    }

    #[tokio::test]
    async fn pruning_keeps_counters_of_long_windows_that_have_not_ended() {
        let classes: Classes = "long=3/2h,short=100/1s".parse().unwrap();
        let limiter = Limiter {
            classes,
            store: Counters::Memory {
                counts: Mutex::new(HashMap::new()),
                members: Mutex::new(HashMap::new()),
            },
            clock: Clock::system(),
            // The first hit prunes; so does the one after PRUNE_EVERY - 1 more.
            hits: AtomicU64::new(0),
            longest: 7200,
        };
        let start = 7200 * 1_000_000;
        for _ in 0..3 {
            assert!(limiter.hit_at("long", "k", start).await.unwrap().unwrap().allowed);
        }
        // An hour and more later, still inside the 2 h window, a pruning hit of another class...
        limiter.hits.store(PRUNE_EVERY, Ordering::Relaxed);
        limiter.hit_at("short", "k", start + 3700).await.unwrap();
        // ...must not have forgotten the long window's count.
        let decision = limiter.hit_at("long", "k", start + 3700).await.unwrap().unwrap();
        assert!(!decision.allowed);
        assert_eq!(decision.reset, 7200 - 3700);
        // Once that window has ended, pruning forgets it.
        limiter.hits.store(PRUNE_EVERY, Ordering::Relaxed);
        limiter.hit_at("short", "k", start + 7200 * 2).await.unwrap();
        let counters = match &limiter.store {
            Counters::Memory { counts, .. } => counts.lock().unwrap().len(),
            Counters::Database { .. } => unreachable!(),
        };
        assert_eq!(counters, 1, "only the short window just counted");
    }
}
