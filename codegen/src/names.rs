//! Enum variant names from the spec (`x-enum-varnames`), for every generated client.
//!
//! typify names a variant after its value, so `-price` becomes `Xprice` and `created_at`
//! `CreatedXat`; other generators do worse (`VALUE_5`). `x-enum-varnames` (the extension that
//! openapi-generator and others read) lists a name per value, in order; the generator checks it
//! and renames typify's variants, in the enum and wherever the generated code names them.

use std::collections::BTreeMap;

use heck::ToPascalCase;
use serde_json::Value;
use syn::visit_mut::VisitMut;

/// For each enum with `x-enum-varnames`: its values' variant names (value → name).
pub type VarNames = BTreeMap<String, BTreeMap<String, String>>;

/// Reads and checks `x-enum-varnames` of every component schema.
pub fn enum_varnames(document: &Value) -> Result<VarNames, String> {
    let mut out = VarNames::new();
    for (name, schema) in crate::schema::components(document) {
        let Some(names) = schema.get("x-enum-varnames") else { continue };
        let context = |e: &str| format!("components.schemas.{name}.x-enum-varnames: {e}");
        let values =
            schema.get("enum").and_then(Value::as_array).ok_or_else(|| context("the schema has no enum"))?;
        let names: Vec<String> =
            serde_json::from_value(names.clone()).map_err(|_| context("must be a list of names"))?;
        if names.len() != values.len() {
            return Err(context(&format!("{} names for {} values", names.len(), values.len())));
        }
        let mut map = BTreeMap::new();
        for (value, variant) in values.iter().zip(&names) {
            let value = value.as_str().ok_or_else(|| context("only string enums can be named"))?;
            if variant.to_pascal_case() != *variant || syn::parse_str::<syn::Ident>(variant).is_err() {
                return Err(context(&format!("{variant:?} is not a PascalCase identifier")));
            }
            if map.values().any(|v| v == variant) {
                return Err(context(&format!("{variant:?} is used twice")));
            }
            map.insert(value.to_string(), variant.clone());
        }
        out.insert(name.clone(), map);
    }
    Ok(out)
}

/// Renames the variants of the enums in `varnames`, and every path to them.
pub fn rename_variants(file: &mut syn::File, varnames: &VarNames) {
    if varnames.is_empty() {
        return;
    }
    // Old variant ident → new, per enum, from the serde renames typify wrote.
    let mut renames: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for item in &file.items {
        collect(item, varnames, &mut renames);
    }
    Renamer { renames: &renames, self_type: None }.visit_file_mut(file);
}

fn collect(item: &syn::Item, varnames: &VarNames, out: &mut BTreeMap<String, BTreeMap<String, String>>) {
    match item {
        syn::Item::Enum(item) => {
            let Some(names) = varnames.get(&item.ident.to_string()) else { return };
            let map = out.entry(item.ident.to_string()).or_default();
            for variant in &item.variants {
                let value = serde_rename(&variant.attrs).unwrap_or_else(|| variant.ident.to_string());
                if let Some(new) = names.get(&value) {
                    map.insert(variant.ident.to_string(), new.clone());
                }
            }
        }
        syn::Item::Mod(module) => {
            for item in module.content.iter().flat_map(|(_, items)| items) {
                collect(item, varnames, out);
            }
        }
        _ => {}
    }
}

/// The value of `#[serde(rename = "…")]`, if any.
fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                found = Some(value.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    found
}

struct Renamer<'a> {
    renames: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// The enum whose `impl` block is being visited (where `Self::X` names its variants).
    self_type: Option<String>,
}

impl VisitMut for Renamer<'_> {
    fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
        if let Some(map) = self.renames.get(&item.ident.to_string()) {
            for variant in &mut item.variants {
                if let Some(new) = map.get(&variant.ident.to_string()) {
                    variant.ident = syn::Ident::new(new, variant.ident.span());
                }
            }
        }
        syn::visit_mut::visit_item_enum_mut(self, item);
    }

    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let outer = self.self_type.take();
        if let syn::Type::Path(path) = &*item.self_ty {
            let name = path.path.segments.last().map(|s| s.ident.to_string());
            self.self_type = name.filter(|n| self.renames.contains_key(n));
        }
        syn::visit_mut::visit_item_impl_mut(self, item);
        self.self_type = outer;
    }

    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        let count = path.segments.len();
        if count >= 2 {
            let owner = path.segments[count - 2].ident.to_string();
            let owner = if owner == "Self" { self.self_type.clone() } else { Some(owner) };
            if let Some(map) = owner.and_then(|o| self.renames.get(&o)) {
                let last = &mut path.segments[count - 1].ident;
                if let Some(new) = map.get(&last.to_string()) {
                    *last = syn::Ident::new(new, last.span());
                }
            }
        }
        syn::visit_mut::visit_path_mut(self, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(schema: Value) -> Result<VarNames, String> {
        enum_varnames(&serde_json::json!({"components": {"schemas": {"Sort": schema}}}))
    }

    #[test]
    fn varnames_must_name_every_value_once_in_pascal_case() {
        let ok = names(
            serde_json::json!({"type": "string", "enum": ["a", "-a"], "x-enum-varnames": ["Asc", "Desc"]}),
        );
        assert_eq!(ok.unwrap()["Sort"]["-a"], "Desc");
        let short =
            names(serde_json::json!({"type": "string", "enum": ["a", "-a"], "x-enum-varnames": ["Asc"]}));
        assert!(short.unwrap_err().contains("1 names for 2 values"));
        let bad =
            names(serde_json::json!({"type": "string", "enum": ["a"], "x-enum-varnames": ["not_pascal"]}));
        assert!(bad.unwrap_err().contains("not a PascalCase identifier"));
        let twice =
            names(serde_json::json!({"type": "string", "enum": ["a", "b"], "x-enum-varnames": ["A", "A"]}));
        assert!(twice.unwrap_err().contains("used twice"));
    }

    #[test]
    fn variants_are_renamed_with_every_path_to_them() {
        let mut file: syn::File = syn::parse_quote! {
            pub enum Sort {
                #[serde(rename = "-price")]
                Xprice,
                #[serde(rename = "price")]
                Price,
            }
            impl Sort {
                fn text(&self) -> &str { match self { Self::Xprice => "-price", Sort::Price => "price" } }
            }
            fn default_sort() -> Sort { Sort::Xprice }
        };
        let varnames = names(serde_json::json!({
            "type": "string", "enum": ["price", "-price"], "x-enum-varnames": ["PriceAsc", "PriceDesc"]
        }))
        .unwrap();
        rename_variants(&mut file, &varnames);
        let text = prettyplease::unparse(&file);
        assert!(text.contains("PriceDesc,") && text.contains("PriceAsc,"), "{text}");
        assert!(text.contains("Self::PriceDesc => \"-price\""), "{text}");
        assert!(text.contains("Sort::PriceAsc => \"price\""), "{text}");
        assert!(text.contains("Sort::PriceDesc\n"), "{text}");
        assert!(!text.contains("Xprice"), "{text}");
    }
}
