//! Query strings (`src/http/extract.rs`): decoded, coerced by each parameter's declared kind,
//! defaulted and validated against the spec; then, for the product list, read into its sort,
//! filters and start. Any query string is a value or a 4xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storefront::api::server::{
    CategoryListQuery, CustomerListQuery, CustomerV2ListQuery, OrderListQuery, ProductGetQuery, TagListQuery,
    UserListQuery,
};
use storefront::fuzzing::{self, client_error};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    client_error(fuzzing::product_list(&text));
    client_error(fuzzing::query::<ProductGetQuery>(&text));
    client_error(fuzzing::query::<CategoryListQuery>(&text));
    client_error(fuzzing::query::<TagListQuery>(&text));
    client_error(fuzzing::query::<UserListQuery>(&text));
    client_error(fuzzing::query::<CustomerListQuery>(&text));
    client_error(fuzzing::query::<CustomerV2ListQuery>(&text));
    client_error(fuzzing::query::<OrderListQuery>(&text));
});
