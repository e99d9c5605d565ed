//! Customers: what staff manage through API v1 and v2 (the spec's `x-roles` admits admins and
//! managers before these run; there is no object-level rule beyond that). Names and cities are
//! checked like every name; emails and phones must be unique, which the store's unique indexes
//! keep (409 naming the field).

use crate::app::{Actor, App};
use crate::domain::*;
use crate::error::Error;
use crate::names;
use crate::photos::StoredPhoto;

use bytes::Bytes;
use subtle::ConstantTimeEq;

impl App {
    /// A page of customers in id order.
    pub async fn customer_list(
        &self,
        _actor: &Actor,
        filter: &CustomerFilter,
        start: Start<Id>,
        limit: i64,
    ) -> Result<Page<Customer>, Error> {
        self.store().customers(filter, start, limit).await
    }

    pub async fn customer_get(&self, _actor: &Actor, id: Id) -> Result<Customer, Error> {
        self.store().customer(id).await
    }

    /// Creates a customer, with a photo when one is given; `city_field` names the city in errors
    /// (`city` in v1, `location` in v2). The photo is checked and stored first, then the row
    /// written; when the row is refused (a taken email…) the stored photo is removed again, so a
    /// failed create leaves nothing behind.
    pub async fn customer_create(
        &self,
        _actor: &Actor,
        new: &NewCustomer,
        city_field: &str,
        photo: Option<Bytes>,
    ) -> Result<Customer, Error> {
        let new = NewCustomer {
            name: names::checked("name", &new.name)?,
            city: names::checked(city_field, &new.city)?,
            email: new.email.trim().to_string(),
            phone: new.phone.as_deref().map(|p| p.trim().to_string()),
        };
        let key = match photo {
            Some(bytes) => Some(self.photos().put(bytes).await?),
            None => None,
        };
        let created = self.store().customer_create(&new, key.as_deref()).await;
        if let (Err(_), Some(key)) = (&created, &key) {
            // The row is the truth; an object left behind by a failed removal only costs space.
            let _ = self.photos().delete(key).await;
        }
        created
    }

    /// Changes the fields `changes` sets (every field of its version for a replacement).
    pub async fn customer_update(
        &self,
        _actor: &Actor,
        id: Id,
        changes: &CustomerChanges,
        city_field: &str,
        precondition: Precondition<'_>,
    ) -> Result<Customer, Error> {
        let changes = CustomerChanges {
            name: changes.name.as_deref().map(|n| names::checked("name", n)).transpose()?,
            city: changes.city.as_deref().map(|c| names::checked(city_field, c)).transpose()?,
            email: changes.email.as_deref().map(|e| e.trim().to_string()),
            phone: changes.phone.as_deref().map(|p| p.trim().to_string()),
        };
        self.store().customer_update(id, &changes, &matching(precondition)).await
    }

    /// Deletes a customer; the row as it was (its `photo_key` names the photo to delete).
    pub async fn customer_delete(
        &self,
        _actor: &Actor,
        id: Id,
        precondition: Precondition<'_>,
    ) -> Result<Customer, Error> {
        let deleted = self.store().customer_delete(id, &matching(precondition)).await?;
        if let Some(key) = &deleted.photo_key {
            // The row is gone: a photo that cannot be removed now is only an orphaned object.
            let _ = self.photos().delete(key).await;
        }
        Ok(deleted)
    }

    /// The customer's photo; 404 when the customer or the photo does not exist.
    pub async fn customer_photo_get(&self, _actor: &Actor, id: Id) -> Result<StoredPhoto, Error> {
        let customer = self.store().customer(id).await?;
        let key = customer.photo_key.ok_or(Error::NotFound("photo"))?;
        self.photos().get(&key).await?.ok_or(Error::NotFound("photo"))
    }

    /// The customer's photo by its link (`photo_url`), for anybody holding it: `key` must be
    /// the photo's current key. A missing customer, a customer without a photo and another key
    /// are one answer, 404 (nothing tells a caller without credentials which ids exist).
    pub async fn customer_photo_view(&self, id: Id, key: &str) -> Result<StoredPhoto, Error> {
        let customer = match self.store().customer(id).await {
            Ok(customer) => customer,
            Err(Error::NotFound(_)) => return Err(Error::NotFound("photo")),
            Err(e) => return Err(e),
        };
        let current = customer.photo_key.ok_or(Error::NotFound("photo"))?;
        if !bool::from(current.as_bytes().ct_eq(key.as_bytes())) {
            return Err(Error::NotFound("photo"));
        }
        self.photos().get(&current).await?.ok_or(Error::NotFound("photo"))
    }

    /// Sets the customer's photo: checked and stored under a new key, then the row points at
    /// it, then the photo it replaces is removed. When the row cannot be changed (no such
    /// customer…), the new object is removed again.
    pub async fn customer_photo_put(&self, _actor: &Actor, id: Id, photo: Bytes) -> Result<Customer, Error> {
        let key = self.photos().put(photo).await?;
        match self.store().customer_set_photo(id, Some(&key), &unchecked::<Customer>).await {
            Ok((customer, replaced)) => {
                if let Some(old) = replaced {
                    let _ = self.photos().delete(&old).await;
                }
                Ok(customer)
            }
            Err(e) => {
                let _ = self.photos().delete(&key).await;
                Err(e)
            }
        }
    }

    /// Removes the customer's photo (the row first, then the object); 404 when there is none.
    pub async fn customer_photo_delete(&self, _actor: &Actor, id: Id) -> Result<Customer, Error> {
        let has_photo =
            |c: &Customer| if c.photo_key.is_some() { Ok(()) } else { Err(Error::NotFound("photo")) };
        let (customer, removed) = self.store().customer_set_photo(id, None, &has_photo).await?;
        if let Some(old) = removed {
            let _ = self.photos().delete(&old).await;
        }
        Ok(customer)
    }

    /// Loads the tutorials' demo customers; those that exist (by email) are left alone. The
    /// number added.
    pub async fn seed_demo_customers(&self) -> Result<usize, Error> {
        let mut added = 0;
        for (name, city, email, phone) in DEMO_CUSTOMERS {
            if self.store().customer_by_email(email).await?.is_some() {
                continue;
            }
            let new = NewCustomer {
                name: name.to_string(),
                city: city.to_string(),
                email: email.to_string(),
                phone: Some(phone.to_string()),
            };
            self.store().customer_create(&new, None).await?;
            added += 1;
        }
        Ok(added)
    }
}

/// The tutorials' customers: (name, city, email, phone).
const DEMO_CUSTOMERS: &[(&str, &str, &str, &str)] = &[
    ("Vinod Kumar", "Bangalore", "vinod@example.com", "+91 98450 12345"),
    ("Priya Sharma", "Mumbai", "priya@example.com", "+91 98200 54321"),
    ("Arjun Rao", "Hyderabad", "arjun@example.com", "+91 99890 67890"),
];
