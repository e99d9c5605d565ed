//! The README's example: log in, list, create, and read a 422's field errors.
//! Run a server with the demo catalog and an admin (see the Storefront README), then
//! `STOREFRONT_ADMIN_PASSWORD=… cargo run -p storefront-client --example list_products`.

use storefront_client::types::{ProductSort, Stock};
use storefront_client::{Client, Error};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = "http://127.0.0.1:8080";
    let password = std::env::var("STOREFRONT_ADMIN_PASSWORD").unwrap_or_else(|_| "Admin-Pass-1".into());

    // Log in, then send the access token with every request.
    let anonymous = Client::anonymous(base);
    let tokens = anonymous.auth_login().body_map(|b| b.username("admin").password(password)).send().await?;
    let client = Client::with_bearer_token(base, tokens.access_token.clone());

    // A filtered list: tea, the most expensive first.
    let page = client.product_list().tag("tea").sort(ProductSort::PriceDesc).limit(10).send().await?;
    for product in &page.items {
        println!("{} costs {}", product.name.as_str(), product.price.as_str());
    }

    // A create: ids are plain integers; constrained strings are checked before sending.
    let tags = vec!["tea".try_into()?, "premium".try_into()?];
    let created = client
        .product_create()
        .body_map(|b| b.name("Tata Tea Gold").price("560.00").stock(20).category_id(2).tags(Some(tags)))
        .send()
        .await?;
    println!("created product {} at {:?}", created.id, created.headers().get("location"));

    // A 422: the problem names each field that broke the spec.
    let refused =
        client.product_update().id(created.id.clone()).body_map(|b| b.stock(Some(Stock(-1)))).send().await;
    match refused {
        Err(Error::ErrorResponse(problem)) if problem.status() == 422 => {
            for error in &problem.errors {
                println!("{}: {}", error.field, error.message);
            }
        }
        Err(Error::InvalidRequest(reason)) => println!("refused before sending: {reason}"),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
