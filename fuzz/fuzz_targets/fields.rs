//! Sparse fieldsets (`src/http/fields.rs`, `Fieldset::parse`): any `fields` text, against the
//! members of every operation that takes it, is a fieldset keeping exactly the members named,
//! or a 422.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storefront::fuzzing::{self, client_error};

fuzz_target!(|data: &[u8]| {
    client_error(fuzzing::fields(&String::from_utf8_lossy(data)));
});
