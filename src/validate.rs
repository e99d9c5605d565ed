//! JSON Schema validation, against the schemas the generator extracts from the spec
//! (`schemas.json`, one draft-4 document per request body and parameter set, by name).
//!
//! The spec's constraints (lengths, patterns, bounds, enums, required fields,
//! `additionalProperties: false`) are enforced here, once, for every operation — and for the
//! application layer's callers that do not come through HTTP (the CLI's `create-admin` checks a
//! password against the spec's own rule). A violation becomes one [`FieldError`] per offending
//! field. Messages never echo the value that was sent (it may be a password).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::api::types::FieldError;

pub use jsonschema::Validator;

/// Compiles a draft-4 schema (the dialect OpenAPI 3.0 follows).
pub fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::draft4::options().should_validate_formats(true).build(schema).map_err(|e| e.to_string())
}

/// Every generated schema, and its validator, by name.
type Compiled = BTreeMap<String, (Value, Validator)>;

/// Every generated schema, compiled once.
fn all() -> &'static Result<Compiled, String> {
    static ALL: OnceLock<Result<Compiled, String>> = OnceLock::new();
    ALL.get_or_init(|| {
        let schemas: BTreeMap<String, Value> = serde_json::from_str(crate::api::SCHEMAS_JSON)
            .map_err(|e| format!("the generated schemas.json does not parse: {e}"))?;
        schemas
            .into_iter()
            .map(|(name, schema)| {
                let validator = compile(&schema)
                    .map_err(|e| format!("the generated schema {name} does not compile: {e}"))?;
                Ok((name, (schema, validator)))
            })
            .collect()
    })
}

/// A generated schema, by name.
pub fn schema(name: &str) -> Option<&'static Value> {
    all().as_ref().ok()?.get(name).map(|(schema, _)| schema)
}

/// Compiles every generated schema; the server refuses to start if one does not compile.
pub fn check_all() -> Result<(), String> {
    all().as_ref().map(|_| ()).map_err(Clone::clone)
}

/// The validator of a generated schema, by name (`Registration`, `ProductListQuery`).
///
/// # Panics
///
/// When the name is not one the generator wrote, or the schemas do not compile — both bugs that
/// [`check_all`] catches when the server starts.
pub fn validator(name: &str) -> &'static Validator {
    match all() {
        Ok(validators) => {
            &validators.get(name).unwrap_or_else(|| panic!("no generated schema named {name}")).1
        }
        Err(e) => panic!("{e}"),
    }
}

/// Every violation of `validator` by `instance`, as field errors. `prefix` names the root
/// (empty for a body, whose fields are named by their path).
pub fn check(validator: &Validator, instance: &Value) -> Vec<FieldError> {
    // The usual case, a valid instance, answered without building the error iterator (boxed,
    // and every keyword's check collected): `is_valid` stops at the first failure.
    if validator.is_valid(instance) {
        return Vec::new();
    }
    let mut errors: Vec<FieldError> = Vec::new();
    for error in validator.iter_errors(instance) {
        let path: Vec<String> = error.instance_path().iter().map(|segment| segment.to_string()).collect();
        let at = |last: &str| {
            let mut full = path.clone();
            full.push(last.to_string());
            full.join(".")
        };
        match error.kind() {
            ValidationErrorKind::Required { property } => {
                errors.push(FieldError {
                    field: at(property.as_str().unwrap_or_default()),
                    message: "is required".into(),
                });
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                errors.extend(unexpected.iter().map(|name| FieldError {
                    field: at(name),
                    message: "is not a known field (it cannot be set)".into(),
                }));
            }
            kind => {
                let field = if path.is_empty() { "body".to_string() } else { path.join(".") };
                errors.push(FieldError { field, message: describe(kind) });
            }
        }
    }
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors.dedup_by(|a, b| a.field == b.field && a.message == b.message);
    errors
}

/// A short message for a violated keyword, without the offending value.
fn describe(kind: &ValidationErrorKind) -> String {
    match kind {
        ValidationErrorKind::Type { kind } => format!("must be of type {}", type_names(kind)),
        ValidationErrorKind::MinLength { limit } => match limit {
            1 => "must not be empty".to_string(),
            n => format!("must be at least {n} characters long"),
        },
        ValidationErrorKind::MaxLength { limit } => format!("must be at most {limit} characters long"),
        ValidationErrorKind::Pattern { pattern } => format!("must match the pattern {pattern}"),
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("must be greater than {limit}"),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        ValidationErrorKind::Enum { options } => format!("must be one of {options}"),
        ValidationErrorKind::Constant { expected_value } => format!("must be {expected_value}"),
        ValidationErrorKind::MinItems { limit } => format!("must have at least {limit} items"),
        ValidationErrorKind::MaxItems { limit } => format!("must have at most {limit} items"),
        ValidationErrorKind::UniqueItems => "must not contain duplicates".to_string(),
        ValidationErrorKind::MinProperties { limit } => {
            format!("must have at least {limit} field{}", if *limit == 1 { "" } else { "s" })
        }
        ValidationErrorKind::MaxProperties { limit } => format!("must have at most {limit} fields"),
        ValidationErrorKind::Format { format } => format!("must be a valid {format}"),
        ValidationErrorKind::MultipleOf { multiple_of } => format!("must be a multiple of {multiple_of}"),
        ValidationErrorKind::FalseSchema => "is not allowed".to_string(),
        ValidationErrorKind::BacktrackLimitExceeded { .. }
        | ValidationErrorKind::RegexEngineFailure { .. } => {
            "could not be checked against its pattern".to_string()
        }
        other => format!("is invalid ({})", other.keyword()),
    }
}

fn type_names(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(set) => {
            set.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_schema_compiles() {
        check_all().unwrap();
    }

    #[test]
    fn messages_name_the_field_and_never_echo_the_value() {
        let validator = compile(&serde_json::json!({
            "type": "object", "additionalProperties": false, "required": ["name"],
            "properties": {"name": {"type": "string", "maxLength": 3},
                           "tags": {"type": "array", "items": {"type": "string", "minLength": 1}}}
        }))
        .unwrap();
        let errors =
            check(&validator, &serde_json::json!({"name": "secret-value", "tags": ["ok", ""], "id": 1}));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "name", "tags.1"]);
        assert!(errors.iter().all(|e| !e.message.contains("secret-value")));

        let errors = check(&validator, &serde_json::json!({}));
        assert_eq!(errors[0].field, "name");
        assert_eq!(errors[0].message, "is required");
    }
}
