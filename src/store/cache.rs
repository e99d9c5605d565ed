//! The product cache: products read by id, kept in process so that a repeated
//! `GET /products/{id}` skips the database; and the same for the logins that authenticated
//! requests check (a user by id, while a login of theirs is alive).
//!
//! Correct under every writer, within a bound (what follows says it of products; logins have
//! their own generation, which every write moves on except the catalog's, which never touch an
//! account or a login, so that writing products does not make every request read its caller
//! again):
//!
//! - **This process's writes** invalidate it before they answer. Every write connection and
//!   write transaction the store hands out carries a `Written` guard, which moves the
//!   store's write `Generation` on when the write is done (committed, rolled back or dropped);
//!   an entry is served only while the generation it was read under is still the current one.
//!   The generation is read *before* the row is, so a row read concurrently with a write is
//!   tagged with the generation that write moves on: at worst it is not served, never served
//!   stale. Any write invalidates every entry (a write does not say which products it touched;
//!   orders change stock, categories change products' category): simple and obviously right,
//!   at the price of a cold cache after each write, which read-mostly catalogs can afford.
//! - **Other processes' writes** (the CLI, another instance on the same PostgreSQL database)
//!   are not seen: an entry is served for at most `ttl` after it was read. That is the
//!   documented staleness bound (`cache_ttl_ms`); `cache_entries = 0` switches the cache off.
//!
//! Bounded: at most `entries` products (quick_cache's S3-FIFO eviction), each a few hundred
//! bytes; at most `SESSIONS` (4,096) logins. An entry that can no longer be served (read under
//! an older generation, or more than `ttl` ago) is dropped by the store's sweep
//! (`Cache::drop_stale`, every `SWEEP_EVERY`, 1 s), not kept until eviction: after the first of
//! a run of writes, a full product cache is about 3 MB that no read can use. The sweep leaves
//! an entry one more period first (read less than `SWEEP_EVERY` ago, or past its `ttl` by less
//! than that), so an entry that readers still ask for is replaced by their next read, on their
//! own time: entries put together (a cold cache filled in a fraction of a second) expire
//! together, and a sweep that dropped them all at once held its thread for about a millisecond
//! (bench/README.md, "Where the GET tail comes from"). Nothing unservable stays longer than
//! two periods.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::{Id, Product, User};

/// Logins kept at most (the caller of an authenticated request: the user, by id and login).
pub(crate) const SESSIONS: usize = 4_096;

/// How often the store drops the entries its caches can no longer serve ([`Cache::drop_stale`]).
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The store's write generation: moved on by every write this process makes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Generation(Arc<AtomicU64>);

impl Generation {
    /// The current generation. Read before the row it tags.
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// A guard that moves the generation on when it is dropped, after the write it goes with.
    pub(crate) fn write(&self) -> Written {
        Written(self.0.clone())
    }
}

/// Moves the generation on when dropped: kept beside a write connection or transaction (as its
/// last field, so that the write is over first).
#[derive(Debug)]
pub(crate) struct Written(Arc<AtomicU64>);

impl Drop for Written {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Sizes of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Products kept at most; 0 switches the cache off.
    pub entries: usize,
    /// How long an entry is served at most: the bound on how stale a write by another process
    /// can leave a read.
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { entries: 10_000, ttl: Duration::from_secs(5) }
    }
}

#[derive(Clone)]
struct Entry<V> {
    generation: u64,
    read_at: Instant,
    value: Arc<V>,
}

/// Values by key, each tagged with the write generation and the time it was read under.
pub(crate) struct Cache<K, V> {
    map: Option<quick_cache::sync::Cache<K, Entry<V>>>,
    ttl: Duration,
}

/// Products by id.
pub(crate) type ProductCache = Cache<Id, Product>;

/// Users by id and login (the family of the login's refresh tokens), while the login is alive.
pub(crate) type SessionCache = Cache<(Id, String), User>;

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// At most `entries` values (0: off), each served for `ttl` at most.
    pub(crate) fn new(entries: usize, ttl: Duration) -> Cache<K, V> {
        let map = (entries > 0).then(|| quick_cache::sync::Cache::new(entries));
        Cache { map, ttl }
    }

    /// The value, if it was read under `generation` less than `ttl` ago.
    pub(crate) fn get(&self, key: &K, generation: u64) -> Option<V> {
        let entry = self.map.as_ref()?.get(key)?;
        if entry.generation == generation && entry.read_at.elapsed() < self.ttl {
            Some(V::clone(&entry.value))
        } else {
            None
        }
    }

    /// Keeps `value`, read under `generation` (taken before the read).
    pub(crate) fn put(&self, generation: u64, key: K, value: &V) {
        if let Some(map) = &self.map {
            let entry = Entry { generation, read_at: Instant::now(), value: Arc::new(value.clone()) };
            map.insert(key, entry);
        }
    }

    /// Drops the entries that [`Cache::get`] would no longer serve under `generation` (read
    /// under an older one, or `ttl` ago or more) and that no reader has replaced within `grace`:
    /// read `grace` ago or more, and past their `ttl` by `grace` or more. Their memory goes back
    /// to the allocator now, instead of when eviction reaches them (which, with no reads, is
    /// never).
    pub(crate) fn drop_stale(&self, generation: u64, grace: Duration) {
        if let Some(map) = &self.map {
            let now = Instant::now();
            map.retain(|_, entry| {
                let age = now.saturating_duration_since(entry.read_at);
                if entry.generation == generation {
                    age < self.ttl.saturating_add(grace)
                } else {
                    age < grace
                }
            });
        }
    }

    /// Entries held, servable or not.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |map| map.len())
    }
}

impl<K, V> std::fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("enabled", &self.map.is_some()).field("ttl", &self.ttl).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: Id, name: &str) -> Product {
        Product {
            id,
            name: name.into(),
            name_key: name.to_lowercase(),
            description: String::new(),
            price_cents: 100,
            stock: 1,
            category_id: 1,
            version: 1,
            created_at: 0,
            updated_at: 0,
            tags: vec![],
        }
    }

    #[test]
    fn a_write_invalidates_what_was_read_before_it() {
        let generation = Generation::default();
        let cache = ProductCache::new(10, Duration::from_secs(60));
        let before = generation.current();
        cache.put(before, 1, &product(1, "a"));
        assert_eq!(cache.get(&1, generation.current()).map(|p| p.name), Some("a".into()));
        drop(generation.write());
        assert!(cache.get(&1, generation.current()).is_none());
    }

    #[test]
    fn a_row_read_during_a_write_is_not_served_after_it() {
        let generation = Generation::default();
        let cache = ProductCache::new(10, Duration::from_secs(60));
        let write = generation.write();
        // The read takes the generation, the write commits, the read sees the new row or the
        // old one: either way it is tagged with the generation the write is about to leave.
        let tag = generation.current();
        drop(write);
        cache.put(tag, 1, &product(1, "maybe stale"));
        assert!(cache.get(&1, generation.current()).is_none());
    }

    #[test]
    fn the_sweep_drops_what_a_write_or_the_ttl_made_unservable_and_keeps_the_rest() {
        let generation = Generation::default();
        let cache = ProductCache::new(100, Duration::from_secs(60));
        let before = generation.current();
        for id in 1..=10 {
            cache.put(before, id, &product(id, "read before the write"));
        }
        drop(generation.write());
        let after = generation.current();
        cache.put(after, 11, &product(11, "read after it"));
        // Within the grace, a reader may still replace them: kept.
        cache.drop_stale(after, Duration::from_secs(60));
        assert_eq!(cache.len(), 11);
        cache.drop_stale(after, Duration::ZERO);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&11, after).is_some());

        // Past the ttl, an entry of the current generation goes too, once past the grace.
        let brief = ProductCache::new(100, Duration::from_millis(1));
        brief.put(after, 11, &product(11, "read after it"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(brief.get(&11, after).is_none(), "expired");
        brief.drop_stale(after, Duration::from_secs(60));
        assert_eq!(brief.len(), 1, "within the grace");
        brief.drop_stale(after, Duration::from_millis(2));
        assert_eq!(brief.len(), 0, "past the ttl and the grace");
        // Off, there is nothing to sweep.
        ProductCache::new(0, Duration::from_secs(1)).drop_stale(after, Duration::ZERO);
    }

    #[test]
    fn entries_expire_and_zero_entries_is_off() {
        let cache = ProductCache::new(10, Duration::ZERO);
        cache.put(0, 1, &product(1, "a"));
        assert!(cache.get(&1, 0).is_none());
        let off = ProductCache::new(0, Duration::from_secs(60));
        off.put(0, 1, &product(1, "a"));
        assert!(off.get(&1, 0).is_none());
    }
}
