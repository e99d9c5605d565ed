//! Sparse fieldsets: `fields=id,name,price` returns only those members of a resource (of each
//! item, on a page), for every operation that declares the spec's `Fields` query parameter.
//!
//! The generated glue checks the request's fieldset against the members the generator read
//! from the response's schema ([`Members`], in the operation's metadata) and puts it in the
//! request's scope; the reply takes it from there: [`Reply::conditional`] derives the
//! fieldset's own strong ETag (and decides 304 by it), and the serialized body keeps only the
//! members named. Handlers do not see it: they serve the whole resource, as without `fields`.
//! Without `fields` nothing of this runs but one look into the scope.
//!
//! [`Reply::conditional`]: crate::http::reply::Reply::conditional

use std::ops::Deref;

use serde_json::Value;

use crate::edge::scope;
use crate::error::{ApiError, Error};
use crate::http::policy::OperationMeta;

/// The members a `fields` parameter may name (generated from the spec).
#[derive(Debug)]
pub struct Members {
    /// The top-level properties of the resource's schema, sorted.
    pub names: &'static [&'static str],
    /// Whether the resource is each element of the body's `items` (a page).
    pub in_items: bool,
}

/// A request's fieldset, normalised: the members named, once each, in the schema's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fieldset {
    members: Vec<&'static str>,
    in_items: bool,
}

/// Checks the request's `fields` against the operation's members (422 naming the unknown ones)
/// and makes it the fieldset of the request's answer.
pub fn select<T>(op: &'static OperationMeta, fields: &Option<T>) -> Result<(), ApiError>
where
    T: Deref,
    T::Target: AsRef<str>,
{
    let (Some(text), Some(members)) = (fields.as_deref().map(AsRef::as_ref), &op.fields) else {
        return Ok(());
    };
    let fieldset = Fieldset::parse(members, text)?;
    scope::with(|scope| scope.set_fieldset(fieldset));
    Ok(())
}

/// The strong ETag of the representation the request's fieldset selects from the resource whose
/// full representation has `etag`; `None` without a fieldset.
pub fn etag_of(etag: &str) -> Option<String> {
    scope::with(|scope| scope.fieldset(|fieldset| fieldset.etag(etag))).flatten()
}

/// The request's fieldset, taken for the body it shapes.
pub fn take() -> Option<Fieldset> {
    scope::with(|scope| scope.take_fieldset()).flatten()
}

impl Fieldset {
    /// A comma-separated list of members (the spec's pattern already refused empty ones).
    pub fn parse(members: &Members, text: &str) -> Result<Fieldset, Error> {
        let mut named = vec![false; members.names.len()];
        let mut unknown = Vec::new();
        for name in text.split(',') {
            match members.names.iter().position(|member| *member == name) {
                Some(i) => named[i] = true,
                None if name.is_empty() => return Err(Error::invalid("fields", "names an empty member")),
                None if !unknown.contains(&name) => unknown.push(name),
                None => {}
            }
        }
        if !unknown.is_empty() {
            let list = |names: &[&str]| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            let plural = if unknown.len() == 1 { "" } else { "s" };
            return Err(Error::invalid(
                "fields",
                format!("unknown member{plural} {}; the members are {}", list(&unknown), list(members.names)),
            ));
        }
        Ok(Fieldset {
            members: members.names.iter().zip(named).filter(|(_, named)| *named).map(|(m, _)| *m).collect(),
            in_items: members.in_items,
        })
    }

    /// A strong ETag distinct for each fieldset of one version of a resource:
    /// `"3-18b2…"` → `"3-18b2…;fields=id,name"`.
    pub fn etag(&self, etag: &str) -> String {
        let opaque = etag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(etag);
        format!("\"{opaque};fields={}\"", self.members.join(","))
    }

    /// Keeps only the fieldset's members of the resource (of every item, on a page).
    pub fn apply(&self, body: &mut Value) {
        let keep = |resource: &mut Value| {
            if let Value::Object(map) = resource {
                map.retain(|name, _| self.members.contains(&name.as_str()));
            }
        };
        if self.in_items {
            if let Some(Value::Array(items)) = body.get_mut("items") {
                items.iter_mut().for_each(keep);
            }
        } else {
            keep(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCT: Members = Members { names: &["id", "name", "price", "tags"], in_items: false };

    #[test]
    fn a_fieldset_is_normalised_to_the_schemas_order_and_named_once() {
        let a = Fieldset::parse(&PRODUCT, "price,id,price").unwrap();
        let b = Fieldset::parse(&PRODUCT, "id,price").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.etag("\"3-abc\""), "\"3-abc;fields=id,price\"");
    }

    #[test]
    fn unknown_members_are_named_once_each() {
        let Err(Error::Invalid(errors)) = Fieldset::parse(&PRODUCT, "id,colour,size,colour") else {
            panic!("accepted unknown members");
        };
        assert_eq!(errors[0].field, "fields");
        assert!(errors[0].message.starts_with("unknown members `colour`, `size`;"), "{}", errors[0].message);
        assert!(Fieldset::parse(&PRODUCT, "id,,name").is_err());
    }

    #[test]
    fn a_page_keeps_its_envelope_and_narrows_its_items() {
        let page = Fieldset::parse(&Members { in_items: true, ..PRODUCT }, "name").unwrap();
        let mut body = serde_json::json!({"items": [{"id": 1, "name": "a"}], "total": 1});
        page.apply(&mut body);
        assert_eq!(body, serde_json::json!({"items": [{"name": "a"}], "total": 1}));
    }
}
