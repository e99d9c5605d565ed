//! The tutorials' demo catalog, loaded by `storefront seed-demo` (or `serve --demo`).
//!
//! Loading is idempotent: categories and products that already exist (by name, ignoring case)
//! are left alone, so running it twice changes nothing.

use crate::db::products::NewProduct;
use crate::db::{categories, name_key, products, Db};
use crate::error::Error;

/// (category, [(product, description, price in cents, stock, tags)])
type DemoCategory =
    (&'static str, &'static [(&'static str, &'static str, i64, i64, &'static [&'static str])]);

const CATALOG: &[DemoCategory] = &[
    (
        "Electronics",
        &[
            (
                "Mi LED TV",
                "Mi LED TV 4A, 80 cm (32), HD Ready Android smart TV",
                1_249_900,
                25,
                &["television", "smart-tv"],
            ),
            (
                "Samsung Galaxy S23",
                "Samsung Galaxy S23 5G, 8 GB RAM, 128 GB",
                7_499_900,
                40,
                &["smartphone", "5g"],
            ),
        ],
    ),
    (
        "Groceries",
        &[
            ("Amul Butter", "Amul pasteurised butter, 500 g", 28_500, 200, &["dairy"]),
            ("Tata Tea", "Tata Tea Premium, 1 kg", 52_000, 150, &["tea", "beverages"]),
            (
                "Parle-G Biscuits",
                "Parle-G original glucose biscuits, 800 g",
                9_000,
                500,
                &["biscuits", "snacks"],
            ),
            ("Tata Salt", "Tata Salt, vacuum evaporated iodised salt, 1 kg", 2_800, 300, &["essentials"]),
        ],
    ),
];

/// What loading the demo catalog did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub categories: usize,
    pub products: usize,
}

pub async fn seed(db: &Db) -> Result<Seeded, Error> {
    let mut seeded = Seeded::default();
    for (category_name, items) in CATALOG {
        let category = match categories::find_by_name(db, category_name).await? {
            Some(category) => category,
            None => {
                seeded.categories += 1;
                categories::create(db, category_name).await?
            }
        };
        for (name, description, price_cents, stock, tags) in *items {
            if products::exists_named(db, &name_key(name)).await? {
                continue;
            }
            let new = NewProduct {
                name: name.to_string(),
                description: description.to_string(),
                price_cents: *price_cents,
                stock: *stock,
                category_id: category.id,
                tags: tags.iter().map(|t| t.to_string()).collect(),
            };
            products::create(db, &new).await?;
            seeded.products += 1;
        }
    }
    Ok(seeded)
}
