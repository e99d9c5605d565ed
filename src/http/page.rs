//! Pages of lists on the wire: `offset` or an opaque keyset `cursor`; `links` in the body and
//! the same links in an RFC 8288 `Link` header.
//!
//! A cursor is base64url JSON naming a direction (after/before), the position of a row (its
//! sort-key value and id) and a fingerprint of the sort and filters it was issued for, so that
//! it cannot silently be reused with another query. Fingerprints are digests of the query's
//! canonical JSON: every instance of the server computes the same one. Links are rebuilt from
//! the parsed parameters, never echoed from the raw request.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::api::types;
use crate::domain::{KeyValue, Page, Start};
use crate::error::ApiError;

/// The longest text sort key a list issues, in characters: a product's name key (NFKC, then
/// case folding: [`crate::names::key`]) of a name of the spec's 150 characters, each of which
/// folds to at most 18 (U+FDFA, the longest NFKC expansion there is, folds to 18 characters and
/// 33 bytes).
const MAX_KEY_CHARS: usize = 150 * 18;

/// Where a row sits in a sorted list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyValue>,
    #[serde(rename = "i")]
    pub id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Direction {
    #[serde(rename = "a")]
    After,
    #[serde(rename = "b")]
    Before,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorData {
    #[serde(rename = "d")]
    direction: Direction,
    #[serde(flatten)]
    position: Position,
    #[serde(rename = "f")]
    fingerprint: String,
}

/// Identifies a list query (its sort and filters) inside its cursors.
pub fn fingerprint(query: &impl Serialize) -> String {
    let json = serde_json::to_vec(query).unwrap_or_default();
    crate::http::conditional::digest(&json)[..16].to_string()
}

/// Where the requested page starts: `offset`, or the position in `cursor`.
pub fn start(
    offset: Option<i64>,
    cursor: Option<&str>,
    fingerprint: &str,
) -> Result<Start<Position>, ApiError> {
    match (offset, cursor) {
        (Some(_), Some(_)) => Err(invalid("cursor", "cannot be combined with offset")),
        (offset, None) => Ok(Start::Offset(offset.unwrap_or(0))),
        (None, Some(cursor)) => {
            let data: CursorData = URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|json| serde_json::from_slice(&json).ok())
                .ok_or_else(|| invalid("cursor", "is not a cursor this list issued"))?;
            if data.fingerprint != fingerprint {
                return Err(invalid("cursor", "was issued for another sort or other filters"));
            }
            // A cursor is opaque but not signed: what it carries reaches a query, so it must
            // look like what the list issues (PostgreSQL refuses NUL in text, for one).
            if let Some(KeyValue::Text(key)) = &data.position.key {
                if key.chars().any(char::is_control) || key.chars().count() > MAX_KEY_CHARS {
                    return Err(invalid("cursor", "is not a cursor this list issued"));
                }
            }
            Ok(match data.direction {
                Direction::After => Start::After(data.position),
                Direction::Before => Start::Before(data.position),
            })
        }
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::validation(vec![types::FieldError { field: field.into(), message: message.into() }])
}

/// The cursors and links of a page.
pub struct PageLinks {
    pub next_cursor: Option<types::Cursor>,
    pub prev_cursor: Option<types::Cursor>,
    pub links: types::PageLinks,
    /// The same links as an RFC 8288 `Link` header.
    pub header: String,
}

/// Builds the cursors and links of a page of the list at `path` that `query` (the operation's
/// parsed query parameters) asked for; `position` says where a row sits in the list's order.
pub fn links<Q: Serialize, R>(
    path: &str,
    query: &Q,
    limit: i64,
    start: &Start<Position>,
    page: &Page<R>,
    position: impl Fn(&R) -> Position,
    fingerprint: &str,
) -> PageLinks {
    let (from_cursor, offset) = match start {
        Start::Offset(offset) => (None, Some(*offset)),
        Start::After(position) | Start::Before(position) => (Some(position.clone()), None),
    };
    // An empty page past either end still has a neighbour: the rows beyond its cursor.
    let last = page.items.last().map(&position).or_else(|| from_cursor.clone());
    let first = page.items.first().map(&position).or_else(|| from_cursor.clone());
    let next_cursor =
        page.more_after.then_some(last).flatten().and_then(|p| encode(Direction::After, p, fingerprint));
    let prev_cursor =
        page.more_before.then_some(first).flatten().and_then(|p| encode(Direction::Before, p, fingerprint));

    let base = PageUrl::new(path, query);
    let url = |extra: Option<(&str, String)>| base.with(extra);
    let this = match (start, offset) {
        (Start::After(p), _) => {
            encode(Direction::After, p.clone(), fingerprint).map(|c| ("cursor", c.to_string()))
        }
        (Start::Before(p), _) => {
            encode(Direction::Before, p.clone(), fingerprint).map(|c| ("cursor", c.to_string()))
        }
        (Start::Offset(_), Some(offset)) if offset > 0 => Some(("offset", offset.to_string())),
        _ => None,
    };
    let next = match (offset, &next_cursor) {
        (Some(offset), _) if page.more_after => Some(url(Some(("offset", (offset + limit).to_string())))),
        (None, Some(cursor)) => Some(url(Some(("cursor", cursor.to_string())))),
        _ => None,
    };
    let prev = match (offset, &prev_cursor) {
        (Some(offset), _) if offset > 0 => Some(url(Some(("offset", (offset - limit).max(0).to_string())))),
        (None, Some(cursor)) => Some(url(Some(("cursor", cursor.to_string())))),
        _ => None,
    };
    let first_url = url(None);
    let mut header = format!("<{first_url}>; rel=\"first\"");
    if let Some(next) = &next {
        header.push_str(&format!(", <{next}>; rel=\"next\""));
    }
    if let Some(prev) = &prev {
        header.push_str(&format!(", <{prev}>; rel=\"prev\""));
    }
    PageLinks {
        next_cursor,
        prev_cursor,
        links: types::PageLinks { self_: url(this), first: first_url, next, prev },
        header,
    }
}

/// The start of a page of a list in id order (categories, tags, users), and the function that
/// builds its links once the page is read.
pub fn by_id(
    list: &'static str,
    offset: Option<i64>,
    cursor: Option<&str>,
) -> Result<(Start<i64>, Start<Position>, String), ApiError> {
    let fingerprint = fingerprint(&list);
    let start = start(offset, cursor, &fingerprint)?;
    let ids = start.try_map(|p| Ok::<_, ApiError>(p.id))?;
    Ok((ids, start, fingerprint))
}

/// A cursor (base64url always matches the spec's `Cursor` pattern).
pub(crate) fn encode(direction: Direction, position: Position, fingerprint: &str) -> Option<types::Cursor> {
    let data = CursorData { direction, position, fingerprint: fingerprint.to_string() };
    Some(types::Cursor::from(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).ok()?)))
}

/// `path?…` with the list's query parameters but `offset` and `cursor`, form-encoded once for
/// all of a page's links (each then adds its own `offset` or `cursor`).
struct PageUrl {
    url: String,
    /// Where the query starts (after the `?`).
    query: usize,
}

impl PageUrl {
    fn new<Q: Serialize>(path: &str, query: &Q) -> PageUrl {
        let mut url = String::with_capacity(path.len() + 64);
        url.push_str(path);
        url.push('?');
        let start = url.len();
        let mut serializer = form_urlencoded::Serializer::for_suffix(url, start);
        if let Ok(serde_json::Value::Object(params)) = serde_json::to_value(query) {
            for (name, value) in params {
                if name == "offset" || name == "cursor" {
                    continue;
                }
                match value {
                    serde_json::Value::String(s) => serializer.append_pair(&name, &s),
                    serde_json::Value::Null => &mut serializer,
                    other => serializer.append_pair(&name, &other.to_string()),
                };
            }
        }
        PageUrl { url: serializer.finish(), query: start }
    }

    /// The URL, with `extra` (`offset` or `cursor`) last.
    fn with(&self, extra: Option<(&str, String)>) -> String {
        let Some((name, value)) = extra else { return self.url.clone() };
        let mut url = String::with_capacity(self.url.len() + name.len() + value.len() + 2);
        url.push_str(&self.url);
        form_urlencoded::Serializer::for_suffix(url, self.query).append_pair(name, &value).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_queries() {
        let position = Position { key: Some(KeyValue::Text("tea".into())), id: 7 };
        let cursor = encode(Direction::Before, position.clone(), "abc").unwrap();
        match start(None, Some(&cursor), "abc").unwrap() {
            Start::Before(p) => assert_eq!(p, position),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(start(None, Some(&cursor), "other").unwrap_err().status(), 422);
        assert_eq!(start(None, Some("bm9wZQ"), "abc").unwrap_err().status(), 422);
        assert_eq!(start(Some(1), Some(&cursor), "abc").unwrap_err().status(), 422);
        let forged =
            encode(Direction::After, Position { key: Some(KeyValue::Text("a\0b".into())), id: 1 }, "abc")
                .unwrap();
        assert_eq!(start(None, Some(&forged), "abc").unwrap_err().status(), 422);
    }

    /// A constraint of the spec's schema `name`, from the spec the server serves.
    fn max_length(name: &str) -> usize {
        let spec: serde_json::Value = serde_json::from_str(crate::api::OPENAPI_JSON).unwrap();
        spec["components"]["schemas"][name]["maxLength"].as_u64().unwrap() as usize
    }

    #[test]
    fn the_longest_cursor_a_list_issues_fits_the_spec_and_is_accepted_back() {
        // The longest name key: every character of the longest name folds to the most.
        let widest = '\u{fdfa}';
        assert_eq!(crate::names::key(&widest.to_string()).chars().count(), 18);
        assert_eq!(crate::names::key(&widest.to_string()).len(), 33);
        let name = widest.to_string().repeat(max_length("ProductName"));
        let key = crate::names::key(&name);
        assert_eq!(key.chars().count(), MAX_KEY_CHARS);
        let position = Position { key: Some(KeyValue::Text(key)), id: i64::MIN };
        let fingerprint = fingerprint(&"products");
        for direction in [Direction::After, Direction::Before] {
            let cursor = encode(direction, position.clone(), &fingerprint).unwrap();
            assert!(cursor.len() <= max_length("Cursor"), "a cursor of {} characters", cursor.len());
            assert!(start(None, Some(&cursor), &fingerprint).is_ok());
        }
        // A 100-character name of 4-byte characters (an earlier limit of 512 refused it).
        let emoji = crate::names::key(&"\u{1f600}".repeat(100));
        let cursor =
            encode(Direction::After, Position { key: Some(KeyValue::Text(emoji)), id: 1 }, &fingerprint)
                .unwrap();
        assert!(cursor.len() > 512 && cursor.len() <= max_length("Cursor"));
    }

    #[test]
    fn fingerprints_are_fixed_digests_of_the_query() {
        assert_eq!(fingerprint(&"categories"), fingerprint(&"categories"));
        assert_ne!(fingerprint(&"categories"), fingerprint(&"tags"));
        assert_eq!(fingerprint(&"categories").len(), 16);
    }

    #[test]
    fn page_urls_keep_filters_and_drop_pagination() {
        let query =
            serde_json::json!({"limit": 2, "offset": 4, "cursor": null, "q": "a b&c", "in_stock": true});
        assert_eq!(
            PageUrl::new("/p", &query).with(Some(("offset", "6".into()))),
            "/p?in_stock=true&limit=2&q=a+b%26c&offset=6"
        );
        let bare = PageUrl::new("/p", &serde_json::json!({"offset": 4}));
        assert_eq!(bare.with(None), "/p?");
        assert_eq!(bare.with(Some(("cursor", "a=b".into()))), "/p?cursor=a%3Db");
    }

    #[test]
    fn the_self_link_is_rebuilt_from_the_parsed_parameters() {
        let query = serde_json::json!({"limit": 2, "offset": 4});
        let page: Page<i64> =
            Page { items: vec![5, 6], total: Some(10), more_after: true, more_before: true };
        let links =
            links("/p", &query, 2, &Start::Offset(4), &page, |id| Position { key: None, id: *id }, "f");
        assert_eq!(links.links.self_, "/p?limit=2&offset=4");
        assert_eq!(links.links.next.as_deref(), Some("/p?limit=2&offset=6"));
        assert_eq!(links.links.prev.as_deref(), Some("/p?limit=2&offset=2"));
    }
}
