//! Pagination cursors (`src/http/page.rs`): any text as a cursor is a start or a 422; a cursor
//! the product list issues next to any product it can hold is accepted back, through the same
//! query validation a request goes through (the spec's `Cursor` constraints included), and names
//! the same position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storefront::domain::Start;
use storefront::fuzzing::{self, client_error, FuzzProduct, KeyValue};

fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn i64_at(data: &[u8], at: usize) -> i64 {
    let mut bytes = [0u8; 8];
    for (i, b) in data.iter().skip(at).take(8).enumerate() {
        bytes[i] = *b;
    }
    i64::from_le_bytes(bytes)
}

fuzz_target!(|data: &[u8]| {
    // Any text as a cursor.
    let text = String::from_utf8_lossy(data);
    client_error(fuzzing::cursor(&text, "0123456789abcdef"));
    for sort in ["id", "name", "-price"] {
        client_error(fuzzing::product_list(&format!("sort={sort}&cursor={}", encoded(&text))));
    }

    // The round trip: [sort (low 7 bits), before (high bit)][id: 8][price: 8][time: 8][name…].
    let Some((&head, rest)) = data.split_first() else { return };
    let sort = fuzzing::PRODUCT_SORTS[usize::from(head & 0x7f) % fuzzing::PRODUCT_SORTS.len()];
    let before = head & 0x80 != 0;
    let Some(name) = rest.get(24..).and_then(|n| std::str::from_utf8(n).ok()) else { return };
    let Some(name) = fuzzing::product_name(name) else { return };
    let product = FuzzProduct {
        id: i64_at(rest, 0).checked_abs().unwrap_or(i64::MAX).max(1),
        name,
        price_cents: i64_at(rest, 8),
        created_at: i64_at(rest, 16),
        updated_at: i64_at(rest, 16).wrapping_add(1),
    };
    let query = format!("sort={sort}&limit=1");
    let cursor = fuzzing::product_cursor(&query, &product, before).expect("a valid query");
    let plan = match fuzzing::product_list(&format!("{query}&cursor={cursor}")) {
        Ok(plan) => plan,
        Err(e) => panic!(
            "the list refuses its own cursor ({} characters) for {product:?}: {:?}",
            cursor.len(),
            e.problem()
        ),
    };
    let position = match plan.start {
        Start::After(p) if !before => p,
        Start::Before(p) if before => p,
        other => panic!("the cursor names {other:?}"),
    };
    assert_eq!(position.id, product.id);
    let expected = match sort.trim_start_matches('-') {
        "id" => None,
        "name" => Some(KeyValue::Text(storefront::names::key(&product.name))),
        "price" => Some(KeyValue::Int(product.price_cents)),
        "created_at" => Some(KeyValue::Int(product.created_at)),
        _ => Some(KeyValue::Int(product.updated_at)),
    };
    assert_eq!(position.key, expected);
});
