//! Handlers of customers' photos (`/api/v1/customers/{id}/photo`, deprecated, and the same
//! under `/api/v2`): the bytes go to the application layer, which decides what they are.

use crate::api::server::*;
use crate::error::ApiError;
use crate::http::catalog::text;
use crate::http::conditional::none_match;
use crate::http::customers::{customer_v1, customer_v2};
use crate::http::extract::Upload;
use crate::http::reply::{BinaryReply, HeaderSet};
use crate::http::{db_id, Cx, Server};
use crate::photos::StoredPhoto;

/// The photo as any of the photo GETs answers it: its bytes with their type, or 304 when the
/// client holds it, with its strong ETag either way.
fn photo_reply<H: HeaderSet>(photo: StoredPhoto, if_none_match: Option<&str>) -> BinaryReply<H, 200> {
    let reply = if if_none_match.is_some_and(|header| none_match(header, &photo.etag)) {
        BinaryReply::not_modified()
    } else {
        BinaryReply::new(photo.kind.media_type(), photo.bytes)
    };
    reply.etag(&photo.etag)
}

impl CustomerPhotosHandlers for Server {
    async fn customer_photo_get(
        cx: Cx,
        path: CustomerPhotoGetPath,
        headers: CustomerPhotoGetHeaders,
    ) -> Result<CustomerPhotoGetReply, ApiError> {
        let photo = cx.app.customer_photo_get(&cx.actor, db_id(path.id)?).await?;
        Ok(photo_reply(photo, text(&headers.if_none_match))
            .header(http::header::CACHE_CONTROL, "private, no-cache"))
    }

    async fn customer_photo_view(
        cx: Cx,
        path: CustomerPhotoViewPath,
        headers: CustomerPhotoViewHeaders,
    ) -> Result<CustomerPhotoViewReply, ApiError> {
        let photo = cx.app.customer_photo_view(db_id(path.id)?, &path.key).await?;
        Ok(photo_reply(photo, text(&headers.if_none_match)))
    }

    async fn customer_photo_put(
        cx: Cx,
        path: CustomerPhotoPutPath,
        body: Upload,
    ) -> Result<CustomerPhotoPutReply, ApiError> {
        let row = cx.app.customer_photo_put(&cx.actor, db_id(path.id)?, body.bytes).await?;
        Ok(CustomerPhotoPutReply::new(customer_v1(row)?))
    }

    async fn customer_photo_delete(
        cx: Cx,
        path: CustomerPhotoDeletePath,
    ) -> Result<CustomerPhotoDeleteReply, ApiError> {
        cx.app.customer_photo_delete(&cx.actor, db_id(path.id)?).await?;
        Ok(CustomerPhotoDeleteReply::new())
    }
}

impl CustomerPhotosV2Handlers for Server {
    async fn customer_v2_photo_get(
        cx: Cx,
        path: CustomerV2PhotoGetPath,
        headers: CustomerV2PhotoGetHeaders,
    ) -> Result<CustomerV2PhotoGetReply, ApiError> {
        let photo = cx.app.customer_photo_get(&cx.actor, db_id(path.id)?).await?;
        Ok(photo_reply(photo, text(&headers.if_none_match))
            .header(http::header::CACHE_CONTROL, "private, no-cache"))
    }

    async fn customer_v2_photo_view(
        cx: Cx,
        path: CustomerV2PhotoViewPath,
        headers: CustomerV2PhotoViewHeaders,
    ) -> Result<CustomerV2PhotoViewReply, ApiError> {
        let photo = cx.app.customer_photo_view(db_id(path.id)?, &path.key).await?;
        Ok(photo_reply(photo, text(&headers.if_none_match)))
    }

    async fn customer_v2_photo_put(
        cx: Cx,
        path: CustomerV2PhotoPutPath,
        body: Upload,
    ) -> Result<CustomerV2PhotoPutReply, ApiError> {
        let row = cx.app.customer_photo_put(&cx.actor, db_id(path.id)?, body.bytes).await?;
        Ok(CustomerV2PhotoPutReply::new(customer_v2(row)?))
    }

    async fn customer_v2_photo_delete(
        cx: Cx,
        path: CustomerV2PhotoDeletePath,
    ) -> Result<CustomerV2PhotoDeleteReply, ApiError> {
        cx.app.customer_photo_delete(&cx.actor, db_id(path.id)?).await?;
        Ok(CustomerV2PhotoDeleteReply::new())
    }
}
