//! Products: every operation, its documented errors, filters, sorts and pagination.

use std::num::NonZeroU64;

use storefront_client::types::{ProductInput, ProductPatch, ProductSort};

use crate::common::{create_category, create_product, invalid_fields, problem_of, status_of, TestApp};

fn id(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap()
}

#[tokio::test]
async fn product_create_returns_201_with_location_etag_and_exact_price() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Groceries").await;
    let response = app
        .client
        .product_create()
        .body_map(|b| {
            b.name("Tata Tea")
                .description(Some("Premium, 1 kg".try_into().unwrap()))
                .price("520.5")
                .stock(150)
                .category_id(category.id.0)
                .tags(Some(vec!["tea".try_into().unwrap()]))
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let product = response.into_inner();
    assert_eq!(location, format!("/api/v1/products/{}", product.id.0));
    assert_eq!(product.price.as_str(), "520.50");
    assert_eq!(product.description.as_str(), "Premium, 1 kg");
    let fetched = app.client.product_get().id(product.id.0).send().await.unwrap();
    assert_eq!(fetched.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(fetched.into_inner().tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["tea"]);
}

#[tokio::test]
async fn product_create_returns_422_when_the_category_does_not_exist() {
    let app = TestApp::spawn().await;
    let problem = problem_of(
        app.client
            .product_create()
            .body_map(|b| b.name("Orphan").price("1").stock(1).category_id(id(77)))
            .send()
            .await,
    );
    assert_eq!(invalid_fields(&problem), ["category_id"]);
    // Nothing was half-written: no tag, no product.
    assert_eq!(app.client.product_list().send().await.unwrap().into_inner().total, Some(0));
}

#[tokio::test]
async fn product_create_returns_422_for_every_value_the_spec_refuses() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "C").await;
    let valid = serde_json::json!({"name": "P", "price": "1.00", "stock": 1, "category_id": category.id.0});
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("price", serde_json::json!(19.99)),
        ("price", serde_json::json!("0")),
        ("price", serde_json::json!("0.00")),
        ("price", serde_json::json!("1.234")),
        ("price", serde_json::json!("-1")),
        ("price", serde_json::json!("1e3")),
        ("price", serde_json::json!("123456789")),
        ("stock", serde_json::json!(-1)),
        ("stock", serde_json::json!(1.5)),
        ("stock", serde_json::json!(1_000_000_001)),
        ("name", serde_json::json!("")),
        ("name", serde_json::json!("n".repeat(151))),
        ("name", serde_json::json!("line\nbreak")),
        ("description", serde_json::json!("nul\u{0}byte")),
        ("description", serde_json::json!("d".repeat(2001))),
        ("category_id", serde_json::json!(0)),
        ("category_id", serde_json::json!("1")),
        ("tags", serde_json::json!(["dup", "dup"])),
        ("tags", serde_json::json!((0..21).map(|i| format!("t{i}")).collect::<Vec<_>>())),
        ("tags.0", serde_json::json!([""])),
        ("version", serde_json::json!(3)),
    ];
    // Raw: the typed client refuses to build any of these.
    for (field, value) in cases {
        let mut body = valid.clone();
        body[field.split('.').next().unwrap()] = value.clone();
        let response = app.http.post(app.url("/api/v1/products")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 422, "{field} = {value}");
        let problem: storefront_client::types::Problem = response.json().await.unwrap();
        assert!(invalid_fields(&problem).contains(&field.to_string()), "{field} = {value}: {problem:?}");
    }
    assert_eq!(app.client.product_list().send().await.unwrap().into_inner().total, Some(0));
}

#[tokio::test]
async fn product_create_answers_400_415_and_413_for_bodies_that_are_not_acceptable_json() {
    let app = TestApp::spawn().await;
    // Raw: malformed bodies, a wrong content type and an oversized body.
    let malformed = app
        .http
        .post(app.url("/api/v1/products"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.headers()["content-type"], "application/problem+json");

    let form = app
        .http
        .post(app.url("/api/v1/products"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);

    let huge = serde_json::json!({"name": "P", "description": "x".repeat(70_000)});
    let too_large = app.http.post(app.url("/api/v1/products")).json(&huge).send().await.unwrap();
    assert_eq!(too_large.status(), 413);
    let problem: storefront_client::types::Problem = too_large.json().await.unwrap();
    assert_eq!(problem.type_, "/problems/payload-too-large");
}

#[tokio::test]
async fn product_get_returns_the_product_304_or_404() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let response = app.client.product_get().id(id(1)).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let last_modified = response.headers()["last-modified"].to_str().unwrap().to_string();
    let product = response.into_inner();
    assert_eq!(product.name.as_str(), "Mi LED TV");
    assert_eq!(product.price.as_str(), "12499.00");

    for result in [
        app.client.product_get().id(id(1)).if_none_match(etag.as_str()).send().await,
        app.client.product_get().id(id(1)).if_modified_since(last_modified.as_str()).send().await,
    ] {
        match result {
            Err(storefront_client::Error::UnexpectedResponse(r)) => assert_eq!(r.status(), 304),
            other => panic!("expected 304, got {other:?}"),
        }
    }
    // If-None-Match wins over If-Modified-Since.
    let both = app
        .client
        .product_get()
        .id(id(1))
        .if_none_match("\"x\"")
        .if_modified_since(last_modified.as_str())
        .send()
        .await;
    assert_eq!(both.unwrap().status(), 200);
    assert_eq!(status_of(app.client.product_get().id(id(999)).send().await), 404);
}

#[tokio::test]
async fn product_get_reads_repeated_conditional_header_lines_as_one_list() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let etag = app.client.product_get().id(id(1)).send().await.unwrap().headers()["etag"].clone();
    // Raw: two `If-None-Match` lines are one list (RFC 9110 §5.3); the second names the ETag.
    let url = app.url("/api/v1/products/1");
    let lines = app.http.get(&url).header("if-none-match", "\"other\"").header("if-none-match", &etag);
    assert_eq!(lines.send().await.unwrap().status(), 304);
    let neither = app.http.get(&url).header("if-none-match", "\"a\"").header("if-none-match", "\"b\"");
    assert_eq!(neither.send().await.unwrap().status(), 200);
    // A value that is not visible ASCII is refused by name, as every bad parameter is.
    let bytes = reqwest::header::HeaderValue::from_bytes(b"\"caf\xe9\"").unwrap();
    let response = app.http.get(&url).header("if-none-match", bytes).send().await.unwrap();
    assert_eq!(response.status(), 422);
    let problem: storefront_client::types::Problem = response.json().await.unwrap();
    assert_eq!(invalid_fields(&problem), ["If-None-Match"]);
}

#[tokio::test]
async fn product_replace_replaces_every_field_and_honours_if_match() {
    let app = TestApp::spawn().await;
    let food = create_category(&app, "Food").await;
    let drinks = create_category(&app, "Drinks").await;
    let created = create_product(&app, food.id.0.get(), "Tea", "10", 5, &["hot"]).await;
    let etag = app.client.product_get().id(created.id.0).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let input = ProductInput {
        name: "Green Tea".try_into().unwrap(),
        description: None,
        price: "12.25".try_into().unwrap(),
        stock: 7.into(),
        category_id: drinks.id.clone(),
        tags: None,
    };
    let replaced = app
        .client
        .product_replace()
        .id(created.id.0)
        .if_match(etag.as_str())
        .body(input.clone())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.name.as_str(), "Green Tea");
    assert_eq!(replaced.price.as_str(), "12.25");
    assert_eq!(replaced.category_id.0, drinks.id.0);
    assert!(replaced.tags.is_empty(), "omitted tags are replaced by none");
    assert_eq!(replaced.created_at.0, created.created_at.0);

    assert_eq!(
        status_of(
            app.client
                .product_replace()
                .id(created.id.0)
                .if_match(etag.as_str())
                .body(input.clone())
                .send()
                .await
        ),
        412
    );
    assert_eq!(status_of(app.client.product_replace().id(id(999)).body(input.clone()).send().await), 404);
    let mut orphan = input;
    orphan.category_id = storefront_client::types::Id(id(999));
    assert_eq!(status_of(app.client.product_replace().id(created.id.0).body(orphan).send().await), 422);
}

#[tokio::test]
async fn product_update_changes_only_the_fields_given() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Food").await;
    let created = create_product(&app, category.id.0.get(), "Butter", "56", 200, &["dairy"]).await;
    let patch = ProductPatch { stock: Some(199.into()), ..Default::default() };
    let updated = app.client.product_update().id(created.id.0).body(patch).send().await.unwrap().into_inner();
    assert_eq!(updated.stock.0, 199);
    assert_eq!(updated.price.as_str(), "56.00");
    assert_eq!(updated.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["dairy"]);

    let patch = ProductPatch {
        price: Some("0.1".try_into().unwrap()),
        tags: Some(vec!["Fresh".try_into().unwrap(), "dairy".try_into().unwrap()]),
        ..Default::default()
    };
    let updated = app.client.product_update().id(created.id.0).body(patch).send().await.unwrap().into_inner();
    assert_eq!(updated.price.as_str(), "0.10");
    assert_eq!(updated.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["dairy", "Fresh"]);

    let empty = ProductPatch::default();
    assert_eq!(status_of(app.client.product_update().id(created.id.0).body(empty).send().await), 422);
    let stale = ProductPatch { stock: Some(1.into()), ..Default::default() };
    assert_eq!(
        status_of(app.client.product_update().id(created.id.0).if_match("\"1-1\"").body(stale).send().await),
        412
    );
    let patch = ProductPatch { stock: Some(1.into()), ..Default::default() };
    assert_eq!(status_of(app.client.product_update().id(id(999)).body(patch).send().await), 404);
}

#[tokio::test]
async fn product_delete_returns_204_then_404_and_honours_if_match() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Food").await;
    let created = create_product(&app, category.id.0.get(), "Salt", "28", 300, &["essentials"]).await;
    assert_eq!(status_of(app.client.product_delete().id(created.id.0).if_match("\"9-9\"").send().await), 412);
    let etag = app.client.product_get().id(created.id.0).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.client.product_delete().id(created.id.0).if_match(etag.as_str()).send().await.unwrap().status(),
        204
    );
    assert_eq!(status_of(app.client.product_get().id(created.id.0).send().await), 404);
    assert_eq!(status_of(app.client.product_delete().id(created.id.0).send().await), 404);
}

#[tokio::test]
async fn product_list_filters_combine() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let names = |page: storefront_client::types::ProductPage| -> Vec<String> {
        page.items.into_iter().map(|p| p.name.to_string()).collect()
    };
    let electronics = app.client.product_list().category_id(id(1)).send().await.unwrap().into_inner();
    assert_eq!(names(electronics), ["Mi LED TV", "Samsung Galaxy S23"]);
    let tea = app.client.product_list().tag("TEA").send().await.unwrap().into_inner();
    assert_eq!(names(tea), ["Tata Tea"]);
    let cheap = app
        .client
        .product_list()
        .max_price("100")
        .sort(ProductSort::PriceAsc)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(cheap), ["Tata Salt", "Parle-G Biscuits"]);
    let range =
        app.client.product_list().min_price("285").max_price("520.00").send().await.unwrap().into_inner();
    assert_eq!(names(range), ["Amul Butter", "Tata Tea"]);
    let search = app
        .client
        .product_list()
        .q("TATA")
        .category_id(id(2))
        .sort(ProductSort::NameDesc)
        .send()
        .await
        .unwrap();
    assert_eq!(names(search.into_inner()), ["Tata Tea", "Tata Salt"]);
    let none = app.client.product_list().min_price("100").max_price("10").send().await.unwrap().into_inner();
    assert_eq!(none.total, Some(0));

    // Stock filter.
    let patch = ProductPatch { stock: Some(0.into()), ..Default::default() };
    app.client.product_update().id(id(6)).body(patch).send().await.unwrap();
    let sold_out = app.client.product_list().in_stock(false).send().await.unwrap().into_inner();
    assert_eq!(names(sold_out), ["Tata Salt"]);
    assert_eq!(app.client.product_list().in_stock(true).send().await.unwrap().into_inner().total, Some(5));
}

#[tokio::test]
async fn product_list_search_treats_like_wildcards_literally() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "C").await;
    create_product(&app, category.id.0.get(), "100% Cotton", "1", 1, &[]).await;
    create_product(&app, category.id.0.get(), "1000 Cotton Buds", "1", 1, &[]).await;
    create_product(&app, category.id.0.get(), "snake_case", "1", 1, &[]).await;
    create_product(&app, category.id.0.get(), "snakeXcase", "1", 1, &[]).await;
    let percent = app.client.product_list().q("0%").send().await.unwrap().into_inner();
    assert_eq!(percent.items.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["100% Cotton"]);
    let underscore = app.client.product_list().q("e_c").send().await.unwrap().into_inner();
    assert_eq!(underscore.items.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["snake_case"]);
}

#[tokio::test]
async fn product_list_sorts_money_as_numbers_and_walks_every_sort_by_cursor_both_ways() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "C").await;
    let prices = ["9.99", "10", "100.5", "2", "10", "0.5", "1000"];
    for (i, price) in prices.iter().enumerate() {
        create_product(
            &app,
            category.id.0.get(),
            &format!("item {}", (b'g' - i as u8) as char),
            price,
            i as i64,
            &[],
        )
        .await;
    }
    let by_price = app.client.product_list().sort(ProductSort::PriceAsc).send().await.unwrap().into_inner();
    let listed: Vec<&str> = by_price.items.iter().map(|p| p.price.as_str()).collect();
    assert_eq!(listed, ["0.50", "2.00", "9.99", "10.00", "10.00", "100.50", "1000.00"]);

    for sort in [
        ProductSort::IdAsc,
        ProductSort::IdDesc,
        ProductSort::NameAsc,
        ProductSort::NameDesc,
        ProductSort::PriceAsc,
        ProductSort::PriceDesc,
        ProductSort::CreatedAtAsc,
        ProductSort::CreatedAtDesc,
        ProductSort::UpdatedAtAsc,
        ProductSort::UpdatedAtDesc,
    ] {
        let all: Vec<u64> = app
            .client
            .product_list()
            .sort(sort)
            .send()
            .await
            .unwrap()
            .into_inner()
            .items
            .iter()
            .map(|p| p.id.0.get())
            .collect();
        let limit = NonZeroU64::new(3).unwrap();
        let mut walked = Vec::new();
        let mut page = app.client.product_list().sort(sort).limit(limit).send().await.unwrap().into_inner();
        loop {
            walked.extend(page.items.iter().map(|p| p.id.0.get()));
            match page.next_cursor.clone() {
                Some(cursor) => {
                    page = app
                        .client
                        .product_list()
                        .sort(sort)
                        .limit(limit)
                        .cursor(cursor)
                        .send()
                        .await
                        .unwrap()
                        .into_inner()
                }
                None => break,
            }
        }
        assert_eq!(walked, all, "forwards, sort {sort}");
        // And backwards from the last page.
        let mut back = Vec::new();
        let mut cursor = page.prev_cursor.clone();
        back.extend(page.items.iter().rev().map(|p| p.id.0.get()));
        while let Some(c) = cursor {
            let previous = app
                .client
                .product_list()
                .sort(sort)
                .limit(limit)
                .cursor(c)
                .send()
                .await
                .unwrap()
                .into_inner();
            back.extend(previous.items.iter().rev().map(|p| p.id.0.get()));
            cursor = previous.prev_cursor.clone();
        }
        back.reverse();
        assert_eq!(back, all, "backwards, sort {sort}");
    }
}

/// A name sorts by its folded key, which its cursors carry: a long non-ASCII name makes a long
/// cursor, which the list must take back (a 100-character name of 4-byte characters made a
/// cursor over the spec's former `maxLength: 512`; one of U+FDFA, which folds to 18 characters,
/// a key over the 450 characters the list then took back).
#[tokio::test]
async fn product_list_takes_back_the_cursors_of_the_longest_names() {
    let app = TestApp::spawn().await;
    for (wide, count) in [("\u{1f600}", 100), ("\u{fdfa}", 150)] {
        let category = create_category(&app, &format!("C{count}")).await;
        let in_category = category.id.0.get();
        let first = create_product(&app, in_category, &wide.repeat(count), "1", 1, &[]).await;
        let second =
            create_product(&app, in_category, &format!("{}x", wide.repeat(count - 1)), "1", 1, &[]).await;
        let limit = NonZeroU64::new(1).unwrap();
        let list =
            || app.client.product_list().category_id(category.id.0).sort(ProductSort::NameAsc).limit(limit);
        let mut page = list().send().await.unwrap().into_inner();
        let mut seen: Vec<u64> = page.items.iter().map(|p| p.id.0.get()).collect();
        while let Some(cursor) = page.next_cursor.clone() {
            assert!(seen.len() < 2, "{wide:?} × {count}: a next cursor after the last product");
            page = match list().cursor(cursor).send().await {
                Ok(response) => response.into_inner(),
                Err(e) => panic!("{wide:?} × {count}: the list refuses its own cursor: {e:?}"),
            };
            seen.extend(page.items.iter().map(|p| p.id.0.get()));
        }
        seen.sort_unstable();
        assert_eq!(seen, [first.id.0.get(), second.id.0.get()], "{wide:?} × {count}");
    }
}

#[tokio::test]
async fn product_list_refuses_a_cursor_from_another_query() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let limit = NonZeroU64::new(2).unwrap();
    let page =
        app.client.product_list().sort(ProductSort::PriceAsc).limit(limit).send().await.unwrap().into_inner();
    let cursor = page.next_cursor.unwrap();
    let other_sort =
        app.client.product_list().sort(ProductSort::NameAsc).limit(limit).cursor(cursor.clone()).send().await;
    assert_eq!(invalid_fields(&problem_of(other_sort)), ["cursor"]);
    let other_filter = app
        .client
        .product_list()
        .sort(ProductSort::PriceAsc)
        .tag("tea")
        .limit(limit)
        .cursor(cursor.clone())
        .send()
        .await;
    assert_eq!(invalid_fields(&problem_of(other_filter)), ["cursor"]);
    let with_offset =
        app.client.product_list().sort(ProductSort::PriceAsc).offset(1).cursor(cursor).send().await;
    assert_eq!(invalid_fields(&problem_of(with_offset)), ["cursor"]);
    let forged = app.client.product_list().cursor("bm90LWEtY3Vyc29y").send().await;
    assert_eq!(invalid_fields(&problem_of(forged)), ["cursor"]);
}

#[tokio::test]
async fn product_list_links_keep_the_filters() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let limit = NonZeroU64::new(1).unwrap();
    let response = app.client.product_list().category_id(id(2)).limit(limit).offset(1).send().await.unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_string();
    let page = response.into_inner();
    let next = page.links.next.unwrap();
    assert!(next.contains("category_id=2") && next.contains("offset=2"), "{next}");
    assert!(page.links.prev.unwrap().contains("offset=0"));
    assert!(page.links.first.contains("category_id=2") && !page.links.first.contains("offset"));
    // Rebuilt from the parsed parameters (defaults included), not echoed from the request.
    assert_eq!(page.links.self_, "/api/v1/products?category_id=2&limit=1&sort=id&offset=1");
    assert!(link.contains(&format!("<{next}>; rel=\"next\"")));
    // Following the link gives the next product.
    let followed: storefront_client::types::ProductPage =
        app.http.get(app.url(&next)).send().await.unwrap().json().await.unwrap();
    assert_eq!(followed.items[0].name.as_str(), "Parle-G Biscuits");
}

#[tokio::test]
async fn the_self_link_does_not_echo_unknown_parameters() {
    let app = TestApp::spawn().await;
    // Raw: parameters the spec does not declare (the client cannot send them).
    let junk = "x".repeat(4000);
    let response =
        app.http.get(app.url(&format!("/api/v1/products?limit=5&junk={junk}"))).send().await.unwrap();
    let page: storefront_client::types::ProductPage = response.json().await.unwrap();
    assert_eq!(page.links.self_, "/api/v1/products?limit=5&sort=id");
}

#[tokio::test]
async fn product_list_returns_422_naming_each_bad_parameter() {
    let app = TestApp::spawn().await;
    // Raw: the typed client only sends values the spec allows.
    let response = app
        .http
        .get(app.url("/api/v1/products?limit=0&sort=cheapest&min_price=1.001&in_stock=yes&category_id=x&q="))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let problem: storefront_client::types::Problem = response.json().await.unwrap();
    assert_eq!(invalid_fields(&problem), ["category_id", "in_stock", "limit", "min_price", "q", "sort"]);
    let repeated = app.http.get(app.url("/api/v1/products?limit=1&limit=2")).send().await.unwrap();
    assert_eq!(repeated.status(), 422);
}
