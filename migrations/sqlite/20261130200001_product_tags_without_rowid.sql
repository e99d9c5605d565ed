-- product_tags without a rowid (sqlite): the table is its primary key's b-tree. A link was
-- written to three b-trees (the rowid table, its primary key's index, the tag index); it is now
-- written to two. An insert into it also leaves last_insert_rowid() alone, which the batch that
-- creates a product relies on to insert the new product's links (store/sql/catalog.rs,
-- `product_create`). PostgreSQL tables have no rowid: nothing to do there.
CREATE TABLE product_tags_without_rowid (
    product_id  INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    tag_id      INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, tag_id)
) WITHOUT ROWID;
INSERT INTO product_tags_without_rowid (product_id, tag_id) SELECT product_id, tag_id FROM product_tags;
DROP TABLE product_tags;
ALTER TABLE product_tags_without_rowid RENAME TO product_tags;
-- "Products with tag X" starts from the tag.
CREATE INDEX product_tags_tag_idx ON product_tags (tag_id, product_id);
