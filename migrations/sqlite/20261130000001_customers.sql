-- Customers (SQLite), served by API v1 (`city`, `phone`) and v2 (`location`, no phone): both
-- read and write these rows. Same conventions as the catalog migration (BIGINT microsecond
-- timestamps, `version` for ETags, keys folded by the application).

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,  -- NFKC + case folding: the `q` search
    city        TEXT    NOT NULL,  -- v1 `city`, v2 `location`
    city_key    TEXT    NOT NULL,  -- NFKC + case folding: the city filter
    email       TEXT    NOT NULL,
    email_key   TEXT    NOT NULL,  -- NFKC + case folding: emails are unique ignoring case
    phone       TEXT,              -- NULL for customers created through v2, which has no phone
    phone_key   TEXT,              -- `+` and digits only: `+91 98450 12345` = `+919845012345`
    photo_key   TEXT,              -- the photo's object name in storage; NULL: no photo
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX customers_email_key ON customers (email_key);
-- NULLs are distinct: any number of customers without a phone.
CREATE UNIQUE INDEX customers_phone_key ON customers (phone_key);
-- The city filter, in id order (the list's order and keyset).
CREATE INDEX customers_city_idx ON customers (city_key, id);
