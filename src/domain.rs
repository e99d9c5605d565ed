//! The domain's types: what the application layer works with and the store keeps.
//!
//! They know nothing of HTTP or of any version of the wire format; `crate::http` maps them to the
//! spec's generated types. Money is integer cents, timestamps are microseconds since the epoch
//! (the storage format), ids are the database's positive integers.

use std::fmt;

use crate::error::Error;

/// A row's id.
pub type Id = i64;

/// A stored timestamp (microseconds since the epoch) as a date-time.
pub fn timestamp(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// What a caller may do, from the tutorials' RBAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including accounts and deletes.
    Admin,
    /// Prices and stock, customers and order status.
    Manager,
    /// The catalog, and their own orders.
    Customer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Manager, Role::Customer];

    /// The role's name, as stored and as the spec spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Customer => "customer",
        }
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }

    /// Staff see what others own.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Manager)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == text).ok_or_else(|| format!("{text:?} is not a role"))
    }
}

/// A role as stored; anything else in the database is a server fault.
impl TryFrom<String> for Role {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse().map_err(|_| Error::internal(format!("stored role {text:?} is not a role")))
    }
}

/// The version of a row and when it was created: what an entity tag is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub version: i64,
    pub created_at: i64,
}

/// A condition on the row a write is about to change, checked inside the write's transaction
/// (an `If-Match`, a business rule): the write goes ahead only when it returns `Ok`.
pub type Check<'a, T> = &'a (dyn Fn(&T) -> Result<(), Error> + Send + Sync);

/// A precondition on the current version of a row (`If-Match`), checked inside the write.
pub type Precondition<'a> = &'a (dyn Fn(Version) -> bool + Send + Sync);

/// The precondition that always holds.
pub fn unconditional(_: Version) -> bool {
    true
}

/// A [`Check`] from a precondition: 412 when it fails.
pub fn matching<T: Versioned>(
    precondition: Precondition<'_>,
) -> impl Fn(&T) -> Result<(), Error> + Send + Sync + '_ {
    move |row: &T| if precondition(row.version()) { Ok(()) } else { Err(Error::PreconditionFailed) }
}

/// The check that always passes.
pub fn unchecked<T>(_: &T) -> Result<(), Error> {
    Ok(())
}

/// Rows that carry a version.
pub trait Versioned {
    fn version(&self) -> Version;
}

/// Where a page of a list starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start<K> {
    /// Skip this many rows.
    Offset(i64),
    /// The rows after this key, in list order.
    After(K),
    /// The rows before this key, in list order (a "previous page").
    Before(K),
}

impl<K> Start<K> {
    /// The same start, with the key converted.
    pub fn try_map<L, E>(&self, f: impl FnOnce(&K) -> Result<L, E>) -> Result<Start<L>, E> {
        Ok(match self {
            Start::Offset(offset) => Start::Offset(*offset),
            Start::After(key) => Start::After(f(key)?),
            Start::Before(key) => Start::Before(f(key)?),
        })
    }
}

/// A page of rows, and whether rows exist past either end of it.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The number of matching rows, for offset pages.
    pub total: Option<i64>,
    pub more_after: bool,
    pub more_before: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            more_after: self.more_after,
            more_before: self.more_before,
        }
    }
}

/// A stored category.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Category {
    pub id: Id,
    pub name: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Versioned for Category {
    fn version(&self) -> Version {
        Version { version: self.version, created_at: self.created_at }
    }
}

/// A category with its products (`include=products`).
#[derive(Debug, Clone)]
pub struct CategoryWithProducts {
    pub category: Category,
    pub products: Option<Vec<Product>>,
}

/// A stored tag; tags never change once created.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tag {
    pub id: Id,
    pub name: String,
    pub created_at: i64,
}

impl Versioned for Tag {
    fn version(&self) -> Version {
        Version { version: 1, created_at: self.created_at }
    }
}

/// A stored product, with its tag names in alphabetical order.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: Id,
    pub name: String,
    pub name_key: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
    pub category_id: Id,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Read as one JSON array column (`tag_names!` in the store), so a product is one row.
    pub tags: Vec<String>,
}

/// A product's columns, in the order every query that reads products selects them
/// (`product_columns!` and `product_returning!` in the store).
const PRODUCT_COLUMNS: [&str; 11] = [
    "id",
    "name",
    "name_key",
    "description",
    "price_cents",
    "stock",
    "category_id",
    "version",
    "created_at",
    "updated_at",
    "tags",
];

/// Read by position, not by name: a lookup by name cost about 1,700 instructions a product
/// (sqlx hashes and compares each name). Debug builds (the tests) check that each column is the
/// one its position says; `tags` (one JSON array column) may be left out: no tags.
impl<'r, R> sqlx::FromRow<'r, R> for Product
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    sqlx::types::Json<Vec<String>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        use sqlx::Column as _;
        if cfg!(debug_assertions) {
            for (column, expected) in row.columns().iter().zip(PRODUCT_COLUMNS) {
                assert_eq!(column.name(), expected, "a product query selects its columns out of order");
            }
        }
        Ok(Product {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            name_key: row.try_get(2)?,
            description: row.try_get(3)?,
            price_cents: row.try_get(4)?,
            stock: row.try_get(5)?,
            category_id: row.try_get(6)?,
            version: row.try_get(7)?,
            created_at: row.try_get(8)?,
            updated_at: row.try_get(9)?,
            tags: if row.len() > 10 {
                row.try_get::<sqlx::types::Json<Vec<String>>, _>(10)?.0
            } else {
                Vec::new()
            },
        })
    }
}

impl Versioned for Product {
    fn version(&self) -> Version {
        Version { version: self.version, created_at: self.created_at }
    }
}

/// What a product is made of, as created or replaced.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
    pub category_id: Id,
    pub tags: Vec<String>,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price_cents: Option<i64>,
    pub stock: Option<i64>,
    pub category_id: Option<Id>,
    pub tags: Option<Vec<String>>,
}

impl From<NewProduct> for ProductChanges {
    fn from(new: NewProduct) -> Self {
        ProductChanges {
            name: Some(new.name),
            description: Some(new.description),
            price_cents: Some(new.price_cents),
            stock: Some(new.stock),
            category_id: Some(new.category_id),
            tags: Some(new.tags),
        }
    }
}

/// Product list filters; all that are set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProductFilter {
    pub category_id: Option<Id>,
    /// A tag name, any case.
    pub tag: Option<String>,
    pub min_price_cents: Option<i64>,
    pub max_price_cents: Option<i64>,
    pub in_stock: Option<bool>,
    /// A substring of the name, any case.
    pub q: Option<String>,
}

/// The field a product list is ordered by; `id` breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SortKey {
    Id,
    Name,
    Price,
    CreatedAt,
    UpdatedAt,
}

impl SortKey {
    /// The value of this key in `product`, for the cursor after or before it.
    pub fn value_of(self, product: &Product) -> KeyValue {
        match self {
            SortKey::Id => KeyValue::Int(product.id),
            SortKey::Name => KeyValue::Text(product.name_key.clone()),
            SortKey::Price => KeyValue::Int(product.price_cents),
            SortKey::CreatedAt => KeyValue::Int(product.created_at),
            SortKey::UpdatedAt => KeyValue::Int(product.updated_at),
        }
    }
}

/// An order: a key and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ProductSort {
    pub key: SortKey,
    pub descending: bool,
}

/// The sort-key value of a row, in a keyset cursor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum KeyValue {
    Int(i64),
    Text(String),
}

/// The position of a product in a sorted list: its sort-key value and its id.
pub type ProductKey = (KeyValue, Id);

/// A stored account (without the password hash, which only login reads).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Versioned for User {
    fn version(&self) -> Version {
        Version { version: self.version, created_at: self.created_at }
    }
}

/// What a new account is made of.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub role: Option<Role>,
    pub email: Option<String>,
}

/// The account a write is about to change, and how many admins there are (their rows locked),
/// for the rules that keep at least one admin.
#[derive(Debug)]
pub struct UserWrite<'a> {
    pub user: &'a User,
    pub admins: usize,
}

/// A [`Check`] of an account write, which sees the number of admins too.
pub type UserCheck<'a> = &'a (dyn for<'u> Fn(&UserWrite<'u>) -> Result<(), Error> + Send + Sync);

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// The token was current: it is now used, and the new one continues the family.
    Rotated { user_id: Id, family: String },
    /// Unknown, expired or revoked.
    Invalid,
    /// Already rotated: someone replayed it. The family is now revoked.
    Reused,
}

/// A stored API key (never the secret: only its hash is kept).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKey {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The owner of an active key, as authentication needs them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyOwner {
    pub key_id: Id,
    pub last_used_at: Option<i64>,
    pub user_id: Id,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

/// A customer, as both API versions read and write it (v1 `city` is v2 `location`; v2 has no
/// phone, so customers created through it have none).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Customer {
    pub id: Id,
    pub name: String,
    pub city: String,
    pub email: String,
    pub phone: Option<String>,
    /// The photo's object name in storage, when the customer has a photo.
    pub photo_key: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Versioned for Customer {
    fn version(&self) -> Version {
        Version { version: self.version, created_at: self.created_at }
    }
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] =
        [OrderStatus::Pending, OrderStatus::Paid, OrderStatus::Shipped, OrderStatus::Cancelled];

    /// The state's name, as stored and as the spec spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// The state machine: `pending → paid → shipped`, `pending | paid → cancelled`. Nothing
    /// leaves `shipped` or `cancelled`, and no state moves to itself.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!((self, next), (Pending, Paid) | (Paid, Shipped) | (Pending | Paid, Cancelled))
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state as stored; anything else in the database is a server fault.
impl TryFrom<String> for OrderStatus {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        OrderStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| Error::internal(format!("stored order status {text:?} is not a status")))
    }
}

/// A stored order, with its lines in the order they were placed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Order {
    pub id: Id,
    /// The owner: who placed it.
    pub user_id: Id,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    /// Σ unit price × quantity, exact.
    pub total_cents: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Read by a second query (the store's), for all the orders of a page at once.
    #[sqlx(skip)]
    pub items: Vec<OrderItem>,
}

impl Versioned for Order {
    fn version(&self) -> Version {
        Version { version: self.version, created_at: self.created_at }
    }
}

/// A customer to create.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub name: String,
    pub city: String,
    pub email: String,
    /// None through API v2.
    pub phone: Option<String>,
}

/// The fields of a customer a write changes (`None`: kept).
#[derive(Debug, Clone, Default)]
pub struct CustomerChanges {
    pub name: Option<String>,
    pub city: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl From<NewCustomer> for CustomerChanges {
    /// A replacement: every field (a phone that the new version leaves out is kept).
    fn from(new: NewCustomer) -> Self {
        CustomerChanges {
            name: Some(new.name),
            city: Some(new.city),
            email: Some(new.email),
            phone: new.phone,
        }
    }
}

/// The customer list's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CustomerFilter {
    /// The whole city, ignoring case.
    pub city: Option<String>,
    /// A substring of the name, ignoring case.
    pub q: Option<String>,
}

/// The key that tells two phone numbers apart: the leading `+` and the digits
/// (`+91 98450 12345` and `+919845012345` are one number).
pub fn phone_key(phone: &str) -> String {
    let plus = phone.trim_start().starts_with('+');
    let digits = phone.chars().filter(char::is_ascii_digit);
    if plus {
        std::iter::once('+').chain(digits).collect()
    } else {
        digits.collect()
    }
}

/// A line of a stored order.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderItem {
    pub product_id: Id,
    pub quantity: i64,
    /// The product's price when the order was placed.
    pub unit_price_cents: i64,
}

/// A line of an order being placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: Id,
    pub quantity: i64,
}

/// Order list filters; all that are set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OrderFilter {
    /// Only this owner's orders (a customer's own list).
    pub user_id: Option<Id>,
    pub status: Option<OrderStatus>,
}

/// Case-folds a name for uniqueness, search and ordering.
pub fn name_key(name: &str) -> String {
    crate::names::key(name)
}
