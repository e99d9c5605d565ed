//! Operator tasks that go around the API: creating the first admin.

use crate::api::types::Registration;
use crate::db::users::{NewUser, UserRow};
use crate::db::Db;
use crate::http::extract::BodySchema;

/// Creates an admin account, holding the username, email and password to the same rules as
/// registration (the spec's `Registration` schema).
pub async fn create_admin(db: &Db, username: &str, email: &str, password: &str) -> Result<UserRow, String> {
    let candidate = serde_json::json!({"username": username, "email": email, "password": password});
    let errors = crate::http::validate::check(<Registration as BodySchema>::validator(), &candidate);
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        return Err(list.join("; "));
    }
    let password_hash = crate::auth::hash_password(password.to_string()).await.map_err(|e| e.to_string())?;
    let new = NewUser { username: username.into(), email: email.into(), password_hash, role: "admin" };
    crate::db::users::create(db, &new).await.map_err(|e| e.to_string())
}
