//! Logs in, lists, creates and reads back through the generated client alone.
//!
//! usage: storefront-consumer BASE_URL USERNAME PASSWORD

use storefront_client::types::ProductSort;
use storefront_client::{Client, Error};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (base, username, password) = match (args.next(), args.next(), args.next()) {
        (Some(base), Some(username), Some(password)) => (base, username, password),
        _ => return Err("usage: storefront-consumer BASE_URL USERNAME PASSWORD".into()),
    };
    let anonymous = Client::anonymous(&base);
    let tokens = anonymous.auth_login().body_map(|b| b.username(username).password(password)).send().await?;
    let client = Client::with_bearer_token(&base, tokens.access_token.clone());

    let me = client.user_get().id("me").send().await?;
    let page = client.product_list().sort(ProductSort::PriceDesc).limit(3).send().await?;
    let name = format!("Consumer check {}", std::process::id());
    let category = client.category_create().body_map(|b| b.name(name.as_str())).send().await?;
    let again = client.category_get().id(category.id.clone()).send().await?;
    assert_eq!(again.name.as_str(), name);

    // The token is replaceable in place: after a refresh, the same client goes on.
    let refreshed = anonymous.auth_refresh().body_map(|b| b.refresh_token(tokens.refresh_token.clone())).send().await?;
    client.credentials().set_bearer(refreshed.access_token.clone());
    client.category_delete().id(category.id.clone()).send().await?;
    match client.category_get().id(category.id.clone()).send().await {
        Err(Error::ErrorResponse(problem)) if problem.status() == 404 => {}
        other => return Err(format!("a deleted category answered {other:?}").into()),
    }
    println!(
        "consumer: logged in as {} ({:?}), read {} products, created and deleted category {}",
        me.username.as_str(),
        me.role,
        page.items.len(),
        category.id
    );
    Ok(())
}
