//! The catalog: categories, tags, products, and the tutorials' demo data.
//!
//! Who may change the catalog is the spec's `x-roles` (enforced before these run); there is no
//! object-level rule here. What the catalog itself requires — a category without products
//! before it goes, names unique ignoring case — is kept by the store's constraints.

use crate::app::{Actor, App};
use crate::domain::*;
use crate::error::Error;
use crate::names;

impl App {
    /// A page of categories in id order; with `include_products`, each with its products (one
    /// query for all of them).
    pub async fn category_list(
        &self,
        _actor: &Actor,
        start: Start<Id>,
        limit: i64,
        include_products: bool,
    ) -> Result<Page<CategoryWithProducts>, Error> {
        let page = self.store().categories(start, limit).await?;
        let mut products = if include_products {
            let ids: Vec<Id> = page.items.iter().map(|c| c.id).collect();
            Some(self.store().products_of_categories(&ids).await?)
        } else {
            None
        };
        Ok(page.map(|category| {
            let products = products.as_mut().map(|p| p.remove(&category.id).unwrap_or_default());
            CategoryWithProducts { category, products }
        }))
    }

    pub async fn category_get(&self, _actor: &Actor, id: Id) -> Result<Category, Error> {
        self.store().category(id).await
    }

    pub async fn category_create(&self, _actor: &Actor, name: &str) -> Result<Category, Error> {
        self.store().category_create(&names::checked("name", name)?).await
    }

    /// Renames a category (PUT and PATCH: its name is its only field).
    pub async fn category_rename(
        &self,
        _actor: &Actor,
        id: Id,
        name: &str,
        precondition: Precondition<'_>,
    ) -> Result<Category, Error> {
        self.store().category_rename(id, &names::checked("name", name)?, &matching(precondition)).await
    }

    pub async fn category_delete(
        &self,
        _actor: &Actor,
        id: Id,
        precondition: Precondition<'_>,
    ) -> Result<(), Error> {
        self.store().category_delete(id, &matching(precondition)).await
    }

    pub async fn tag_list(&self, _actor: &Actor, start: Start<Id>, limit: i64) -> Result<Page<Tag>, Error> {
        self.store().tags(start, limit).await
    }

    pub async fn tag_get(&self, _actor: &Actor, id: Id) -> Result<Tag, Error> {
        self.store().tag(id).await
    }

    pub async fn product_list(
        &self,
        _actor: &Actor,
        filter: &ProductFilter,
        sort: ProductSort,
        start: &Start<ProductKey>,
        limit: i64,
    ) -> Result<Page<Product>, Error> {
        self.store().products(filter, sort, start, limit).await
    }

    pub async fn product_get(&self, _actor: &Actor, id: Id) -> Result<Product, Error> {
        self.store().product(id).await
    }

    pub async fn product_create(&self, _actor: &Actor, new: &NewProduct) -> Result<Product, Error> {
        let new = NewProduct {
            name: names::checked("name", &new.name)?,
            tags: tag_names(&new.tags)?,
            ..new.clone()
        };
        self.store().product_create(&new).await
    }

    /// Changes the fields `changes` sets (all of them for a replacement).
    pub async fn product_update(
        &self,
        _actor: &Actor,
        id: Id,
        changes: &ProductChanges,
        precondition: Precondition<'_>,
    ) -> Result<Product, Error> {
        let changes = ProductChanges {
            name: changes.name.as_deref().map(|name| names::checked("name", name)).transpose()?,
            tags: changes.tags.as_deref().map(tag_names).transpose()?,
            ..changes.clone()
        };
        self.store().product_update(id, &changes, &matching(precondition)).await
    }

    pub async fn product_delete(
        &self,
        _actor: &Actor,
        id: Id,
        precondition: Precondition<'_>,
    ) -> Result<(), Error> {
        self.store().product_delete(id, &matching(precondition)).await
    }

    /// Loads the tutorials' demo catalog and customers. Idempotent: categories and products that already
    /// exist (by name, ignoring case) are left alone.
    pub async fn seed_demo(&self) -> Result<Seeded, Error> {
        let mut seeded = Seeded::default();
        for (category_name, items) in DEMO_CATALOG {
            let category = match self.store().category_named(category_name).await? {
                Some(category) => category,
                None => {
                    seeded.categories += 1;
                    self.store().category_create(category_name).await?
                }
            };
            for (name, description, price_cents, stock, tags) in *items {
                if self.store().product_named(name).await? {
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
                self.store().product_create(&new).await?;
                seeded.products += 1;
            }
        }
        seeded.customers = self.seed_demo_customers().await?;
        Ok(seeded)
    }
}

/// Tag names, each checked (`tags.<n>` names the one at fault).
fn tag_names(tags: &[String]) -> Result<Vec<String>, Error> {
    tags.iter().enumerate().map(|(i, tag)| names::checked(&format!("tags.{i}"), tag)).collect()
}

/// What loading the demo catalog did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub categories: usize,
    pub products: usize,
    pub customers: usize,
}

/// (category, [(product, description, price in cents, stock, tags)])
type DemoCategory =
    (&'static str, &'static [(&'static str, &'static str, i64, i64, &'static [&'static str])]);

/// The tutorials' catalog.
const DEMO_CATALOG: &[DemoCategory] = &[
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
