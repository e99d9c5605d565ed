-- Each product's tag names kept in its own row (PostgreSQL), as the JSON array the API shows
-- (alphabetical by case-folded name, spelled as each tag was first created).
--
-- Before this, every product read aggregated its tags from product_tags and tags: one
-- correlated subquery per row, twenty per page. Tags never change once created (no rename,
-- no delete), so the copy changes only when the product's own tags do, in the same transaction
-- that changes product_tags (store/sql/catalog.rs, `retag`). product_tags stays: it serves the
-- `tag` filter.
ALTER TABLE products ADD COLUMN tags json NOT NULL DEFAULT '[]';

UPDATE products p SET tags = (
    SELECT json_agg(t.name ORDER BY t.name_key) FROM product_tags pt JOIN tags t ON t.id = pt.tag_id
    WHERE pt.product_id = p.id
)
WHERE EXISTS (SELECT 1 FROM product_tags pt WHERE pt.product_id = p.id);
