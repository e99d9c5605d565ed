//! The README's example: the most expensive tea first.
//! Run a server (`cargo run --release -- --demo`), then `cargo run -p storefront-client --example list_products`.

use storefront_client::{types::ProductSort, Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::new("http://127.0.0.1:8080");
    let page = client.product_list().tag("tea").sort(ProductSort::Xprice).send().await?;
    for product in &page.items {
        println!("{} costs {}", product.name.as_str(), product.price.as_str());
    }
    Ok(())
}
