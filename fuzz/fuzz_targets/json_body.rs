//! JSON request bodies (`src/http/extract.rs`, `src/validate.rs`): any bytes, as any request
//! body type of the spec, are a value or a 4xx (400 not JSON, 422 against the schema); a
//! product body's money is parsed as the handler parses it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storefront::api::types;
use storefront::fuzzing::{self, client_error};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    match which % 16 {
        0 => drop(client_error(fuzzing::json_body::<types::ApiKeyInput>(body))),
        1 => drop(client_error(fuzzing::json_body::<types::CategoryInput>(body))),
        2 => drop(client_error(fuzzing::json_body::<types::CategoryPatch>(body))),
        3 => drop(client_error(fuzzing::json_body::<types::Credentials>(body))),
        4 => drop(client_error(fuzzing::json_body::<types::CustomerInput>(body))),
        5 => drop(client_error(fuzzing::json_body::<types::CustomerPatch>(body))),
        6 => drop(client_error(fuzzing::json_body::<types::CustomerV2Input>(body))),
        7 => drop(client_error(fuzzing::json_body::<types::CustomerV2Patch>(body))),
        8 => drop(client_error(fuzzing::json_body::<types::OrderInput>(body))),
        9 => drop(client_error(fuzzing::json_body::<types::OrderStatusChange>(body))),
        10 => drop(client_error(fuzzing::product_input(body))),
        11 => drop(client_error(fuzzing::json_body::<types::ProductPatch>(body))),
        12 => drop(client_error(fuzzing::json_body::<types::RefreshRequest>(body))),
        13 => drop(client_error(fuzzing::json_body::<types::Registration>(body))),
        14 => drop(client_error(fuzzing::json_body::<types::UserPatch>(body))),
        _ => drop(client_error(fuzzing::json_body::<types::ProductInput>(body))),
    }
});
