//! The interactive documentation: Swagger UI at `/docs`, from assets embedded in the binary
//! (`assets/swagger-ui/`, from the npm package `swagger-ui-dist`; its README says which version
//! and how to update it), under a CSP that lets the page load and call this server only.

use http::header::CONTENT_SECURITY_POLICY;

use crate::api::server::{DocsAssetReply, DocsReply};
use crate::error::{ApiError, Error};
use crate::http::policy;

/// What the docs page may load: scripts and styles from this server (Swagger UI sets some style
/// attributes, hence `'unsafe-inline'` for styles only), its inline SVG images, and requests to
/// this server (the spec, and "Try it out").
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Storefront API — documentation</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs.js"></script>
</body>
</html>
"#;

/// The embedded assets: name, media type, bytes.
const ASSETS: [(&str, &str, &[u8]); 3] = [
    ("swagger-ui.css", "text/css", include_bytes!("../../assets/swagger-ui/swagger-ui.css")),
    (
        "swagger-ui-bundle.js",
        "text/javascript",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    ("docs.js", "text/javascript", include_bytes!("../../assets/swagger-ui/docs.js")),
];

/// The docs page, with its CSP.
pub(super) fn page() -> DocsReply {
    policy::respond_with(CONTENT_SECURITY_POLICY, DOCS_CSP);
    DocsReply::new("text/html; charset=utf-8", bytes::Bytes::from_static(PAGE.as_bytes()))
}

/// One of the page's assets; 404 for any other name.
pub(super) fn asset(name: &str) -> Result<DocsAssetReply, ApiError> {
    let (_, media_type, bytes) =
        ASSETS.iter().find(|(asset, _, _)| *asset == name).ok_or(Error::NotFound("asset"))?;
    Ok(DocsAssetReply::new(media_type, bytes::Bytes::from_static(bytes)))
}
