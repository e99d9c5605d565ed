//! API keys: each caller manages their own; another user's key is "not found" (admins excepted).

use crate::api::server::*;
use crate::api::types;
use crate::auth::{new_secret, secret_hash, API_KEY_PREFIX};
use crate::db::api_keys::ApiKeyRow;
use crate::db::{self, timestamp};
use crate::error::{ApiError, Error};
use crate::http::{api_id, api_string, db_id, Cx};

/// How many characters of a key are kept to tell keys apart (`sfk_` and 8 of the secret).
const PREFIX_LEN: usize = API_KEY_PREFIX.len() + 8;

pub async fn list(cx: Cx) -> Result<ApiKeyListReply, ApiError> {
    let rows = db::api_keys::list_for(cx.db(), cx.user()?.id).await?;
    let items = rows.iter().map(api_key).collect::<Result<Vec<_>, Error>>()?;
    Ok(ApiKeyListReply::new(types::ApiKeyList { items }).private())
}

pub async fn create(cx: Cx, body: types::ApiKeyInput) -> Result<ApiKeyCreateReply, ApiError> {
    let secret = new_secret(API_KEY_PREFIX)?;
    let row = db::api_keys::create(
        cx.db(),
        cx.user()?.id,
        &body.name,
        &secret[..PREFIX_LEN],
        &secret_hash(&secret),
    )
    .await?;
    let created = types::ApiKeyCreated {
        id: api_id(row.id)?,
        name: api_string(row.name.clone(), "API key name")?,
        prefix: row.prefix.clone(),
        key: secret,
        created_at: types::Timestamp(timestamp(row.created_at)),
    };
    Ok(ApiKeyCreateReply::new(created).location(&format!("/api/v1/api-keys/{}", row.id)).no_store())
}

pub async fn get(cx: Cx, path: ApiKeyGetPath) -> Result<ApiKeyGetReply, ApiError> {
    let row = db::api_keys::get(cx.db(), db_id(path.id)?, owner_filter(&cx)?).await?;
    Ok(ApiKeyGetReply::new(api_key(&row)?).private())
}

pub async fn delete(cx: Cx, path: ApiKeyDeletePath) -> Result<ApiKeyDeleteReply, ApiError> {
    db::api_keys::revoke(cx.db(), db_id(path.id)?, owner_filter(&cx)?).await?;
    Ok(ApiKeyDeleteReply::new())
}

/// Whose keys the caller may reach: their own, or anyone's for an admin.
fn owner_filter(cx: &Cx) -> Result<Option<i64>, Error> {
    let user = cx.user()?;
    Ok((user.role != types::Role::Admin).then_some(user.id))
}

fn api_key(row: &ApiKeyRow) -> Result<types::ApiKey, Error> {
    Ok(types::ApiKey {
        id: api_id(row.id)?,
        name: api_string(row.name.clone(), "API key name")?,
        prefix: row.prefix.clone(),
        created_at: types::Timestamp(timestamp(row.created_at)),
        last_used_at: row.last_used_at.map(|at| types::Timestamp(timestamp(at))),
    })
}
