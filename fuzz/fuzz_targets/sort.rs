//! The product list's `sort` parameter: one of the spec's keys (`-` for descending) or a 422;
//! and a cursor issued under one sort is accepted under that sort only (422 under another).
#![no_main]

use libfuzzer_sys::fuzz_target;
use storefront::fuzzing::{self, client_error, FuzzProduct};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let sort: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
    let known = fuzzing::PRODUCT_SORTS.contains(&text.as_ref());
    match client_error(fuzzing::product_list(&format!("sort={sort}"))) {
        Some(plan) => {
            assert!(known, "accepted sort {text:?}");
            assert_eq!(plan.sort.descending, text.starts_with('-'), "{text:?}");
        }
        None => assert!(!known, "refused sort {text:?}"),
    }

    let issued = fuzzing::PRODUCT_SORTS[usize::from(head & 0x7f) % fuzzing::PRODUCT_SORTS.len()];
    let product = FuzzProduct { id: 7, name: "Tea".into(), price_cents: 250, created_at: 1, updated_at: 2 };
    let cursor = fuzzing::product_cursor(&format!("sort={issued}"), &product, head & 0x80 != 0).unwrap();
    let accepted = client_error(fuzzing::product_list(&format!("sort={sort}&cursor={cursor}"))).is_some();
    assert_eq!(accepted, text == issued, "a cursor of sort={issued} with sort={text:?}");
});
