//! Conditional requests (RFC 9110 §13): entity tags, `If-None-Match`, `If-Match`,
//! `If-Modified-Since`.
//!
//! A stored resource's ETag derives from its row version (bumped by every write) and its
//! creation time, so it changes whenever the representation does, and never repeats for a
//! resource deleted and created again under the same id. `If-Match` is checked inside the
//! write's transaction, against the row it is about to change, so two writers cannot both win.

use chrono::{DateTime, Utc};

/// The strong ETag of a stored resource.
/// (`"{version}-{created_at:x}"`, written out: `format!` cost about 1,000 instructions a GET.)
pub fn entity_etag(version: crate::domain::Version) -> String {
    let mut etag = String::with_capacity(2 + 20 + 1 + 16);
    etag.push('"');
    etag.push_str(itoa::Buffer::new().format(version.version));
    etag.push('-');
    // `{:x}` of an i64 is the hex of its two's complement: of the same bits as a u64.
    let bits = version.created_at as u64;
    let digits = (u64::BITS - bits.leading_zeros()).div_ceil(4).max(1);
    for shift in (0..digits).rev() {
        etag.push(char::from(b"0123456789abcdef"[((bits >> (shift * 4)) & 0xf) as usize]));
    }
    etag.push('"');
    etag
}

/// A digest of a representation's bytes, for entity tags of what has no stored version (a
/// page of a list, a document). XXH3-128: the same in every process and every release, so
/// instances behind one load balancer agree.
pub fn digest(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// The precondition of a write from its `If-Match` header (none: always holds), checked by the
/// store against the row it is about to change.
pub fn precondition(header: Option<&str>) -> impl Fn(crate::domain::Version) -> bool + Send + Sync + '_ {
    move |current| header.is_none_or(|header| if_match(header, &entity_etag(current)))
}

/// Whether `If-Match` holds for a resource whose current ETag is `etag`: `*`, or a list with
/// `etag` in it. Weak tags never match (`If-Match` uses strong comparison).
pub fn if_match(header: &str, etag: &str) -> bool {
    let header = header.trim();
    header == "*" || entity_tags(header).any(|tag| !tag.starts_with("W/") && tag == etag)
}

/// Whether `If-None-Match` names `etag` (weak comparison; `*` matches anything).
pub fn none_match(header: &str, etag: &str) -> bool {
    let header = header.trim();
    if header == "*" {
        return true;
    }
    let bare = |tag: &str| tag.strip_prefix("W/").unwrap_or(tag).to_string();
    let wanted = bare(etag);
    entity_tags(header).any(|tag| bare(tag) == wanted)
}

/// Whether a resource last modified at `modified` is unchanged since `If-Modified-Since`.
pub fn not_modified_since(header: &str, modified: DateTime<Utc>) -> bool {
    match httpdate::parse_http_date(header.trim()) {
        // HTTP dates have whole seconds; so must the comparison.
        Ok(since) => {
            let since: DateTime<Utc> = since.into();
            modified.timestamp() <= since.timestamp()
        }
        Err(_) => false,
    }
}

/// An HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(at: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(at.into())
}

/// The entity tags of a comma-separated list, commas inside quotes included.
fn entity_tags(header: &str) -> impl Iterator<Item = &str> {
    let mut tags = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in header.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                tags.push(header[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    tags.push(header[start..].trim());
    tags.into_iter().filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).unwrap()
    }

    fn version(version: i64, created_at: i64) -> crate::domain::Version {
        crate::domain::Version { version, created_at }
    }

    #[test]
    fn entity_tags_are_the_version_and_the_creation_time_in_hex() {
        use crate::domain::Version;
        for (version, created_at) in [
            (0, 0),
            (1, 1),
            (7, 15),
            (12, 16),
            (i64::MAX, i64::MAX),
            (3, -1),
            (-4, i64::MIN),
            (1, 1_796_068_435_123_456),
        ] {
            assert_eq!(
                entity_etag(Version { version, created_at }),
                format!("\"{version}-{created_at:x}\""),
                "{version} {created_at}"
            );
        }
    }

    #[test]
    fn digests_are_stable_across_processes_and_releases() {
        // A fixed value: a change of algorithm would change every ETag and cursor in service.
        assert_eq!(digest(b"storefront"), digest(b"storefront"));
        assert_eq!(digest(b""), "99aa06d3014798d86001c324468d497f");
        assert_ne!(digest(b"a"), digest(b"b"));
    }

    #[test]
    fn if_none_match_uses_weak_comparison_over_a_list() {
        let etag = entity_etag(version(3, 1_700_000_000_000_000));
        assert!(none_match(&etag, &etag));
        assert!(none_match(&format!("\"x\", W/{etag}"), &etag));
        assert!(none_match("*", &etag));
        assert!(!none_match("\"3-0\"", &etag));
        assert!(!none_match("", &etag));
    }

    #[test]
    fn if_match_uses_strong_comparison_over_a_list() {
        let etag = entity_etag(version(7, 1_700_000_000_123_456));
        assert!(if_match(&etag, &etag));
        assert!(if_match(&format!("\"a,b\", {etag}"), &etag));
        assert!(if_match("*", &etag));
        assert!(!if_match(&format!("W/{etag}"), &etag));
        assert!(!if_match("\"7-0\"", &etag));
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let modified = at(1_700_000_000_900_000);
        let same_second = http_date(at(1_700_000_000_000_000));
        assert!(not_modified_since(&same_second, modified));
        assert!(!not_modified_since(&http_date(at(1_699_999_999_000_000)), modified));
        assert!(!not_modified_since("yesterday", modified));
    }
}
