//! Orders: placing (stock, prices, totals), who sees which, the state machine, cancelling, and
//! two orders racing for the last unit.

use std::num::NonZeroU64;

use storefront_client::types::{Id, Order, OrderLineInput, OrderStatus, Problem, Quantity, Role};
use storefront_client::{Client, Error, ResponseValue};

use crate::common::{create_category, create_product, invalid_fields, problem_of, status_of, TestApp};

fn id(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap()
}

/// Places an order of `(product, quantity)` lines as the client's user.
async fn place(client: &Client, lines: &[(u64, u64)]) -> Result<ResponseValue<Order>, Error<Problem>> {
    let items: Vec<OrderLineInput> = lines
        .iter()
        .map(|(product, quantity)| OrderLineInput {
            product_id: Id(id(*product)),
            quantity: Quantity(id(*quantity)),
        })
        .collect();
    client.order_create().body_map(|b| b.items(items)).send().await
}

/// Moves an order to `status`.
async fn set_status(
    client: &Client,
    order: u64,
    status: OrderStatus,
) -> Result<ResponseValue<Order>, Error<Problem>> {
    client.order_update().id(id(order)).body_map(|b| b.status(status)).send().await
}

/// A product's stock now.
async fn stock(app: &TestApp, product: u64) -> i64 {
    app.client.product_get().id(id(product)).send().await.unwrap().into_inner().stock.0
}

/// Two products: tea at 0.10 with 10 in stock, butter at 19.99 with 5.
async fn two_products(app: &TestApp) -> (u64, u64) {
    let category = create_category(app, "Groceries").await;
    let tea = create_product(app, category.id.0.get(), "Tea", "0.10", 10, &[]).await;
    let butter = create_product(app, category.id.0.get(), "Butter", "19.99", 5, &[]).await;
    (tea.id.0.get(), butter.id.0.get())
}

#[tokio::test]
async fn order_create_takes_stock_records_unit_prices_and_an_exact_total() {
    let app = TestApp::spawn().await;
    let (tea, butter) = two_products(&app).await;
    let alice = app.user("alice", Role::Customer).await;
    let tea_etag = app.client.product_get().id(id(tea)).send().await.unwrap().headers()["etag"].clone();

    let response = place(&alice.client, &[(tea, 3), (butter, 2)]).await.unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let order = response.into_inner();
    assert_eq!(location, format!("/api/v1/orders/{}", order.id.0));
    assert_eq!(order.user_id.0, alice.id);
    assert_eq!(order.status, OrderStatus::Pending);
    let lines: Vec<(u64, u64, &str)> = order
        .items
        .iter()
        .map(|l| (l.product_id.0.get(), l.quantity.0.get(), l.unit_price.as_str()))
        .collect();
    assert_eq!(lines, [(tea, 3, "0.10"), (butter, 2, "19.99")]);
    // 3 × 0.10 + 2 × 19.99, exactly (0.1 × 3 is 0.30000000000000004 in floating point).
    assert_eq!(order.total.as_str(), "40.28");
    assert_eq!((stock(&app, tea).await, stock(&app, butter).await), (7, 3));
    // Taking stock is a change of the product: its ETag moves.
    let after = app.client.product_get().id(id(tea)).send().await.unwrap();
    assert_ne!(after.headers()["etag"], tea_etag);

    // The recorded price stays when the product's price changes.
    app.client
        .product_update()
        .id(id(tea))
        .body_map(|b| b.price(Some("0.25".try_into().unwrap())))
        .send()
        .await
        .unwrap();
    let fetched = alice.client.order_get().id(order.id.0).send().await.unwrap();
    assert_eq!(fetched.headers()["etag"].to_str().unwrap(), etag);
    let fetched = fetched.into_inner();
    assert_eq!(fetched.items[0].unit_price.as_str(), "0.10");
    assert_eq!(fetched.total.as_str(), "40.28");
}

#[tokio::test]
async fn order_create_returns_409_when_stock_is_insufficient_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (tea, butter) = two_products(&app).await;
    let alice = app.user("alice", Role::Customer).await;
    let problem = problem_of(place(&alice.client, &[(tea, 1), (butter, 6)]).await);
    assert_eq!(problem.status, 409, "{problem:?}");
    let detail = problem.detail.clone().unwrap();
    assert!(detail.contains(&format!("product {butter}")) && detail.contains("Butter"), "{detail}");
    let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["items.1.quantity"]);
    assert!(problem.errors[0].message.contains("5 in stock"), "{problem:?}");
    // Nothing changed: neither the line that could be served nor any order.
    assert_eq!((stock(&app, tea).await, stock(&app, butter).await), (10, 5));
    assert_eq!(app.client.order_list().send().await.unwrap().into_inner().total, Some(0));
}

#[tokio::test]
async fn order_create_returns_422_naming_a_missing_or_repeated_product() {
    let app = TestApp::spawn().await;
    let (tea, butter) = two_products(&app).await;
    let alice = app.user("alice", Role::Customer).await;
    let missing = problem_of(place(&alice.client, &[(tea, 1), (999_999, 1)]).await);
    assert_eq!(invalid_fields(&missing), ["items.1.product_id"]);
    let repeated = problem_of(place(&alice.client, &[(tea, 1), (butter, 1), (tea, 2)]).await);
    assert_eq!(invalid_fields(&repeated), ["items.2.product_id"]);
    assert_eq!(status_of(place(&alice.client, &[]).await), 422);
    // What the typed client cannot send: a quantity of 0 and one that would overflow the total
    // (raw HTTP).
    for quantity in [serde_json::json!(0), serde_json::json!(1_000_001), serde_json::json!(i64::MAX)] {
        let response = alice
            .http
            .post(app.url("/api/v1/orders"))
            .json(&serde_json::json!({"items": [{"product_id": tea, "quantity": quantity}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "quantity {quantity}");
    }
    let lines: Vec<serde_json::Value> =
        (1..=51).map(|n| serde_json::json!({"product_id": n, "quantity": 1})).collect();
    let response = alice
        .http
        .post(app.url("/api/v1/orders"))
        .json(&serde_json::json!({"items": lines}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!((stock(&app, tea).await, stock(&app, butter).await), (10, 5));
}

#[tokio::test]
async fn customers_list_their_own_orders_and_staff_list_everyones() {
    let app = TestApp::spawn().await;
    let (tea, butter) = two_products(&app).await;
    let alice = app.user("alice", Role::Customer).await;
    let bob = app.user("bob", Role::Customer).await;
    let manager = app.user("morgan", Role::Manager).await;
    let a1 = place(&alice.client, &[(tea, 1)]).await.unwrap().into_inner();
    let b1 = place(&bob.client, &[(butter, 1)]).await.unwrap().into_inner();
    let a2 = place(&alice.client, &[(tea, 1), (butter, 1)]).await.unwrap().into_inner();
    set_status(&alice.client, a2.id.0.get(), OrderStatus::Cancelled).await.unwrap();

    let ids = |page: storefront_client::types::OrderPage| {
        page.items.iter().map(|o| o.id.0.get()).collect::<Vec<_>>()
    };
    let own = alice.client.order_list().send().await.unwrap().into_inner();
    assert_eq!(own.total, Some(2));
    assert_eq!(ids(own), [a1.id.0.get(), a2.id.0.get()]);
    assert_eq!(ids(bob.client.order_list().send().await.unwrap().into_inner()), [b1.id.0.get()]);
    for staff in [&manager.client, &app.client] {
        let all = staff.order_list().send().await.unwrap().into_inner();
        assert_eq!(all.total, Some(3));
    }
    // Filtered by state.
    let cancelled = app.client.order_list().status(OrderStatus::Cancelled).send().await.unwrap().into_inner();
    assert_eq!(ids(cancelled), [a2.id.0.get()]);
    let pending = alice.client.order_list().status(OrderStatus::Pending).send().await.unwrap().into_inner();
    assert_eq!(ids(pending), [a1.id.0.get()]);

    // Paginated like products: offset with total, cursors, Link, ETag and 304.
    let first = app.client.order_list().limit(id(2)).send().await.unwrap();
    assert!(first.headers()["link"].to_str().unwrap().contains("rel=\"next\""));
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let first = first.into_inner();
    assert_eq!(first.items.len(), 2);
    let next = first.next_cursor.clone().expect("a next page");
    let second =
        app.client.order_list().limit(id(2)).cursor(next.to_string()).send().await.unwrap().into_inner();
    assert_eq!(ids(second), [a2.id.0.get()]);
    let offset = app.client.order_list().limit(id(2)).offset(2).send().await.unwrap().into_inner();
    assert_eq!(offset.total, Some(3));
    assert_eq!(ids(offset), [a2.id.0.get()]);
    assert_eq!(status_of(app.client.order_list().limit(id(2)).if_none_match(etag).send().await), 304);
    // A cursor is only valid for the filter it was issued for.
    assert_eq!(
        status_of(
            app.client
                .order_list()
                .limit(id(2))
                .status(OrderStatus::Paid)
                .cursor(next.to_string())
                .send()
                .await
        ),
        422
    );
}

#[tokio::test]
async fn another_customers_order_is_404_exactly_like_a_missing_one() {
    let app = TestApp::spawn().await;
    let (tea, _) = two_products(&app).await;
    let alice = app.user("alice", Role::Customer).await;
    let bob = app.user("bob", Role::Customer).await;
    let order = place(&alice.client, &[(tea, 2)]).await.unwrap().into_inner();
    let theirs = problem_of(bob.client.order_get().id(order.id.0).send().await);
    let missing = problem_of(bob.client.order_get().id(id(999_999)).send().await);
    assert_eq!((theirs.status, &theirs.detail, &theirs.type_), (404, &missing.detail, &missing.type_));
    let cancel = problem_of(set_status(&bob.client, order.id.0.get(), OrderStatus::Cancelled).await);
    assert_eq!((cancel.status, &cancel.detail), (404, &missing.detail));
    assert_eq!(stock(&app, tea).await, 8, "bob's attempt changed nothing");

    // The owner and staff read it, with an ETag that answers 304.
    let mine = alice.client.order_get().id(order.id.0).send().await.unwrap();
    assert_eq!(mine.headers()["cache-control"], "private, no-cache");
    let etag = mine.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(status_of(alice.client.order_get().id(order.id.0).if_none_match(etag).send().await), 304);
    app.client.order_get().id(order.id.0).send().await.unwrap();
}

#[tokio::test]
async fn staff_move_orders_along_the_state_machine_and_illegal_moves_are_409() {
    let app = TestApp::spawn().await;
    let (tea, _) = two_products(&app).await;
    let alice = app.user("alice", Role::Customer).await;
    let manager = app.user("morgan", Role::Manager).await;
    let order = place(&alice.client, &[(tea, 2)]).await.unwrap().into_inner();
    let order_id = order.id.0.get();

    let skip = problem_of(set_status(&manager.client, order_id, OrderStatus::Shipped).await);
    assert_eq!(skip.status, 409, "pending → shipped: {skip:?}");
    assert_eq!(status_of(set_status(&manager.client, order_id, OrderStatus::Pending).await), 409);
    let paid = set_status(&manager.client, order_id, OrderStatus::Paid).await.unwrap();
    let etag = paid.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(paid.into_inner().status, OrderStatus::Paid);
    // A stale If-Match: 412, and nothing changes.
    let stale = app
        .client
        .order_update()
        .id(id(order_id))
        .if_match("\"1-0\"")
        .body_map(|b| b.status(OrderStatus::Shipped))
        .send()
        .await;
    assert_eq!(status_of(stale), 412);
    let shipped = app
        .client
        .order_update()
        .id(id(order_id))
        .if_match(etag)
        .body_map(|b| b.status(OrderStatus::Shipped))
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shipped.status, OrderStatus::Shipped);
    for next in [OrderStatus::Cancelled, OrderStatus::Paid, OrderStatus::Pending] {
        assert_eq!(status_of(set_status(&app.client, order_id, next).await), 409, "shipped → {next:?}");
    }
    assert_eq!(stock(&app, tea).await, 8, "a shipped order keeps its stock taken");
}

#[tokio::test]
async fn a_customer_cancels_their_own_pending_order_once_and_may_do_nothing_else() {
    let app = TestApp::spawn().await;
    let (tea, butter) = two_products(&app).await;
    let alice = app.user("alice", Role::Customer).await;
    let order = place(&alice.client, &[(tea, 4), (butter, 5)]).await.unwrap().into_inner();
    let order_id = order.id.0.get();
    assert_eq!((stock(&app, tea).await, stock(&app, butter).await), (6, 0));

    // Paying, shipping: staff only.
    let pay = problem_of(set_status(&alice.client, order_id, OrderStatus::Paid).await);
    assert_eq!(pay.status, 403, "{pay:?}");
    let cancelled = set_status(&alice.client, order_id, OrderStatus::Cancelled).await.unwrap().into_inner();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!((stock(&app, tea).await, stock(&app, butter).await), (10, 5));
    // Cancelling again is an illegal move, and gives nothing back a second time.
    assert_eq!(status_of(set_status(&alice.client, order_id, OrderStatus::Cancelled).await), 409);
    assert_eq!(status_of(set_status(&app.client, order_id, OrderStatus::Cancelled).await), 409);
    assert_eq!((stock(&app, tea).await, stock(&app, butter).await), (10, 5));

    // Once paid, only staff may cancel it (and the stock comes back then).
    let second = place(&alice.client, &[(tea, 1)]).await.unwrap().into_inner().id.0.get();
    set_status(&app.client, second, OrderStatus::Paid).await.unwrap();
    assert_eq!(status_of(set_status(&alice.client, second, OrderStatus::Cancelled).await), 403);
    assert_eq!(stock(&app, tea).await, 9);
    set_status(&app.client, second, OrderStatus::Cancelled).await.unwrap();
    assert_eq!(stock(&app, tea).await, 10);
}

#[tokio::test]
async fn two_orders_for_the_last_unit_one_gets_it_and_the_other_409() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Rare").await;
    let alice = app.user("alice", Role::Customer).await;
    let bob = app.user("bob", Role::Customer).await;
    // Several rounds: each fires both orders together.
    for round in 0..5 {
        let last =
            create_product(&app, category.id.0.get(), &format!("Last one {round}"), "9.99", 1, &[]).await;
        let last = last.id.0.get();
        let line = [(last, 1)];
        let (a, b) = tokio::join!(place(&alice.client, &line), place(&bob.client, &line));
        let mut statuses = [
            a.as_ref().map(|r| r.status().as_u16()).unwrap_or_else(|e| e.status().unwrap().as_u16()),
            b.as_ref().map(|r| r.status().as_u16()).unwrap_or_else(|e| e.status().unwrap().as_u16()),
        ];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}: {a:?} {b:?}");
        assert_eq!(stock(&app, last).await, 0);
    }
    let placed = app.client.order_list().send().await.unwrap().into_inner();
    assert_eq!(placed.total, Some(5));
}
