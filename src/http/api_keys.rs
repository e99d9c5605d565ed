//! Handlers of API keys: each caller manages their own (admins: anyone's).

use crate::api::server::*;
use crate::api::types;
use crate::domain::ApiKey;
use crate::error::{ApiError, Error};
use crate::http::{api_id, api_string, api_time, db_id, Cx, Server};

impl ApiKeysHandlers for Server {
    async fn api_key_list(cx: Cx) -> Result<ApiKeyListReply, ApiError> {
        let rows = cx.app.api_key_list(&cx.actor).await?;
        let items = rows.into_iter().map(api_key).collect::<Result<Vec<_>, Error>>()?;
        Ok(ApiKeyListReply::new(types::ApiKeyList { items }).private())
    }

    async fn api_key_create(cx: Cx, body: types::ApiKeyInput) -> Result<ApiKeyCreateReply, ApiError> {
        let (row, secret) = cx.app.api_key_create(&cx.actor, &body.name).await?;
        let location = format!("/api/v1/api-keys/{}", row.id);
        let created = types::ApiKeyCreated {
            id: api_id(row.id)?,
            name: api_string(row.name, "API key name")?,
            prefix: row.prefix,
            key: secret,
            created_at: api_time(row.created_at),
        };
        Ok(ApiKeyCreateReply::new(created).location(&location).no_store())
    }

    async fn api_key_get(cx: Cx, path: ApiKeyGetPath) -> Result<ApiKeyGetReply, ApiError> {
        let row = cx.app.api_key_get(&cx.actor, db_id(path.id)?).await?;
        Ok(ApiKeyGetReply::new(api_key(row)?).private())
    }

    async fn api_key_delete(cx: Cx, path: ApiKeyDeletePath) -> Result<ApiKeyDeleteReply, ApiError> {
        cx.app.api_key_revoke(&cx.actor, db_id(path.id)?).await?;
        Ok(ApiKeyDeleteReply::new())
    }
}

fn api_key(row: ApiKey) -> Result<types::ApiKey, Error> {
    Ok(types::ApiKey {
        id: api_id(row.id)?,
        name: api_string(row.name, "API key name")?,
        prefix: row.prefix,
        created_at: api_time(row.created_at),
        last_used_at: row.last_used_at.map(api_time),
    })
}
