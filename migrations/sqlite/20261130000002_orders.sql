-- Orders (SQLite): who ordered what, at which price, and where the order is in its life.
--
-- Same conventions as the catalog (money in BIGINT cents, timestamps in microseconds, `version`
-- for ETags and If-Match). An order is a business record: it keeps the ids of its owner and of
-- its products without foreign keys, so that deleting an account or a product neither fails
-- nor erases the orders that name it (ids are never reused: AUTOINCREMENT here, identity
-- columns on PostgreSQL, so a kept id never comes to name something else).

CREATE TABLE orders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL,  -- the owner (users.id), who placed it
    -- The state machine (pending → paid → shipped, pending|paid → cancelled) is the
    -- application's; the database keeps the states to the four it knows.
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
    total_cents  INTEGER NOT NULL CHECK (total_cents >= 0),  -- Σ unit price × quantity, exact
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- A customer's own list, and the staff's list filtered by state, both in id order.
CREATE INDEX orders_user_idx   ON orders (user_id, id);
CREATE INDEX orders_status_idx ON orders (status, id);

CREATE TABLE order_items (
    order_id          INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line              INTEGER NOT NULL,  -- position in the order as placed, from 0
    product_id        INTEGER NOT NULL,  -- products.id, kept after the product goes (see above)
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents  INTEGER NOT NULL CHECK (unit_price_cents > 0),  -- the price when placed
    PRIMARY KEY (order_id, line)
);
-- One line per product in an order (the API refuses a repeated product with 422).
CREATE UNIQUE INDEX order_items_product_idx ON order_items (order_id, product_id);
