//! The Rust client: progenitor, over the spec as progenitor can read it.
//!
//! Progenitor takes one media type per request body, and only JSON, octet streams, forms and
//! text. So the client is generated from a copy of the spec in which a body that also accepts
//! `multipart/form-data` keeps only its `application/json` form, and a raw body accepted as
//! `image/*` is sent as `application/octet-stream` (the server decides the type from the bytes
//! anyway). Responses in other media types (`image/png`, `text/csv`) come back as bytes.
//!
//! Credentials travel in the client's inner value (`crate::Credentials`, written by hand in the
//! client crate), which its `ClientHooks` implementation puts on every request.

use serde_json::Value;

use crate::names::VarNames;

/// The client's source file.
pub fn generate(document: &Value, varnames: &VarNames) -> Result<String, String> {
    let for_client = client_view(document);
    let spec: openapiv3::OpenAPI =
        serde_json::from_value(for_client).map_err(|e| format!("the client's view of the spec: {e}"))?;
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(quote::quote!(crate::Credentials))
        .with_hooks(progenitor::HooksMode::Expected);
    let tokens = progenitor::Generator::new(&settings)
        .generate_tokens(&spec)
        .map_err(|e| format!("progenitor could not generate the client: {e}"))?;
    crate::rust_file(tokens, varnames)
}

/// The spec as progenitor can read it (see the module's documentation).
pub fn client_view(document: &Value) -> Value {
    let mut document = document.clone();
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return document };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            if method == "parameters" {
                continue;
            }
            // A success response negotiated between JSON and another type: the client takes the
            // other type, as bytes (progenitor takes one media type per response).
            if let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) {
                for (_, response) in responses.iter_mut().filter(|(code, _)| code.starts_with('2')) {
                    if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
                        if content.len() > 1 && content.contains_key("application/json") {
                            content.remove("application/json");
                        }
                    }
                }
            }
            let Some(content) = operation.pointer_mut("/requestBody/content").and_then(Value::as_object_mut)
            else {
                continue;
            };
            if content.contains_key("application/json") {
                content.retain(|media, _| media == "application/json");
            } else if let Some((_, schema)) = content.iter().find(|(media, _)| media.starts_with("image/")) {
                let schema = schema.clone();
                content.clear();
                content.insert("application/octet-stream".into(), schema);
            }
        }
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_sends_json_for_forms_and_octet_streams_for_images() {
        let binary = serde_json::json!({"schema": {"type": "string", "format": "binary"}});
        let document = serde_json::json!({"paths": {"/a": {
            "post": {"requestBody": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/A"}},
                "multipart/form-data": {"schema": {"$ref": "#/components/schemas/AForm"}}
            }}},
            "put": {"requestBody": {"content": {"image/png": binary, "image/jpeg": binary}}}
        }}});
        let view = client_view(&document);
        let post = view.pointer("/paths/~1a/post/requestBody/content").unwrap();
        assert_eq!(post.as_object().unwrap().keys().collect::<Vec<_>>(), ["application/json"]);
        let put = view.pointer("/paths/~1a/put/requestBody/content").unwrap();
        assert_eq!(put.as_object().unwrap().keys().collect::<Vec<_>>(), ["application/octet-stream"]);
    }
}
