//! What the generated glue runs before a handler: the policies the spec declares for the
//! operation ([`OperationMeta`], generated from its `x-` extensions), and the making of the
//! handler's [`Cx`].

use dropshot::RequestContext;

use crate::error::{ApiError, Kind};
use crate::http::{Cx, ServerState};

/// An operation of the spec, and the policies it declares.
#[derive(Debug)]
pub struct OperationMeta {
    /// The `operationId`, which is also the handler's name.
    pub id: &'static str,
    pub method: &'static str,
    /// The path template, as in the spec.
    pub path: &'static str,
    /// The status of the success response.
    pub success_status: u16,
    /// Whether the spec declares a 304 (conditional GET).
    pub not_modified: bool,
    /// `Cache-Control` for success responses, from `x-cache`.
    pub cache_control: Option<&'static str>,
    pub deprecated: bool,
}

/// Admits a request to an operation and builds the handler's context.
///
/// Requests reach dropshot only through the edge (`crate::edge`), which proves itself with a
/// per-process secret; anything else connected to the internal listener is refused.
pub async fn admit(rqctx: RequestContext<ServerState>, op: &'static OperationMeta) -> Result<Cx, ApiError> {
    let state = rqctx.context();
    let headers = rqctx.request.headers();
    let from_edge = headers
        .get(crate::edge::EDGE_SECRET_HEADER)
        .is_some_and(|value| constant_time_eq(value.as_bytes(), state.edge_secret.as_bytes()));
    if !from_edge {
        return Err(ApiError::new(Kind::Other(403), "requests must come through the public listener"));
    }
    let request_id = headers
        .get(crate::edge::REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let log = state.log.new(slog::o!("request_id" => request_id.clone(), "operation" => op.id));
    Ok(Cx { rqctx, op, request_id, log })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
