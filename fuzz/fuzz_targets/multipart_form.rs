//! `multipart/form-data` bodies (`src/http/extract.rs`, `form_of`) and photo bytes
//! (`storefront::photos::inspect`). Input: a `Content-Type` line, then the body. Any body is a
//! customer form or a 4xx (400 malformed, 413 over the limit, 415 not an image, 422 invalid).
#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use storefront::fuzzing::{self, client_error};

/// `POST /api/v1/customers`' `x-max-body-bytes`.
const LIMIT: usize = 2_200_000;

fuzz_target!(|data: &[u8]| {
    client_error(fuzzing::photo(data));
    let Some(newline) = data.iter().position(|b| *b == b'\n') else { return };
    let Ok(content_type) = HeaderValue::from_bytes(&data[..newline]) else { return };
    let body = data[newline + 1..].to_vec();
    client_error(fuzzing::customer_form(&content_type, body.clone(), LIMIT));
    // The same body under a small limit: 413, never a failure of another kind.
    client_error(fuzzing::customer_form(&content_type, body, 64));
});
