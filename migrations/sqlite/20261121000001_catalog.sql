-- The catalog: categories, products and tags (SQLite).
--
-- Conventions shared with migrations/postgres (one query set serves both back-ends):
-- * timestamps are BIGINT microseconds since the Unix epoch, UTC: exact, sortable, portable;
-- * money is BIGINT cents: exact, never a float;
-- * `version` counts writes to a row; with `created_at` it makes the ETag, and a write checks
--   it to honour If-Match;
-- * `name_key` is the name case-folded by the application (Unicode-aware, unlike SQLite's
--   ASCII-only lower()): uniqueness, search and name ordering use it.

CREATE TABLE categories (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX categories_name_key ON categories (name_key);

CREATE TABLE products (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    price_cents  INTEGER NOT NULL CHECK (price_cents > 0),
    stock        INTEGER NOT NULL CHECK (stock >= 0),
    -- A category with products cannot be deleted (the API answers 409). NO ACTION, not
    -- RESTRICT: SQLite reports RESTRICT as a trigger failure, NO ACTION as a foreign-key one.
    category_id  INTEGER NOT NULL REFERENCES categories (id),
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- One index per sort key of the product list, each ending in id (the keyset tie-breaker).
CREATE INDEX products_category_idx ON products (category_id, id);
CREATE INDEX products_name_idx     ON products (name_key, id);
CREATE INDEX products_price_idx    ON products (price_cents, id);
CREATE INDEX products_created_idx  ON products (created_at, id);
CREATE INDEX products_updated_idx  ON products (updated_at, id);

CREATE TABLE tags (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX tags_name_key ON tags (name_key);

CREATE TABLE product_tags (
    product_id  INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    tag_id      INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, tag_id)
);
-- "Products with tag X" starts from the tag.
CREATE INDEX product_tags_tag_idx ON product_tags (tag_id, product_id);
